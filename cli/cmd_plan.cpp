// `rwkv-oracle plan`: the op plan of one step, one line per op.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/plan/op_plan.h"

namespace rwkv::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "print the op plan of one forward step (web-rwkv dispatch order)");
  static std::string config = "tiny";
  static int64_t tokens = 1;
  cmd->add_option("--config", config, "model config: tiny, 0.1b, 0.4b, 1.5b, 2.9b, 7b")->capture_default_str();
  cmd->add_option("--tokens", tokens, "tokens T in the step")->check(CLI::Range(int64_t(1), int64_t(65536)))
      ->capture_default_str();
  cmd->callback([] {
    const plan::Plan p = plan::build_plan(plan::preset(config), tokens);
    const plan::ModelConfig& c = p.config;
    fmt::print("# config {}: L={} C={} N={} V={} F={} ranks w={} a={} v={} g={}; T={}\n", c.name, c.L, c.C, c.N,
               c.V, c.F, c.Dw, c.Da, c.Dv, c.Dg, p.T);
    for (size_t i = 0; i < p.ops.size(); ++i) fmt::print("{:5} {}\n", i, plan::describe(p.ops[i]));
    fmt::print("# {} ops, {} GPU dispatches (the host gather is not one)\n", p.ops.size(), p.dispatch_count());
  });
}

}  // namespace rwkv::cli
