// The rwkv-oracle command as a user meets it: listings, exit codes and error
// messages for bad usage. Runs the built binary (path from CMake).
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "reference/kernel_catalog.h"
#include "tests/support/run_cli.h"

namespace {

using rwkv::test::CliResult;
using rwkv::test::run_oracle;

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Cli, KernelsListsEveryCatalogVariantWithItsOrder) {
  const CliResult r = run_oracle("kernels");
  ASSERT_EQ(r.status, 0) << r.output;
  // A header line, one line per variant, a summary line.
  EXPECT_EQ(count_lines(r.output), rwkv::kernel_catalog().size() + 2) << r.output;
  for (const auto& k : rwkv::kernel_catalog()) EXPECT_NE(r.output.find(k.order), std::string::npos) << k.name;
}

TEST(Cli, DigestIsTheSameAtScalarOnOneThreadAndDefault) {
  const CliResult a = run_oracle("--simd scalar --threads 1 digest");
  const CliResult b = run_oracle("digest");
  ASSERT_EQ(a.status, 0) << a.output;
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_EQ(count_lines(a.output), rwkv::kernel_catalog().size());
  EXPECT_EQ(a.output, b.output);
}

TEST(Cli, UnknownSimdLevelIsBadUsageWithTheAcceptedValues) {
  const CliResult r = run_oracle("--simd sse9 kernels");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown SIMD level 'sse9'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scalar, sse4.2, avx2, avx512"), std::string::npos) << r.output;
}

TEST(Cli, MissingOrUnknownSubcommandIsBadUsage) {
  EXPECT_EQ(run_oracle("").status, 2);
  EXPECT_EQ(run_oracle("no-such-command").status, 2);
}

TEST(Cli, ZeroThreadsIsBadUsage) {
  const CliResult r = run_oracle("--threads 0 kernels");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
}

}  // namespace

namespace {

TEST(CliPlan, PrintsOneLinePerOpWithTheDispatchCount) {
  const CliResult r = run_oracle("plan --config 0.4b");
  ASSERT_EQ(r.status, 0) << r.output;
  // A header, 44L + 2 ops (L = 24, the host gather included), a summary.
  EXPECT_EQ(count_lines(r.output), size_t(44 * 24 + 2 + 2));
  EXPECT_NE(r.output.find("1057 GPU dispatches"), std::string::npos) << r.output.substr(r.output.size() - 200);
  EXPECT_NE(r.output.find("blocks.3.att.token_shift_r token_shift att_x -> att_rx"), std::string::npos);
}

TEST(CliPlan, TokensAndUnknownConfig) {
  const CliResult t = run_oracle("plan --config tiny --tokens 4");
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_NE(t.output.find("T=4"), std::string::npos) << t.output.substr(0, 200);
  const CliResult bad = run_oracle("plan --config 13b");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("unknown model config '13b'"), std::string::npos) << bad.output;
}

}  // namespace

namespace {

class CliVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("rwkv_cli_vectors_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string out(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(CliVectors, WritesTheMatchingVariantsAndSaysWhat) {
  const CliResult r = run_oracle("vectors --kernel '^(layer_norm|dequantize\\.nf4)$' --max-cases 1 --out " + out("v.h5"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("layer_norm"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dequantize.nf4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 variants, 2 cases"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out("v.h5")));
}

TEST_F(CliVectors, ARegexMatchingNothingIsBadUsage) {
  const CliResult r = run_oracle("vectors --kernel 'no_such_kernel' --out " + out("v.h5"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--kernel 'no_such_kernel' matches no kernel variant"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out("v.h5")));
}

TEST_F(CliVectors, AnInvalidRegexIsBadUsage) {
  const CliResult r = run_oracle("vectors --kernel '(' --out " + out("v.h5"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("is not a valid regular expression"), std::string::npos) << r.output;
}

TEST_F(CliVectors, AnExistingOutputIsKeptUnlessForced) {
  {
    std::ofstream f(out("v.h5"));
    f << "mine";
  }
  const CliResult r = run_oracle("vectors --kernel '^l2_norm$' --out " + out("v.h5"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("already exists (use --force to overwrite)"), std::string::npos) << r.output;
  std::ifstream f(out("v.h5"));
  std::string kept((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "mine");
  const CliResult forced = run_oracle("vectors --kernel '^l2_norm$' --force --out " + out("v.h5"));
  EXPECT_EQ(forced.status, 0) << forced.output;
  EXPECT_GT(std::filesystem::file_size(out("v.h5")), 4u);
}

TEST_F(CliVectors, OutIsRequired) {
  const CliResult r = run_oracle("vectors --kernel layer_norm");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
}

}  // namespace
