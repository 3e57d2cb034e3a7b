// SHA-256 against the FIPS 180-4 / NIST example vectors, fed whole and in
// awkward pieces (the streaming path must not depend on how input is split).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "reference/util/sha256.h"

namespace rwkv {
namespace {

// Runs every case with the portable code and, where the CPU has them, with
// the SHA instructions.
class Sha256Paths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    saved_ = sha256_uses_sha_ni();
    if (sha256_set_sha_ni(GetParam()) != GetParam()) GTEST_SKIP() << "this CPU has no SHA instructions";
  }
  void TearDown() override { sha256_set_sha_ni(saved_); }
  bool saved_ = false;
};

TEST_P(Sha256Paths, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_P(Sha256Paths, PaddingBoundaries) {
  // 55, 56 and 64 bytes straddle the one-block / two-block padding edge.
  EXPECT_EQ(sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_P(Sha256Paths, PiecesGiveTheSameDigest) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += char(i * 7 + 3);
  const std::string whole = sha256_hex(data);
  for (size_t step : {1u, 3u, 63u, 64u, 65u, 999u}) {
    Sha256 h;
    for (size_t at = 0; at < data.size(); at += step) h.update(std::string_view(data).substr(at, step));
    EXPECT_EQ(h.finish_hex(), whole) << "piece size " << step;
  }
}

TEST_P(Sha256Paths, FileMatchesString) {
  // One file per instance: ctest runs the two paths' cases in parallel.
  const std::string path = ::testing::TempDir() + "sha256_test_file_" + (GetParam() ? "ni" : "portable") + "_" +
                           std::to_string(::getpid()) + ".bin";
  const std::string data(3 << 20 | 17, 'q');  // more than one 1 MiB read
  { std::ofstream(path, std::ios::binary) << data; }
  EXPECT_EQ(sha256_file_hex(path), sha256_hex(data));
  std::remove(path.c_str());
  EXPECT_THROW(sha256_file_hex(path), std::runtime_error);
}

// A long random-ish input hashes the same on both paths.
TEST(Sha256, BothPathsAgreeOnLongInput) {
  std::string data(5 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : data) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    c = char(x);
  }
  const bool saved = sha256_uses_sha_ni();
  sha256_set_sha_ni(false);
  const std::string portable = sha256_hex(data);
  if (!sha256_set_sha_ni(true)) GTEST_SKIP() << "this CPU has no SHA instructions";
  EXPECT_EQ(sha256_hex(data), portable);
  sha256_set_sha_ni(saved);
}

INSTANTIATE_TEST_SUITE_P(Paths, Sha256Paths, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "sha_ni" : "portable"); });

}  // namespace
}  // namespace rwkv
