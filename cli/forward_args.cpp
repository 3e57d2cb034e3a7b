#include "cli/forward_args.h"

#include <stdexcept>

#include <fmt/format.h>

#include "cli/token_list.h"
#include "reference/forward/chunking.h"
#include "reference/util/rng.h"

namespace rwkv::cli {

void ForwardArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--model", model, "model file: web-rwkv .st (safetensors) or llama.cpp .gguf")->required();
  cmd->add_option("--tokens", tokens, "token ids, e.g. 1,2,3");
  cmd->add_option("--tokens-file", tokens_file, "file of token ids separated by commas or whitespace");
  cmd->add_option("--random-tokens", random_tokens, "N token ids drawn uniformly below V from --seed")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--seed", seed, "seed of --random-tokens")->capture_default_str();
  cmd->add_option("--chunk", chunk, "prompt chunk: 1 (token by token) or a multiple of 32 (matmul_mat path)")
      ->capture_default_str();
  cmd->add_option("--precision", precision, "activations: f16 (web-rwkv's default) or f32")->capture_default_str();
}

void ForwardArgs::check() const {
  const int sources = !tokens.empty() + !tokens_file.empty() + (random_tokens > 0);
  if (sources != 1)
    throw std::invalid_argument(
        sources == 0 ? "no tokens: give --tokens, --tokens-file or --random-tokens"
                     : "give exactly one of --tokens, --tokens-file and --random-tokens");
  forward::check_chunk_size(chunk);
  if (precision != "f16" && precision != "f32")
    throw std::invalid_argument(fmt::format("--precision '{}': expected f16 or f32", precision));
}

std::vector<uint32_t> ForwardArgs::resolve_tokens(int64_t V) const {
  check();
  std::vector<uint32_t> ids;
  std::string source = "--tokens";
  if (!tokens.empty()) {
    ids = parse_token_list(tokens, "--tokens");
  } else if (!tokens_file.empty()) {
    ids = read_token_file(tokens_file);
    source = tokens_file;
  } else {
    Rng rng(seed);
    ids.resize(size_t(random_tokens));
    for (uint32_t& t : ids) t = uint32_t(rng.next_u64() % uint64_t(V));
  }
  for (size_t i = 0; i < ids.size(); ++i)
    if (int64_t(ids[i]) >= V)
      throw std::invalid_argument(fmt::format("{}: token {} (item {}) is out of the model's vocabulary: expected 0 to {}",
                                              source, ids[i], i, V - 1));
  return ids;
}

forward::ForwardOptions ForwardArgs::forward_options() const {
  forward::ForwardOptions o;
  o.activations = precision == "f32" ? DType::f32 : DType::f16;
  return o;
}

}  // namespace rwkv::cli
