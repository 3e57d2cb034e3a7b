// `rwkv-oracle quantize`: a model (.st or .gguf) to llama.cpp's rwkv7 GGUF
// with its large matrices quantised by our quantisers, which write the bytes
// llama.cpp's quantiser writes. Which tensors are quantised follows
// llama-quantize (reference/model/README.md).
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/rwkv7_weights.h"

namespace rwkv::cli {

namespace {
struct QuantizeArgs {
  std::string in, type, out;
  bool force = false;
};

int usage_error(const std::string& what) {
  fmt::print(stderr, "rwkv-oracle quantize: {}\n", what);
  return 2;
}
}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "quantise a model's large matrices into llama.cpp's rwkv7 GGUF");
  auto* a = new QuantizeArgs;  // lives as long as the app
  cmd->add_option("--in", a->in, "input model: web-rwkv .st or rwkv7 .gguf")->required();
  cmd->add_option("--type", a->type, "q4_k (llama-quantize Q4_K_M), q6_k or q8_0")->required();
  cmd->add_option("--out", a->out, "output .gguf (refused if it exists, unless --force)")->required();
  cmd->add_flag("--force", a->force, "overwrite an existing output file");
  cmd->callback([a] {
    // Every usage problem is found before any work: exit 2 with the reason.
    GgufModelType type;
    try {
      type = parse_gguf_model_type(a->type);
    } catch (const std::invalid_argument& e) {
      exit_code = usage_error(fmt::format("--type: {}", e.what()));
      return;
    }
    if (type == GgufModelType::f16) {
      exit_code = usage_error("--type f16 is not a quantisation (use q4_k, q6_k or q8_0)");
      return;
    }
    if (!std::filesystem::is_regular_file(a->in)) {
      exit_code = usage_error(fmt::format("--in {}: no such file", a->in));
      return;
    }
    std::error_code ec;
    if (std::filesystem::exists(a->out) && std::filesystem::equivalent(a->in, a->out, ec)) {
      exit_code = usage_error(fmt::format("--out {} is the input file; write to another file", a->out));
      return;
    }
    if (!a->force && std::filesystem::exists(a->out)) {
      exit_code = usage_error(fmt::format("{} already exists (use --force to overwrite)", a->out));
      return;
    }
    const Rwkv7Weights w = load_rwkv7(a->in);
    for (const std::string& n : w.notes) fmt::print("note: {}: {}\n", a->in, n);
    GgufExportOptions opt;
    opt.type = type;
    opt.force = a->force;
    opt.name = std::filesystem::path(a->in).stem().string();
    const GgufExportResult r = write_rwkv7_gguf(w, a->out, opt);
    for (const std::string& n : r.notes) fmt::print("note: {}\n", n);
    fmt::print("{}: rwkv7 {} (L={} C={} V={}), {} bytes, from {}\n", a->out, gguf_model_type_name(type), w.config.L,
               w.config.C, w.config.V, r.file_bytes, a->in);
  });
}

}  // namespace rwkv::cli
