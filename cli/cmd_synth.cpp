// `rwkv-oracle synth`: writes a synthetic RWKV-7 with realistic initialisation
// at a preset size (reference/model/synth.h), as web-rwkv's .st or llama.cpp's
// GGUF, for backends to load without downloading weights. Same seed, same
// bytes; the .st and the f16 .gguf of one seed hold the same f16 values.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/model/synth.h"
#include "reference/plan/model_config.h"

namespace rwkv::cli {

namespace {
struct SynthArgs {
  std::string config, format = "st", quant, out;
  uint64_t seed = 20261122;
  bool force = false;
};

int usage_error(const std::string& what) {
  fmt::print(stderr, "rwkv-oracle synth: {}\n", what);
  return 2;
}
}  // namespace

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "write a synthetic RWKV-7 model (realistic init, seeded)");
  auto* a = new SynthArgs;  // lives as long as the app
  cmd->add_option("--config", a->config, "model size: tiny, 0.1b, 0.4b, 1.5b, 2.9b, 7b")->required();
  cmd->add_option("--format", a->format, "output format: st (web-rwkv safetensors) or gguf (llama.cpp rwkv7)");
  cmd->add_option("--quant", a->quant, "gguf only: f16 (default), q4_k (llama-quantize Q4_K_M), q6_k or q8_0");
  cmd->add_option("--seed", a->seed, "seed of every drawn value");
  cmd->add_option("--out", a->out, "output file (refused if it exists, unless --force)")->required();
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] {
    // Every usage problem is found before any work: exit 2 with the reason.
    plan::ModelConfig c;
    try {
      c = plan::preset(a->config);
    } catch (const std::invalid_argument& e) {
      exit_code = usage_error(e.what());
      return;
    }
    if (a->format != "st" && a->format != "gguf") {
      exit_code = usage_error(fmt::format("unknown --format '{}' (supported: st, gguf)", a->format));
      return;
    }
    GgufModelType type = GgufModelType::f16;
    if (!a->quant.empty()) {
      if (a->format == "st" && a->quant != "f16") {
        exit_code = usage_error(fmt::format("--quant {} needs --format gguf (web-rwkv .st files are F16)", a->quant));
        return;
      }
      try {
        type = parse_gguf_model_type(a->quant);
      } catch (const std::invalid_argument& e) {
        exit_code = usage_error(fmt::format("--quant: {}", e.what()));
        return;
      }
    }
    if (!a->force && std::filesystem::exists(a->out)) {
      exit_code = usage_error(fmt::format("{} already exists (use --force to overwrite)", a->out));
      return;
    }
    if (a->format == "st") {
      synth_safetensors(c, a->seed, a->out, a->force);
    } else {
      const GgufExportResult r = synth_gguf(c, a->seed, a->out, type, a->force);
      for (const std::string& n : r.notes) fmt::print("note: {}\n", n);
    }
    fmt::print("{}: synthetic RWKV-7 {} (L={} C={} V={} F={}), seed {}, {}{}\n", a->out, c.name, c.L, c.C, c.V, c.F,
               a->seed, a->format, a->format == "gguf" ? std::string(" ") + gguf_model_type_name(type) : "");
  });
}

}  // namespace rwkv::cli
