#include "backends/harness/tolerance.h"

#include <fnmatch.h>

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace rwkv::harness {

using plan::Kernel;

ToleranceRule default_tolerance(Kernel kernel, DType dtype, Envelope env) {
  const bool f16 = dtype == DType::f16;
  ToleranceRule r;
  if (env == Envelope::global) {
    // Chained: each side is within its global error of the float64 run, and a
    // correct engine's global error is the reference's within a small factor
    // (other orders, same roundings): 2E apart, x2 headroom. Copies carry their
    // input's error like any other op here.
    r.k = 4;
    r.n = f16 ? 1 : 8;
    r.why = "chained: both within their global error of the float64 run";
    return r;
  }
  switch (kernel) {
    case Kernel::embedding:
    case Kernel::blit:
    case Kernel::channel_mix_v7:
      r.k = 0;
      r.n = 0;
      r.why = "a copy: exact";
      return r;
    case Kernel::matmul:
      r.k = 4;
      r.n = f16 ? 1 : 8;
      r.why = "K-term sums in another order: each side within E of the truth, so 2E apart, x2 headroom";
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

ToleranceRule default_state_tolerance(Envelope env) {
  ToleranceRule r;
  if (env == Envelope::global) {
    r.k = 4;
    r.n = 8;
    r.why = "chained f32 state: both within their global error of the float64 run";
    return r;
  }
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
                                    const std::string& backend, Envelope env) const {
  const ToleranceRule d = default_tolerance(kernel, dtype, env);
  OpTolerance t{d.k, d.n, fmt::format("default for {} ({})", plan::kernel_name(kernel), d.why)};
  for (size_t i = 0; i < rules_.size(); ++i) {
    const ToleranceRule& r = rules_[i];
    if (glob(r.op, op_name) && (r.dtype == "*" || r.dtype == dtype_name(dtype)) && glob(r.backend, backend))
      t = OpTolerance{r.k, r.n, fmt::format("policy rule {}{}", i, r.why.empty() ? "" : " (" + r.why + ")")};
  }
  return t;
}

OpTolerance TolerancePolicy::lookup_state(int64_t layer, const std::string& backend, Envelope env) const {
  const ToleranceRule d = default_state_tolerance(env);
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
