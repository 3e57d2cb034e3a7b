// The rwkv-oracle command as a user meets it: listings, exit codes and error
// messages for bad usage. Runs the built binary (path from CMake).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "reference/kernel_catalog.h"

namespace {

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

CliResult run_oracle(const std::string& args) {
  CliResult r;
  const std::string cmd = std::string(RWKV_ORACLE_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

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
