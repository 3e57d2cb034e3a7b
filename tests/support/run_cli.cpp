#include "tests/support/run_cli.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace rwkv::test {
namespace {

CliResult run(const std::string& command) {
  CliResult r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

#ifndef RWKV_ORACLE_CLI
#error "RWKV_ORACLE_CLI must name the built rwkv-oracle"
#endif

CliResult run_command(const std::string& command_line) { return run(command_line + " 2>&1"); }
CliResult run_oracle(const std::string& args) { return run(std::string(RWKV_ORACLE_CLI) + " " + args + " 2>&1"); }
CliResult run_oracle_stdout(const std::string& args) {
  return run(std::string(RWKV_ORACLE_CLI) + " " + args + " 2>/dev/null");
}

}  // namespace rwkv::test
