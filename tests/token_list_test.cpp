#include "cli/token_list.h"

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/expect_error.h"

namespace rwkv::cli {
namespace {

TEST(TokenList, AcceptsCommasAndWhitespace) {
  EXPECT_EQ(parse_token_list("1,2,3", "--tokens"), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(parse_token_list(" 7\n 8,\t9 ,, 4294967295 ", "f"), (std::vector<uint32_t>{7, 8, 9, 4294967295u}));
}

TEST(TokenList, BadItemsNameTheSourceAndPosition) {
  test::expect_error([] { parse_token_list("1,x2,3", "--tokens"); }, "--tokens", "item 1", "'x2'");
  test::expect_error([] { parse_token_list("1,-2", "ids.txt"); }, "ids.txt", "item 1");
  test::expect_error([] { parse_token_list("4294967296", "--tokens"); }, "item 0");
  test::expect_error([] { parse_token_list(" , \n", "--tokens"); }, "--tokens", "empty");
}

TEST(TokenList, ReadsAFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "token_list_test.txt";
  std::ofstream(path) << "10 11\n12\n";
  EXPECT_EQ(read_token_file(path), (std::vector<uint32_t>{10, 11, 12}));
  std::remove(path.c_str());
  test::expect_file_error([&] { read_token_file(path); }, path);
}

}  // namespace
}  // namespace rwkv::cli
