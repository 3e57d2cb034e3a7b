#pragma once
// Runs the built rwkv-oracle command (path RWKV_ORACLE_CLI from CMake) as a
// user would, for the tests of its commands: exit status and output.
#include <string>

namespace rwkv::test {

struct CliResult {
  int status = -1;     // exit status; -1 if it did not exit normally
  std::string output;  // stdout and stderr together (or stdout only, see below)
};

// Any shell command line, stdout and stderr together.
CliResult run_command(const std::string& command_line);
// `args` after the command, through the shell (quote paths yourself).
CliResult run_oracle(const std::string& args);
// Same, with standard error discarded (to check what a pipe sees on stdout).
CliResult run_oracle_stdout(const std::string& args);

}  // namespace rwkv::test
