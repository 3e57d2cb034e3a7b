// `rwkv-oracle synth`: writes a synthetic RWKV-7 with realistic initialisation
// at a preset size (reference/model/synth.h), for backends to load without
// downloading weights. Same seed, same bytes.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/model/synth.h"
#include "reference/plan/model_config.h"

namespace rwkv::cli {

namespace {
struct SynthArgs {
  std::string config, format = "st", out;
  uint64_t seed = 20261122;
  bool force = false;
};
}  // namespace

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "write a synthetic RWKV-7 model (realistic init, seeded)");
  auto* a = new SynthArgs;  // lives as long as the app
  cmd->add_option("--config", a->config, "model size: tiny, 0.1b, 0.4b, 1.5b, 2.9b, 7b")->required();
  cmd->add_option("--format", a->format, "output format: st (web-rwkv safetensors)");
  cmd->add_option("--seed", a->seed, "seed of every drawn value");
  cmd->add_option("--out", a->out, "output file (refused if it exists, unless --force)")->required();
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] {
    // Every usage problem is found before any work: exit 2 with the reason.
    plan::ModelConfig c;
    try {
      c = plan::preset(a->config);
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "rwkv-oracle synth: {}\n", e.what());
      exit_code = 2;
      return;
    }
    if (a->format != "st") {
      fmt::print(stderr, "rwkv-oracle synth: unknown --format '{}' (supported: st)\n", a->format);
      exit_code = 2;
      return;
    }
    if (!a->force && std::filesystem::exists(a->out)) {
      fmt::print(stderr, "rwkv-oracle synth: {} already exists (use --force to overwrite)\n", a->out);
      exit_code = 2;
      return;
    }
    synth_safetensors(c, a->seed, a->out, a->force);
    fmt::print("{}: synthetic RWKV-7 {} (L={} C={} V={} F={}), seed {}\n", a->out, c.name, c.L, c.C, c.V, c.F,
               a->seed);
  });
}

}  // namespace rwkv::cli
