#include "reference/forward/chunking.h"

#include <numeric>

#include <gtest/gtest.h>

#include "tests/support/expect_error.h"

namespace rwkv::forward {
namespace {

TEST(Chunking, CutsToMultiplesOf32ThenOneVecStep) {
  EXPECT_EQ(chunk_lengths(300, 128), (std::vector<int64_t>{128, 128, 32, 12}));
  EXPECT_EQ(chunk_lengths(64, 128), (std::vector<int64_t>{64}));
  EXPECT_EQ(chunk_lengths(31, 128), (std::vector<int64_t>{31}));
  EXPECT_EQ(chunk_lengths(3, 1), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(chunk_lengths(100, 32), (std::vector<int64_t>{32, 32, 32, 4}));
}

TEST(Chunking, LengthsAlwaysSumToTheTokenCount) {
  for (int64_t chunk : {1, 32, 64, 96, 256})
    for (int64_t n = 1; n < 700; n += 13) {
      const auto l = chunk_lengths(n, chunk);
      EXPECT_EQ(std::accumulate(l.begin(), l.end(), int64_t(0)), n);
      for (int64_t len : l) EXPECT_TRUE(len <= chunk || chunk == 1);
    }
}

TEST(Chunking, RejectsSizesThatAreNeitherOneNorAMultipleOf32) {
  for (int64_t bad : {0, -32, 2, 31, 33, 100}) test::expect_error([&] { check_chunk_size(bad); }, "multiple of 32");
  test::expect_error([] { chunk_lengths(0, 32); }, "empty");
}

}  // namespace
}  // namespace rwkv::forward
