#include "backends/harness/tolerance.h"

#include <fnmatch.h>

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace rwkv::harness {

using plan::Kernel;

ToleranceRule default_tolerance(Kernel kernel, DType dtype) {
  const bool f16 = dtype == DType::f16;
  ToleranceRule r;
  switch (kernel) {
    case Kernel::embedding:
    case Kernel::blit:
    case Kernel::channel_mix_v7:
      r.k = 0;
      r.n = 0;
      r.why = "a copy: exact";
      return r;
    case Kernel::matmul:
      // f32: cpu-reordered (8 interleaved fma chains of K/8 terms, libm tanh)
      // measured up to 7.6 E at K = 4096 (conformance, 40 seeds; 3.6 E at K =
      // 768): the reference's tree is more accurate than a long chain.
      r.k = f16 ? 4 : 16;
      r.n = f16 ? 1 : 8;
      r.why = f16 ? "K-term sums in another order: each side within E of the truth, so 2E apart, x2 headroom"
                  : "K-term sums in another order: a long sequential chain measured up to 7.6 E (K = 4096), x2";
      return r;
    case Kernel::layer_norm:
      // f32: cpu-reordered's two-pass mean and variance with sequential f32
      // sums over C measured up to 17 E (C = 4096) and 25 E (rows of variance
      // below eps, where the mean's error is amplified) against the
      // reference's Welford tree (conformance, 40 seeds).
      r.k = f16 ? 4 : 48;
      r.n = f16 ? 1 : 8;
      r.why = f16 ? "a few roundings per element: both sides within E of the truth, x2 headroom"
                  : "sequential sums over C: the mean's error measured up to 25 E (small variance), x2";
      return r;
    case Kernel::softmax:
      // cpu-reordered's sequential sum of V exps (libm exp) has a relative
      // error that grows with V: measured up to 1290 ulps over k = 4 E at
      // V = 65536 (18 at V = 1028; conformance, 40 seeds), against the
      // reference's tree. Every output shares the sum's relative error, so the
      // allowance is in ulps (relative), not in E.
      r.k = 4;
      r.n = f16 ? 1 : 2600;
      r.why = f16 ? "a few roundings per element: both sides within E of the truth, x2 headroom"
                  : "the sum of V exps in another order: up to 1290 ulps measured (V = 65536), x2";
      return r;
    case Kernel::time_mix_v7:
      r.k = 8;
      r.n = f16 ? 1 : 16;
      r.why = "the WKV state carries every earlier token's rounding: errors grow with the tokens seen";
      return r;
    default:
      r.k = 4;
      r.n = f16 ? 1 : 8;
      r.why = "a few roundings per element: both sides within E of the truth, x2 headroom";
      return r;
  }
}

ToleranceRule default_state_tolerance() {
  ToleranceRule r;
  r.k = 8;
  r.n = 16;
  r.why = "f32 state: as time_mix_v7";
  return r;
}

TolerancePolicy::TolerancePolicy() = default;

TolerancePolicy TolerancePolicy::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the tolerance policy file", path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
    throw std::runtime_error(fmt::format("{}: expected an object with an array \"rules\"", path));
  TolerancePolicy p;
  size_t i = 0;
  for (const auto& e : j["rules"]) {
    const std::string where = fmt::format("{}: rule {}", path, i++);
    if (!e.is_object()) throw std::runtime_error(where + ": not an object");
    ToleranceRule r;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& key = it.key();
      if (key == "op" || key == "dtype" || key == "backend" || key == "why") {
        if (!it->is_string()) throw std::runtime_error(fmt::format("{}: field '{}' must be a string", where, key));
        (key == "op" ? r.op : key == "dtype" ? r.dtype : key == "backend" ? r.backend : r.why) =
            it->get<std::string>();
      } else if (key == "k" || key == "n") {
        if (!it->is_number() || it->get<double>() < 0)
          throw std::runtime_error(fmt::format("{}: field '{}' must be a number >= 0", where, key));
        (key == "k" ? r.k : r.n) = it->get<double>();
      } else {
        throw std::runtime_error(
            fmt::format("{}: unknown field '{}' (expected op, dtype, backend, k, n, why)", where, key));
      }
    }
    if (!e.contains("k") || !e.contains("n")) throw std::runtime_error(where + ": needs both 'k' and 'n'");
    if (r.dtype != "*" && r.dtype != "f16" && r.dtype != "f32")
      throw std::runtime_error(fmt::format("{}: dtype '{}': expected f16 or f32", where, r.dtype));
    p.rules_.push_back(r);
  }
  return p;
}

namespace {

bool glob(const std::string& pattern, const std::string& s) { return fnmatch(pattern.c_str(), s.c_str(), 0) == 0; }

}  // namespace

OpTolerance TolerancePolicy::lookup(const std::string& op_name, Kernel kernel, DType dtype,
                                    const std::string& backend) const {
  const ToleranceRule d = default_tolerance(kernel, dtype);
  OpTolerance t{d.k, d.n, fmt::format("default for {} ({})", plan::kernel_name(kernel), d.why)};
  for (size_t i = 0; i < rules_.size(); ++i) {
    const ToleranceRule& r = rules_[i];
    if (glob(r.op, op_name) && (r.dtype == "*" || r.dtype == dtype_name(dtype)) && glob(r.backend, backend))
      t = OpTolerance{r.k, r.n, fmt::format("policy rule {}{}", i, r.why.empty() ? "" : " (" + r.why + ")")};
  }
  return t;
}

OpTolerance TolerancePolicy::lookup_state(int64_t layer, const std::string& backend) const {
  const ToleranceRule d = default_state_tolerance();
  OpTolerance t{d.k, d.n, "default for the state (" + d.why + ")"};
  const std::string name = fmt::format("state.{}", layer);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const ToleranceRule& r = rules_[i];
    if (glob(r.op, name) && (r.dtype == "*" || r.dtype == "f32") && glob(r.backend, backend))
      t = OpTolerance{r.k, r.n, fmt::format("policy rule {}", i)};
  }
  return t;
}

}  // namespace rwkv::harness
