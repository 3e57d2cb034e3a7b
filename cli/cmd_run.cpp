// `rwkv-oracle run`: the reference forward pass over some tokens, optionally
// starting from a saved state and saving the state after the last token (in
// web-rwkv's or the official layout). Prints the top logits of the last token.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/forward_args.h"
#include "cli/progress.h"
#include "reference/forward/chunking.h"
#include "reference/forward/state_file.h"
#include "reference/model/rwkv7_weights.h"

namespace rwkv::cli {

namespace {

struct RunArgs {
  ForwardArgs run;
  std::string state_in, state_out, state_layout = "webrwkv";
  int top = 5;
  bool force = false;
};

void run_forward(const RunArgs& a) {
  a.run.check();
  const forward::StateLayout layout = forward::parse_state_layout(a.state_layout);
  if (!a.state_out.empty() && !a.force && std::filesystem::exists(a.state_out))
    throw std::invalid_argument(fmt::format("{} already exists (use --force to overwrite)", a.state_out));
  const Rwkv7Weights w = load_rwkv7(a.run.model);
  const std::vector<uint32_t> tokens = a.run.resolve_tokens(w.config.V);
  forward::Executor ex(w, a.run.forward_options());
  if (!a.state_in.empty()) ex.import_state(0, forward::read_state_file(a.state_in, w.config));

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int64_t> steps = forward::chunk_lengths(int64_t(tokens.size()), a.run.chunk);
  Progress bar("run", int64_t(tokens.size()), "tokens");
  forward::StepResult last;
  size_t at = 0;
  for (int64_t len : steps) {
    const forward::Chunk c{0, std::span(tokens).subspan(at, size_t(len))};
    last = ex.step(std::span(&c, 1), forward::LogitsFor::last);
    at += size_t(len);
    bar.update(int64_t(at));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.state_out.empty()) write_state_file(a.state_out, ex.export_state(0), layout, a.force);

  const std::span<const float> l = last.row(0);
  std::vector<uint32_t> order(l.size());
  std::iota(order.begin(), order.end(), 0u);
  const size_t k = std::min<size_t>(size_t(std::max(a.top, 0)), order.size());
  std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(k), order.end(),
                    [&](uint32_t x, uint32_t y) { return l[x] > l[y] || (l[x] == l[y] && x < y); });
  fmt::print("{} tokens in {} steps, {:.3f} s ({:.1f} tokens/s), {} activations\n", tokens.size(), steps.size(), secs,
             double(tokens.size()) / secs, dtype_name(ex.options().activations));
  fmt::print("top {} logits after token {} (id {}):", k, tokens.size() - 1, tokens.back());
  for (size_t i = 0; i < k; ++i) fmt::print(" {}:{:.4f}", order[i], l[order[i]]);
  fmt::print("\n");
  if (!a.state_out.empty()) fmt::print("state saved to {} ({} layout)\n", a.state_out, a.state_layout);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "run the reference forward pass; load and save the recurrent state");
  auto* a = new RunArgs;
  a->run.add_to(cmd);
  cmd->add_option("--state-in", a->state_in, "start from this state file (either layout, detected)");
  cmd->add_option("--state-out", a->state_out, "save the state after the last token (refused if it exists)");
  cmd->add_option("--state-layout", a->state_layout, "layout of --state-out: webrwkv or official")
      ->capture_default_str();
  cmd->add_option("--top", a->top, "how many of the last token's largest logits to print")->capture_default_str();
  cmd->add_flag("--force", a->force, "overwrite an existing --state-out");
  cmd->callback([a] { run_forward(*a); });
}

}  // namespace rwkv::cli
