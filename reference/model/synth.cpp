#include "reference/model/synth.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/numeric/f16.h"
#include "reference/util/rng.h"

namespace rwkv {

namespace {

bool is_lora(const std::string& name) {
  const std::string last = name.substr(name.rfind('.') + 1);
  return name.find(".att.") != std::string::npos &&
         (last == "w1" || last == "w2" || last == "a1" || last == "a2" || last == "g1" || last == "g2" ||
          last == "v1" || last == "v2");
}

// Channel curves shared by the per-channel tensors (c = channel index).
struct Curves {
  int64_t C, N;
  double frac(int64_t c) const { return double(c) / double(C); }             // 0 .. (C-1)/C
  double lin(int64_t c) const { return double(c) / double(C - 1) - 0.5; }     // -0.5 .. 0.5
  double zz(int64_t c) const {  // -1 .. 1 within each head, squared with sign
    const double h = (double(N) - 1) / 2;
    const double z = (double(c % N) - h) / h;
    return z * std::abs(z);
  }
};

// The value of element i (in .pth row-major order) of one tensor; it draws
// its noise from `rng`, so calls must come in order.
using Gen = std::function<double(Rng&, int64_t)>;

Gen gauss(double std) {
  return [std](Rng& r, int64_t) { return double(r.normal()) * std; };
}

Gen per_channel(std::function<double(int64_t)> curve, double noise, bool clip01 = false) {
  return [curve = std::move(curve), noise, clip01](Rng& r, int64_t c) {
    const double v = curve(c) + double(r.normal()) * noise;
    return clip01 ? std::clamp(v, 0.0, 1.0) : v;
  };
}

// The generator of each tensor, by name, for layer `l` of `c.L`.
Gen generator(const plan::ModelConfig& c, const std::string& name) {
  const Curves cv{c.C, c.N};
  const double C = double(c.C);
  if (name == "emb.weight") return gauss(0.1);
  if (name == "head.weight") return gauss(3.0 / std::sqrt(C));  // logits std about 3 after ln_out
  if (name.ends_with("ln_x.weight")) {
    const int64_t l = std::stoll(name.substr(7));
    const double base = std::pow(double(l + 1) / double(c.L), 0.7);  // deeper layers louder
    return per_channel([base](int64_t) { return base; }, 0.1);
  }
  if (name.ends_with(".weight") && name.find("ln") != std::string::npos)
    return per_channel([](int64_t) { return 1.0; }, 0.1);
  if (name.ends_with(".bias")) return gauss(0.05);

  const int64_t l = std::stoll(name.substr(7));  // "blocks.<l>."
  const double depth = c.L > 1 ? double(l) / double(c.L - 1) : 0.0;  // 0 first layer .. 1 last
  const double shrink = 1.0 - double(l) / double(c.L);               // 1 first layer .. towards 0
  const std::string last = name.substr(name.rfind('.') + 1);
  const bool ffn = name.find(".ffn.") != std::string::npos;
  if (ffn && last == "x_k")
    return per_channel([=](int64_t i) { return 1.0 - std::pow(cv.frac(i), std::pow(shrink, 4)); }, 0.1, true);
  if (ffn && name.ends_with("key.weight")) return gauss(1.0 / std::sqrt(C));
  if (ffn && name.ends_with("value.weight")) return gauss(0.5 / std::sqrt(double(c.F)));  // smaller: residual
  // Token-shift mixes: RWKV-7's init curves 1 - (i/C)^(p * shrink).
  static const std::pair<const char*, double> mixes[] = {{"x_r", 0.2}, {"x_w", 0.9}, {"x_k", 0.7},
                                                         {"x_v", 0.7}, {"x_a", 0.9}, {"x_g", 0.2}};
  for (const auto& [m, power] : mixes)
    if (last == m) {
      const double p = power;  // a copy: Clang 14 cannot capture a structured binding
      return per_channel([=](int64_t i) { return 1.0 - std::pow(cv.frac(i), p * shrink); }, 0.1, true);
    }
  if (last == "w0")  // decay spread about -8 .. +3, steeper in deeper layers
    return per_channel(
        [=](int64_t i) {
          return -6.0 + 6.0 * std::pow(double(i) / (C - 1), 1.0 + std::pow(depth, 0.3)) + 0.5 + 2.5 * cv.zz(i);
        },
        0.3);
  if (last == "a0") return per_channel([=](int64_t i) { return -0.19 + 0.3 * cv.zz(i) + 0.4 * cv.lin(i); }, 0.2);
  if (last == "v0") return per_channel([=](int64_t i) { return 0.73 - 0.4 * cv.lin(i); }, 0.2);
  if (last == "k_k") return per_channel([=](int64_t i) { return 0.71 - 0.1 * cv.lin(i); }, 0.1);
  if (last == "k_a") return per_channel([](int64_t) { return 1.02; }, 0.2);
  if (last == "r_k") return per_channel([](int64_t) { return -0.04; }, 0.1);
  // LoRA factors and projections: N(0, 1/fan_in); fan_in is the .pth dim 0
  // for w1-like (C, D) factors and the input width otherwise.
  const auto fan_in = [&]() -> double {
    if (last == "w2") return double(c.Dw);
    if (last == "a2") return double(c.Da);
    if (last == "g2") return double(c.Dg);
    if (last == "v2") return double(c.Dv);
    return C;  // w1/a1/g1/v1 and receptance/key/value/output
  };
  if (is_lora(name) || name.ends_with("ance.weight") || name.ends_with("key.weight") ||
      name.ends_with("value.weight") || name.ends_with("output.weight"))
    return gauss(1.0 / std::sqrt(fan_in()));
  throw std::logic_error(fmt::format("synth: no generator for '{}'", name));
}

}  // namespace

std::vector<StEntry> synth_layout(const plan::ModelConfig& c) {
  plan::validate(c);
  const int64_t C = c.C;
  std::vector<StEntry> e;
  auto vec = [&](std::string n) { e.push_back({std::move(n), {C}}); };
  auto mix = [&](std::string n) { e.push_back({std::move(n), {1, 1, C}}); };
  e.push_back({"emb.weight", {c.V, C}});
  vec("blocks.0.ln0.weight");
  vec("blocks.0.ln0.bias");
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string b = fmt::format("blocks.{}.", l), a = b + "att.";
    for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}) vec(b + n);
    for (const char* n : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0"}) mix(a + n);
    e.push_back({a + "r_k", {c.H(), c.N}});
    // Stored shapes: the converter transposes the .pth (C, D) / (D, C).
    e.push_back({a + "w1", {c.Dw, C}});
    e.push_back({a + "w2", {C, c.Dw}});
    e.push_back({a + "a1", {c.Da, C}});
    e.push_back({a + "a2", {C, c.Da}});
    mix(a + "a0");
    e.push_back({a + "g1", {c.Dg, C}});
    e.push_back({a + "g2", {C, c.Dg}});
    e.push_back({a + "v2", {C, c.Dv}});
    e.push_back({a + "v1", {c.Dv, C}});
    for (const char* n : {"v0", "k_k", "k_a"}) mix(a + n);
    for (const char* n : {"receptance", "key", "value", "output"}) e.push_back({a + n + ".weight", {C, C}});
    vec(a + "ln_x.weight");
    vec(a + "ln_x.bias");
    mix(b + "ffn.x_k");
    e.push_back({b + "ffn.key.weight", {c.F, C}});
    e.push_back({b + "ffn.value.weight", {C, c.F}});
  }
  vec("ln_out.weight");
  vec("ln_out.bias");
  e.push_back({"head.weight", {c.V, C}});
  return e;
}

void synth_safetensors(const plan::ModelConfig& c, uint64_t seed, const std::string& path, bool force) {
  const std::vector<StEntry> layout = synth_layout(c);
  SafetensorsWriter out(path, layout, force);
  Rng rng(seed);
  std::vector<uint16_t> bits;
  for (const StEntry& e : layout) {
    const Gen gen = generator(c, e.name);
    const int64_t n = e.numel();
    bits.assign(size_t(n), 0);
    // Per-channel tensors index their curve by channel; the generator gets
    // the flat index, which is the channel for every (C) and (1,1,C) tensor
    // and, for r_k (H, N), the channel h*N + n as well.
    if (is_lora(e.name)) {
      // Drawn in .pth order (rows = stored cols), stored transposed.
      const int64_t rows = e.shape[1], cols = e.shape[0];
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) bits[size_t(j * rows + i)] = f32_to_f16_bits(float(gen(rng, i * cols + j)));
    } else {
      for (int64_t i = 0; i < n; ++i) bits[size_t(i)] = f32_to_f16_bits(float(gen(rng, i)));
    }
    out.write(bits);
  }
  out.finish();
}

GgufExportResult synth_gguf(const plan::ModelConfig& c, uint64_t seed, const std::string& path, GgufModelType type,
                            bool force) {
  if (!force && std::filesystem::exists(path))
    throw std::runtime_error(fmt::format("{}: already exists (use --force to overwrite)", path));
  // Removes the temporary .st however the export ends.
  struct Temp {
    std::string path;
    ~Temp() { std::filesystem::remove(path); }
  } tmp{fmt::format("{}.synth{}.st", path, ::getpid())};
  synth_safetensors(c, seed, tmp.path, true);  // our own temporary name
  const Rwkv7Weights w = load_rwkv7_safetensors(tmp.path);
  GgufExportOptions opt;
  opt.type = type;
  opt.force = force;
  opt.name = fmt::format("rwkv-oracle synthetic {} seed {}", c.name, seed);
  return write_rwkv7_gguf(w, path, opt);
}

}  // namespace rwkv
