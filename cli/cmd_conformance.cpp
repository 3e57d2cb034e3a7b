// `rwkv-oracle conformance`: every kernel kind x shapes x weight formats x
// activation types as one-op plans on a backend against the reference, one
// line per case (backends/harness/conformance.h), like llama.cpp's
// test-backend-ops. Exit 0: every case within tolerance; 1: a case failed;
// 2: bad usage or bad input.
#include <cstdio>

#include <fmt/format.h>

#include "backends/faults.h"
#include "backends/harness/conformance.h"
#include "cli/commands.h"

namespace rwkv::cli {

namespace {

struct ConformanceArgs {
  std::string backend, fault, op, policy;
  uint64_t seed = 1;
  bool list = false, verbose = false;
};

int run_conformance_command(const ConformanceArgs& a) {
  if (a.list) {
    for (const harness::ConformanceCase* c : harness::select_cases(a.op)) fmt::print("{}\n", c->name);
    return 0;
  }
  if (a.backend.empty()) throw std::invalid_argument("conformance needs --backend NAME (or --list)");
  harness::ConformanceOptions o;
  o.backend = a.backend;
  o.fault = a.fault;
  o.seed = a.seed;
  o.op_regex = a.op;
  if (!a.policy.empty()) o.policy = harness::TolerancePolicy::from_file(a.policy);
  o.on_case = [&](const harness::CaseResult& r) {
    fmt::print("{}\n", harness::describe(r, a.verbose));
    std::fflush(stdout);
  };
  const harness::ConformanceSummary s = harness::run_conformance(o);
  std::string by;
  for (const auto& [kernel, n] : s.failed_by_kernel) by += fmt::format("{}{} {}", by.empty() ? "" : ", ", n, kernel);
  fmt::print("conformance: backend {}{}, seed {}: {} case{}, {} OK, {} FAIL{}\n", a.backend,
             a.fault.empty() ? "" : " (fault " + a.fault + ")", a.seed, s.cases, s.cases == 1 ? "" : "s", s.passed,
             s.failed, by.empty() ? "" : " (" + by + ")");
  return s.pass() ? 0 : 1;
}

}  // namespace

void add_conformance_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "conformance", "every kernel x shapes x weight formats x activations as one-op plans, OK or FAIL per case");
  auto* a = new ConformanceArgs;
  cmd->add_option("--backend", a->backend, "the backend under test: reference, cpu-reordered, faulty");
  std::string faults;
  for (const backends::FaultInfo& f : backends::fault_catalog()) faults += (faults.empty() ? "" : ", ") + std::string(f.name);
  cmd->add_option("--fault", a->fault, "the faulty backend's planted bug: " + faults);
  cmd->add_option("--op", a->op, "only the cases whose name matches this regular expression (ECMAScript, searched)");
  cmd->add_option("--seed", a->seed, "seed of every case's inputs (a case's inputs depend only on it and its name)")
      ->capture_default_str();
  cmd->add_option("--policy", a->policy,
                  "tolerance policy file (JSON; backends/harness/tolerance.h); rules match case names, e.g. "
                  "\"matmul(fmt=q4_k*\", and \"<case>.state\" for the state");
  cmd->add_flag("--list", a->list, "print the case names only");
  cmd->add_flag("--verbose", a->verbose, "add max_abs, max_rel, cosine, the ULP histogram, E, k and n to each line");
  cmd->callback([a] { exit_code = run_conformance_command(*a); });
}

}  // namespace rwkv::cli
