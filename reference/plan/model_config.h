#pragma once
// The dimensions of an RWKV-7 model: everything the op plan needs to size its
// tensors. Named presets for the released sizes and the crosscheck model.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv::plan {

struct ModelConfig {
  std::string name;
  int64_t L = 0;  // layers
  int64_t C = 0;  // width
  int64_t N = 64; // head size (H = C / N heads)
  int64_t V = 0;  // vocabulary
  int64_t F = 0;  // FFN width
  int64_t Dw = 0, Da = 0, Dv = 0, Dg = 0;  // LoRA ranks: decay, a (in-context rate), value residual, gate
  int64_t H() const { return C / N; }
};

// The rank formula of the RWKV-7 training code as the brief states it:
// max(32, round(mult * C^e / 32) * 32) with decay/a (e 0.5, mult 1.8), value
// (0.5, 1.3), gate (0.8, 0.6). std::round rounds halves away from zero (no
// preset hits a half). For C = 256 it gives 32/32/32/64, the crosscheck
// model's ranks, although that model was made with a different formula.
int64_t lora_rank(int64_t C, double mult, double exponent);
ModelConfig config_from_formula(std::string name, int64_t L, int64_t C, int64_t V);

// "tiny" (the crosscheck model), "0.1b", "0.4b", "1.5b", "2.9b", "7b".
// Throws std::invalid_argument listing the names for an unknown one.
ModelConfig preset(const std::string& name);
std::vector<std::string> preset_names();

// Throws std::invalid_argument naming the field unless the config is usable
// (positive sizes, C a multiple of N and of 4).
void validate(const ModelConfig& c);

}  // namespace rwkv::plan
