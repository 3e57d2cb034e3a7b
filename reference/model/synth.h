#pragma once
// A synthetic RWKV-7 with a realistic initialisation, for exercising backends
// at every released size without downloading weights. The recipe follows
// /work/shared/crosscheck/README.md ("Values"): per-channel curves that
// imitate the RWKV-7 init plus noise, matrices N(0, 1/fan_in), head scaled so
// logits have a std of about 3.
//
// Determinism: every value comes from one rwkv::Rng(seed) stream, drawn
// tensor by tensor in file order and, within a tensor, in its .pth (BlinkDL)
// row-major order; each value is rounded once to f16. Same seed, same bytes.
// The init curves use std::pow in double: a last-ulp libm difference
// changes a byte only if it straddles an f16 rounding boundary.
#include <cstdint>
#include <string>
#include <vector>

#include "reference/model/rwkv7_gguf.h"
#include "reference/model/safetensors_writer.h"
#include "reference/plan/model_config.h"

namespace rwkv {

// The tensors of a web-rwkv .st file in BlinkDL key order with their stored
// shapes (LoRA factors w1/w2/a1/a2/g1/g2/v1/v2 transposed, spec 7.1).
// Layer 0 carries v0/v1/v2 too, as real checkpoints do.
std::vector<StEntry> synth_layout(const plan::ModelConfig& c);

// Writes the model to `path` (temporary file + rename), one tensor in memory
// at a time. Throws std::runtime_error if `path` exists and !force.
void synth_safetensors(const plan::ModelConfig& c, uint64_t seed, const std::string& path, bool force);

// Writes the same model (the same f16 values for the same seed) as llama.cpp's
// rwkv7 GGUF of `type`: the .st is written to a temporary file beside `path`,
// loaded (memory-mapped), exported with write_rwkv7_gguf and removed, so memory
// holds one piece of one tensor at a time. Throws std::runtime_error if `path`
// exists and !force (before any work).
GgufExportResult synth_gguf(const plan::ModelConfig& c, uint64_t seed, const std::string& path, GgufModelType type,
                            bool force);

}  // namespace rwkv
