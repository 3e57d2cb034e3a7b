// `rwkv-oracle golden`: runs the reference forward pass over the tokens and
// writes every op output of every step, the states and the logits, each with
// the reference's own float64 error, to an HDF5 golden file
// (vectors/SCHEMA.md). Same inputs, same file bytes, on any machine and
// thread count.
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/forward_args.h"
#include "cli/progress.h"
#include "generated/git_commit.h"
#include "reference/forward/chunking.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/util/sha256.h"
#include "vectors/golden_writer.h"

namespace rwkv::cli {

namespace {

struct GoldenArgs {
  ForwardArgs run;
  std::string out, logits = "last", states = "every", envelope = "full", compress = "deflate";
  bool force = false;
};

std::string config_json(const plan::ModelConfig& c) {
  nlohmann::ordered_json j;
  j["n_layer"] = c.L;
  j["n_embd"] = c.C;
  j["head_size"] = c.N;
  j["vocab"] = c.V;
  j["ffn"] = c.F;
  j["lora_rank"] = {{"decay", c.Dw}, {"iclr", c.Da}, {"value", c.Dv}, {"gate", c.Dg}};
  j["rescale"] = 1024;
  return j.dump();
}

void run_golden(const GoldenArgs& a) {
  // Usage first (exit 2 before any work), then the model, then the tokens.
  a.run.check();
  if (a.logits != "last" && a.logits != "all")
    throw std::invalid_argument(fmt::format("--logits '{}': expected last or all", a.logits));
  if (a.envelope != "full" && a.envelope != "local" && a.envelope != "none")
    throw std::invalid_argument(fmt::format("--envelope '{}': expected full, local or none", a.envelope));
  if (a.compress != "deflate" && a.compress != "none")
    throw std::invalid_argument(fmt::format("--compress '{}': expected deflate or none", a.compress));
  if (a.states != "every" && a.states != "last")
    throw std::invalid_argument(fmt::format("--states '{}': expected every or last", a.states));
  if (!a.force && std::filesystem::exists(a.out))
    throw std::invalid_argument(fmt::format("{} already exists (use --force to overwrite)", a.out));
  const Rwkv7Weights w = load_rwkv7(a.run.model);
  const std::vector<uint32_t> tokens = a.run.resolve_tokens(w.config.V);
  const std::vector<int64_t> steps = forward::chunk_lengths(int64_t(tokens.size()), a.run.chunk);

  const auto t0 = std::chrono::steady_clock::now();
  vectors::H5Writer out(a.out, a.force ? vectors::Overwrite::yes : vectors::Overwrite::no,
                        a.compress == "none" ? vectors::Compression::none : vectors::Compression::deflate,
                        vectors::Threading::background);
  vectors::GoldenOptions go;
  go.envelope = a.envelope != "none";
  go.global_envelope = a.envelope == "full";
  go.states_every_step = a.states == "every";
  vectors::GoldenWriter golden(out, go);
  const forward::ForwardOptions fo = a.run.forward_options();
  vectors::Provenance p;
  p.tool_version = "rwkv-oracle " RWKV_ORACLE_VERSION;
  p.git_commit = RWKV_ORACLE_GIT_COMMIT;
  p.model_file = std::filesystem::path(a.run.model).filename().string();
  p.model_sha256 = sha256_file_hex(a.run.model);
  p.config_json = config_json(w.config);
  p.precision = vectors::precision_policy(fo);
  nlohmann::ordered_json opts;
  opts["chunk"] = a.run.chunk;
  opts["logits"] = a.logits;
  opts["batch_slots"] = 1;
  p.options_json = opts.dump();
  if (a.run.seeded()) p.seeds["tokens"] = a.run.seed;
  golden.write_provenance(p);
  golden.write_inputs(tokens);

  forward::Executor ex(w, fo);
  ex.set_observer(&golden);
  const forward::LogitsFor want = a.logits == "all" ? forward::LogitsFor::all : forward::LogitsFor::last;
  Progress bar("golden", int64_t(tokens.size()), "tokens");
  size_t at = 0;
  for (int64_t len : steps) {
    const forward::Chunk chunk{0, std::span(tokens).subspan(at, size_t(len))};
    ex.step(std::span(&chunk, 1), want);
    at += size_t(len);
    bar.update(int64_t(at));
  }
  golden.finish(ex);
  out.close();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: {} tokens in {} steps, {} tensors ({:.1f} MB of data, {:.1f} MB on disk), {:.2f} s\n", a.out,
             tokens.size(), steps.size(), golden.tensors_written(), double(golden.bytes_written()) / 1e6,
             double(std::filesystem::file_size(a.out)) / 1e6, secs);
}

}  // namespace

void add_golden_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("golden", "write every op output of a reference run to an HDF5 golden file");
  auto* a = new GoldenArgs;  // lives as long as the app
  a->run.add_to(cmd);
  cmd->add_option("--out", a->out, "the golden file to write (refused if it exists, unless --force)")->required();
  cmd->add_option("--logits", a->logits, "logits of each step's last token (last, as web-rwkv prefills) or all")
      ->capture_default_str();
  cmd->add_option("--states", a->states, "store the state after every step or after the last only")
      ->capture_default_str();
  cmd->add_option("--envelope", a->envelope,
                  "each tensor's float64 error: full (of the op alone and of the whole run), local (the op alone) "
                  "or none (fastest)")
      ->capture_default_str();
  cmd->add_option("--compress", a->compress,
                  "deflate (level 1, after a byte shuffle) or none: deflate saves ~10% and costs more than the run")
      ->capture_default_str();
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] { run_golden(*a); });
}

}  // namespace rwkv::cli
