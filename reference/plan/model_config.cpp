#include "reference/plan/model_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace rwkv::plan {

int64_t lora_rank(int64_t C, double mult, double exponent) {
  const double r = std::round(mult * std::pow(double(C), exponent) / 32.0) * 32.0;
  return std::max<int64_t>(32, int64_t(r));
}

ModelConfig config_from_formula(std::string name, int64_t L, int64_t C, int64_t V) {
  ModelConfig c;
  c.name = std::move(name);
  c.L = L;
  c.C = C;
  c.N = 64;
  c.V = V;
  c.F = 4 * C;
  c.Dw = lora_rank(C, 1.8, 0.5);
  c.Da = lora_rank(C, 1.8, 0.5);
  c.Dv = lora_rank(C, 1.3, 0.5);
  c.Dg = lora_rank(C, 0.6, 0.8);
  return c;
}

std::vector<std::string> preset_names() { return {"tiny", "0.1b", "0.4b", "1.5b", "2.9b", "7b"}; }

ModelConfig preset(const std::string& name) {
  if (name == "tiny") {
    // ../shared/crosscheck/rwkv7-tiny.st; its ranks are its own (README), kept as written.
    ModelConfig c{"tiny", 2, 256, 64, 1024, 1024, 32, 32, 32, 64};
    return c;
  }
  if (name == "0.1b") return config_from_formula(name, 12, 768, 65536);
  if (name == "0.4b") return config_from_formula(name, 24, 1024, 65536);
  if (name == "1.5b") return config_from_formula(name, 24, 2048, 65536);
  if (name == "2.9b") return config_from_formula(name, 32, 2560, 65536);
  if (name == "7b") return config_from_formula(name, 32, 4096, 65536);
  throw std::invalid_argument(
      fmt::format("unknown model config '{}' (expected one of {})", name, fmt::join(preset_names(), ", ")));
}

void validate(const ModelConfig& c) {
  auto need = [&](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(fmt::format("model config '{}': {}", c.name, what));
  };
  need(c.L >= 1, "L must be >= 1");
  need(c.N > 0 && c.N % 4 == 0, "N must be a positive multiple of 4");
  need(c.C > 0 && c.C % c.N == 0, "C must be a positive multiple of N");
  need(c.V > 0 && c.F > 0 && c.F % 4 == 0, "V and F must be positive, F a multiple of 4");
  need(c.Dw > 0 && c.Da > 0 && c.Dv > 0 && c.Dg > 0, "LoRA ranks must be positive");
}

}  // namespace rwkv::plan
