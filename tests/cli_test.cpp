// The rwkv-oracle command as a user meets it: listings, exit codes and error
// messages for bad usage. Runs the built binary (path from CMake).
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
