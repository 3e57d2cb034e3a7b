#pragma once
// The options every command that runs the forward pass shares (golden, run,
// bench, check): the model file, the tokens (a list, a file, or seeded random
// ids), the prompt's chunk size and the activation precision. Resolving them
// checks everything a user can get wrong before any work starts.
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reference/forward/executor.h"

namespace rwkv::cli {

struct ForwardArgs {
  std::string model;
  std::string tokens, tokens_file;
  int64_t random_tokens = 0;
  uint64_t seed = 20261203;
  int64_t chunk = 128;
  std::string precision = "f16";

  // Adds --model, --tokens, --tokens-file, --random-tokens, --seed, --chunk, --precision.
  void add_to(CLI::App* cmd);
  // Throws std::invalid_argument for bad usage: no token source or more than
  // one, a chunk size that is not allowed, an unknown precision.
  void check() const;
  // The token ids, checked against the vocabulary V (an id >= V names its
  // position and V); throws std::invalid_argument or, for an unreadable
  // tokens file, std::runtime_error.
  std::vector<uint32_t> resolve_tokens(int64_t V) const;
  forward::ForwardOptions forward_options() const;
  // Whether the tokens were drawn from --seed (then it belongs in provenance).
  bool seeded() const { return random_tokens > 0; }
};

}  // namespace rwkv::cli
