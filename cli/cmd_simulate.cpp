// `rwkv-oracle simulate`: simgpu, the simulated GPU execution model
// (simgpu/README.md). Predicts tokens/s of a schedule on a device profile
// from the op plan; --functional runs the plan through the reference kernels
// in the simulated completion order; --sweep varies the sync interval;
// --fit and --report hold the Apple profiles to the published figures.
#include <array>
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/plan/model_config.h"
#include "simgpu/fidelity.h"
#include "simgpu/functional.h"
#include "simgpu/harness_checker.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"
#include "simgpu/sweep.h"
#include "simgpu/trace.h"
#include "simgpu/workload.h"

namespace rwkv::cli {

namespace {

struct SimulateArgs {
  std::string profile = "apple-m2max-wgpu", schedule = "wgpu-only", config = "2.9b", quant = "q4_k";
  std::string head_quant = "fp16", activations = "f16", logits = "all";
  int64_t tokens = 16, chunk = 1;
  bool functional = false;
  std::string functional_config;
  std::string trace, out, report;
  bool sweep = false, list_schedules = false, list_profiles = false, fit = false, force = false, kinds = false, dispatches = false;
};

void print_result(const simgpu::SimResult& r, const SimulateArgs& a) {
  std::string apis;
  for (size_t i = 0; i < 2; ++i)
    if (r.apis[i]) apis += fmt::format("{}{} ({})", apis.empty() ? "" : " + ", r.apis[i]->name, r.apis[i]->role);
  fmt::print("simulate: schedule {} on {}; config {}, quant {} (head {}), {} steps of {} token{}\n", r.schedule, apis,
             a.config, a.quant, a.head_quant, r.steps, a.chunk, a.chunk == 1 ? "" : "s");
  const double per_token_ms = r.total_us / 1e3 / double(r.tokens);
  const std::array<double, 4> s = r.shares();
  fmt::print("  tokens/s              {:.1f}\n", r.tokens_per_second());
  fmt::print("  time per token        {:.3f} ms\n", per_token_ms);
  fmt::print("  dispatches/token      {:.0f}\n", r.dispatches_per_token());
  fmt::print("  syncs/token           {:.0f} (CPU waits {:.0f}, GPU-side event waits {:.0f})\n", r.syncs_per_token(),
             r.per_token(r.counts.cpu_waits), r.per_token(r.counts.event_waits));
  fmt::print("  command buffers/token {:.0f}\n", r.per_token(r.counts.command_buffers));
  fmt::print("  CPU busy              {:.1f}%\n", 100 * r.cpu_busy());
  fmt::print("  GPU busy              {:.1f}%\n", 100 * r.gpu_busy());
  fmt::print("  bound                 {} (bandwidth {:.1f}%, compute {:.1f}%, launch {:.1f}%, sync {:.1f}% of the time)\n",
             r.bound(), 100 * s[0], 100 * s[1], 100 * s[2], 100 * s[3]);
}

int run(const SimulateArgs& a) {
  if (a.list_profiles) {
    for (const std::string& n : simgpu::profile_names()) {
      const simgpu::Profile p = simgpu::find_profile(n);
      fmt::print("{:22} {:8} {:8} {}\n", p.name, p.api, p.role, p.description);
    }
    return 0;
  }
  if (a.list_schedules) {
    for (const std::string& n : simgpu::schedule_names()) {
      const simgpu::Schedule s = simgpu::find_schedule(n);
      fmt::print("{:18} {}\n", s.name, s.description);
    }
    return 0;
  }
  simgpu::WeightFormats formats;
  formats.layer = parse_format(a.quant);
  formats.head = parse_format(a.head_quant);
  if (a.activations != "f16" && a.activations != "f32")
    throw std::invalid_argument(fmt::format("--activations: '{}' is not f16 or f32", a.activations));
  formats.activations = a.activations == "f16" ? DType::f16 : DType::f32;
  const plan::ModelConfig config = plan::preset(a.config);
  if (a.fit) {
    fmt::print("{}", simgpu::fit_report_text(simgpu::fit_apple_profiles(simgpu::apple_priors())));
    return 0;
  }
  if (!a.report.empty()) {
    const simgpu::FitResult fit = simgpu::fit_apple_profiles(simgpu::apple_priors());
    simgpu::write_fidelity_report(fit, a.report, a.force);
    fmt::print("wrote {}\n", a.report);
    return 0;
  }
  if (a.sweep) {
    if (a.out.empty()) throw std::invalid_argument("--sweep needs --out DIR");
    simgpu::SweepOptions so;
    so.config = config;
    so.formats = formats;
    so.steps = a.tokens;
    const simgpu::SweepResult sr = simgpu::run_sweep(so);
    simgpu::write_sweep(sr, a.out, a.force);
    fmt::print("{}", simgpu::sweep_summary(sr));
    fmt::print("wrote {}/sweep.csv and {}/sweep.png\n", a.out, a.out);
    return 0;
  }
  const simgpu::Profile given = simgpu::find_profile(a.profile);
  std::optional<simgpu::Profile> peer;
  if (!given.peer.empty()) peer = simgpu::find_profile(given.peer);
  const simgpu::Schedule schedule = simgpu::find_schedule(a.schedule);
  if (a.logits != "all" && a.logits != "last")
    throw std::invalid_argument(fmt::format("--logits: '{}' is not all or last", a.logits));
  const plan::Plan plan = a.logits == "last" ? plan::build_plan(config, a.chunk, {plan::TokenRun{a.chunk - 1, 1}})
                                             : plan::build_plan(config, a.chunk);
  const simgpu::Workload w = simgpu::plan_workload(plan, formats);
  if (a.kinds) {
    // What the cost model sees of one step, per kernel kind (scripts/cuda_fit_profile.py reads it).
    std::map<std::string, std::array<double, 4>> k;
    for (const simgpu::Dispatch& d : w.dispatches) {
      if (d.host) continue;
      std::array<double, 4>& x = k[d.kind];
      x[0] += 1, x[1] += d.bytes_read + d.bytes_written, x[2] += d.flops, x[3] += d.weight_bytes;
    }
    fmt::print("kind,dispatches,bytes,flops,weight_bytes\n");
    for (const auto& [kind, x] : k) fmt::print("{},{:.0f},{:.0f},{:.0f},{:.0f}\n", kind, x[0], x[1], x[2], x[3]);
    return 0;
  }
  if (a.dispatches) {
    fmt::print("name,kind,workgroups,bytes,flops,weight_bytes\n");
    for (const simgpu::Dispatch& d : w.dispatches)
      if (!d.host)
        fmt::print("{},{},{},{:.0f},{:.0f},{:.0f}\n", d.name, d.kind, d.workgroups(), d.bytes_read + d.bytes_written,
                   d.flops, d.weight_bytes);
    return 0;
  }
  simgpu::SimOptions opt;
  opt.steps = a.tokens;
  opt.record = !a.trace.empty();
  const simgpu::SimResult r = simgpu::simulate(w, schedule, given, peer ? &*peer : nullptr, opt);
  print_result(r, a);
  if (!a.trace.empty()) {
    simgpu::write_chrome_trace(r, simgpu::launched(w, schedule.merge), a.trace, a.force);
    fmt::print("  trace                 {} (Chrome trace events; open in Perfetto)\n", a.trace);
  }
  if (a.functional) {
    simgpu::FunctionalOptions fo;
    fo.config_name = a.functional_config;
    fo.formats = formats;
    fo.steps = std::min<int64_t>(a.tokens, 3);
    // The validation harness judges every op as it completes.
    fo.make_checker = [](const Rwkv7Weights& w, forward::ForwardOptions o) -> std::unique_ptr<simgpu::DescribingChecker> {
      return std::make_unique<simgpu::HarnessChecker>(w, o);
    };
    const simgpu::FunctionalReport fr = simgpu::run_functional(config, schedule, given, peer ? &*peer : nullptr, fo);
    fmt::print("{}", simgpu::describe(fr));
    return fr.passed() ? 0 : 1;
  }
  return 0;
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("simulate", "predict tokens/s of a sync schedule on a simulated GPU (simgpu)");
  auto* a = new SimulateArgs;  // lives as long as the app
  cmd->add_option("--profile", a->profile, "device profile (name under simgpu/profiles, or a .json path)")
      ->capture_default_str();
  cmd->add_option("--schedule", a->schedule, "schedule (name under simgpu/schedules, or a .json path)")
      ->capture_default_str();
  cmd->add_option("--config", a->config, "model config: tiny, 0.1b, 0.4b, 1.5b, 2.9b, 7b")->capture_default_str();
  cmd->add_option("--quant", a->quant, "format of the six large matrices of each layer: fp16, q4_k, q6_k, q8_0, int8, nf4, sf4")
      ->capture_default_str();
  cmd->add_option("--head-quant", a->head_quant, "format of the head matrix (web-rwkv: fp16)")->capture_default_str();
  cmd->add_option("--activations", a->activations, "activation type: f16 (web-rwkv's default) or f32")
      ->capture_default_str();
  cmd->add_option("--tokens", a->tokens, "steps to simulate")->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  cmd->add_option("--chunk", a->chunk, "tokens per step (1 = decode)")->check(CLI::Range(int64_t(1), int64_t(4096)))
      ->capture_default_str();
  cmd->add_option("--logits", a->logits, "tokens of a step whose logits are computed: all, or last (as a chunked prefill)")
      ->capture_default_str();
  cmd->add_flag("--kinds", a->kinds, "print the step's dispatches, bytes, FLOPs and weight bytes per kernel kind (CSV) and exit");
  cmd->add_flag("--dispatches", a->dispatches, "print the step's GPU dispatches (name, kind, workgroups, bytes, FLOPs, weight bytes; CSV) and exit");
  cmd->add_flag("--functional", a->functional,
                "also run the plan through the reference kernels in the simulated completion order and check it");
  cmd->add_option("--functional-config", a->functional_config,
                  "model config of the functional run (default: --config if its synthetic model is small, else tiny)");
  cmd->add_option("--trace", a->trace, "write a Chrome trace-event file of the run (opens in Perfetto)");
  cmd->add_flag("--sweep", a->sweep, "vary the sync interval on every profile; write CSV and a plot into --out");
  cmd->add_option("--out", a->out, "output directory of --sweep");
  cmd->add_flag("--list-schedules", a->list_schedules, "print the schedules");
  cmd->add_flag("--list-profiles", a->list_profiles, "print the device profiles");
  cmd->add_flag("--fit", a->fit, "fit the Apple profiles to the published figures and print the arithmetic");
  cmd->add_option("--report", a->report, "write the fidelity report (Markdown) to this file");
  cmd->add_flag("--force", a->force, "overwrite existing output files");
  cmd->callback([a] {
    try {
      exit_code = run(*a);
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "rwkv-oracle simulate: {}\n", e.what());
      exit_code = 2;
    } catch (const std::runtime_error& e) {
      fmt::print(stderr, "rwkv-oracle simulate: {}\n", e.what());
      exit_code = 2;
    }
  });
}

}  // namespace rwkv::cli
