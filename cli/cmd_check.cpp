// `rwkv-oracle check`: validates a backend against the reference op by op
// (--backend), or an engine's dump against a golden file (--golden,
// --candidate). Exit 0: every tensor within tolerance; 1: a divergence (the
// first one named); 2: bad usage or bad input.
#include <filesystem>

#include <fmt/format.h>

#include "backends/harness/harness.h"
#include "backends/harness/report.h"
#include "cli/commands.h"
#include "cli/forward_args.h"
#include "cli/progress.h"
#include "reference/model/rwkv7_weights.h"

namespace rwkv::cli {

namespace {

struct CheckArgs {
  ForwardArgs run;
  std::string backend, fault, golden, candidate, policy, report, logits = "last";
  bool verbose = false, stop = false, no_chained = false;
};

void print_result(const harness::CheckResult& r, const std::string& what) {
  const harness::CheckRecord* first = r.first_divergence();
  int64_t failing = 0;
  for (const auto& rec : r.records) failing += !rec.pass();
  if (!r.chained.empty()) {
    fmt::print("\nchained run (the candidate running free, as in use): drift from the reference per layer:\n");
    for (const harness::LayerGrowth& g : harness::error_growth(r.chained))
      fmt::print("  {:>10}  max_abs {:9.3g}  max nmse {:9.3g}  (worst |cand - ref| / isolated tolerance {:.3g})\n",
                 g.layer < 0 ? std::string("embed/head") : fmt::format("layer {}", g.layer), g.max_abs, g.max_nmse,
                 g.worst_ratio);
  }
  fmt::print("\nerror along depth (worst |cand - ref| / tolerance per layer; < 1 passes):\n");
  for (const harness::LayerGrowth& g : harness::error_growth(r.records))
    fmt::print("  {:>10}  worst {:9.3g}  max_abs {:9.3g}  max nmse {:9.3g}  {} failing\n",
               g.layer < 0 ? std::string("embed/head") : fmt::format("layer {}", g.layer), g.worst_ratio, g.max_abs,
               g.max_nmse, g.failing);
  if (r.missing) fmt::print("{} golden tensors are not in the candidate file (not compared)\n", r.missing);
  if (!first) {
    fmt::print("{}: all {} tensors within tolerance\n", what, r.records.size());
    return;
  }
  fmt::print("{}: {} of {} tensors beyond tolerance\nfirst divergence: step {}, {}, op {} ({})\n  {}\n", what,
             failing, r.records.size(), first->step,
             first->layer < 0 ? std::string("embedding/head") : fmt::format("layer {}", first->layer), first->op,
             first->kernel, harness::describe(*first));
}

void run_check(const CheckArgs& a) {
  const bool files = !a.golden.empty() || !a.candidate.empty();
  if (files == !a.backend.empty())
    throw std::invalid_argument("give either --backend NAME (with --model and tokens) or --golden and --candidate");
  if (a.logits != "last" && a.logits != "all")
    throw std::invalid_argument(fmt::format("--logits '{}': expected last or all", a.logits));
  harness::CheckOptions o;
  if (!a.policy.empty()) o.policy = harness::TolerancePolicy::from_file(a.policy);
  o.stop_at_first = a.stop;
  o.on_record = [&](const harness::CheckRecord& rec) {
    if (a.verbose || !rec.pass()) fmt::print("{}\n", harness::describe(rec));
  };
  harness::CheckResult result;
  std::string what;
  if (files) {
    if (a.golden.empty() || a.candidate.empty()) throw std::invalid_argument("--golden and --candidate go together");
    o.backend = std::filesystem::path(a.candidate).filename().string();
    result = harness::check_files(a.golden, a.candidate, o);
    what = fmt::format("{} against {}", a.candidate, a.golden);
  } else {
    a.run.check();
    backends::BackendOptions bo;
    bo.forward = a.run.forward_options();
    bo.fault = a.fault;
    auto cand = backends::make_backend(a.backend, bo);  // throws for an unknown name or fault
    auto chained = a.no_chained ? nullptr : backends::make_backend(a.backend, bo);
    const Rwkv7Weights w = load_rwkv7(a.run.model);
    harness::RunSpec run;
    run.tokens = a.run.resolve_tokens(w.config.V);
    run.chunk = a.run.chunk;
    run.logits = a.logits == "all" ? forward::LogitsFor::all : forward::LogitsFor::last;
    o.backend = a.backend;
    result = harness::check_backend(w, *cand, chained.get(), bo, run, o);
    what = fmt::format("backend {}{}", a.backend, a.fault.empty() ? "" : " (fault " + a.fault + ")");
  }
  print_result(result, what);
  if (!a.report.empty()) {
    const std::string page = harness::write_report(result, what, a.report);
    fmt::print("report: {}\n", page);
  }
  exit_code = result.pass() ? 0 : 1;
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "validate a backend, or an engine's dump, against the reference op by op");
  auto* a = new CheckArgs;
  cmd->add_option("--backend", a->backend, "a backend to run side by side with the reference: reference, "
                                           "cpu-reordered, faulty, cuda[:OPTIONS] (backends/cuda/cuda_backend.h)");
  cmd->add_option("--fault", a->fault, "the faulty backend's planted bug (rwkv-oracle check --list-faults)");
  cmd->add_option("--golden", a->golden, "a golden file (rwkv-oracle golden)");
  cmd->add_option("--candidate", a->candidate, "an engine's dump in the golden schema (vectors/SCHEMA.md)");
  cmd->add_option("--model", a->run.model, "model file (with --backend)");
  cmd->add_option("--tokens", a->run.tokens, "token ids, e.g. 1,2,3");
  cmd->add_option("--tokens-file", a->run.tokens_file, "file of token ids");
  cmd->add_option("--random-tokens", a->run.random_tokens, "N seeded random token ids");
  cmd->add_option("--seed", a->run.seed, "seed of --random-tokens")->capture_default_str();
  cmd->add_option("--chunk", a->run.chunk, "prompt chunk: 1 or a multiple of 32")->capture_default_str();
  cmd->add_option("--precision", a->run.precision, "activations f16 or f32")->capture_default_str();
  cmd->add_option("--logits", a->logits, "logits of each step's last token or of all")->capture_default_str();
  cmd->add_option("--policy", a->policy, "tolerance policy file (JSON; backends/harness/tolerance.h)");
  cmd->add_option("--report", a->report, "write a Markdown and an HTML report with plots into this folder");
  cmd->add_flag("--verbose", a->verbose, "print every tensor's line, not only the failing ones");
  cmd->add_flag("--stop-at-first", a->stop, "stop after the first step with a divergence");
  cmd->add_flag("--no-chained", a->no_chained, "skip the second, free-running instance (drift along depth)");
  cmd->callback([a] { run_check(*a); });
}

}  // namespace rwkv::cli
