// `rwkv-oracle run`: a prompt split in two runs joined by a saved state gives
// the logits of the whole prompt in one run, in either state layout; bad
// input is exit 2 and never overwrites a file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/run_cli.h"

namespace rwkv {
namespace {

namespace fs = std::filesystem;
const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

std::string temp(const std::string& tag) {
  return (fs::temp_directory_path() / ("run_cli_test_" + tag + "_" + std::to_string(::getpid()) + ".st")).string();
}

// The "top ... logits" line of the output.
std::string top_line(const std::string& out) {
  const size_t at = out.find("top 5 logits");
  if (at == std::string::npos) return "(none)";
  const size_t colon = out.find(':', at);
  return out.substr(colon, out.find('\n', at) - colon);
}

TEST(RunCli, SavedStateResumesTheRunInBothLayouts) {
  const std::string base = "run --model " + kTiny + " --chunk 1 ";
  const test::CliResult whole = test::run_oracle(base + "--tokens 10,20,30,40,50");
  ASSERT_EQ(whole.status, 0) << whole.output;
  for (const char* layout : {"webrwkv", "official"}) {
    const std::string state = temp(layout);
    fs::remove(state);
    const test::CliResult a =
        test::run_oracle(base + "--tokens 10,20,30 --state-out " + state + " --state-layout " + layout);
    ASSERT_EQ(a.status, 0) << a.output;
    const test::CliResult b = test::run_oracle(base + "--tokens 40,50 --state-in " + state);
    ASSERT_EQ(b.status, 0) << b.output;
    EXPECT_EQ(top_line(b.output), top_line(whole.output)) << layout;
    EXPECT_NE(top_line(a.output), top_line(whole.output));  // not vacuous
    // An existing state file is never overwritten without --force.
    const test::CliResult again = test::run_oracle(base + "--tokens 1 --state-out " + state);
    EXPECT_EQ(again.status, 2);
    EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
    fs::remove(state);
  }
}

TEST(RunCli, BadStateFilesAndOptionsAreExitTwo) {
  const std::string base = "run --model " + kTiny + " --tokens 1 ";
  const std::string junk = temp("junk");
  { std::ofstream(junk) << "not a state"; }
  struct Case {
    std::string args, needle;
  } cases[] = {
      {base + "--state-in " + junk, junk},
      {base + "--state-in /nonexistent/s.st", "/nonexistent/s.st"},
      {base + "--state-out x.st --state-layout torch", "unknown state layout 'torch'"},
  };
  for (const Case& c : cases) {
    const test::CliResult r = test::run_oracle(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
  }
  fs::remove(junk);
}

}  // namespace
}  // namespace rwkv
