// `rwkv-oracle ulp`: the accuracy of each canonical math function against
// float64, over every float32 input in the range the kernels use. The figures
// in reference/numeric/README.md come from this command.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "reference/numeric/ulp_sweep.h"
#include "reference/simd/dispatch.h"

namespace rwkv::cli {
namespace {

struct SweepSpec {
  canon::Func func;
  float lo, hi;
  const char* range;  // as printed
  const char* why;    // which kernel inputs this covers
};

constexpr float kMax = std::numeric_limits<float>::max();

// The ranges: exp is finite and non-zero on [-104, 89] only as far as float
// goes (beyond, canon_exp returns 0 or Inf by construction); tanh rounds to
// +-1 for |x| > ~9, so [-50, 50] holds every interesting input and the second
// tanh row checks that the rest is exactly +-1; sigmoid takes any f16/f32
// activation and is 0 or 1 in float beyond +-104; sqrt and rsqrt see positive
// sums of squares.
const std::vector<SweepSpec>& sweeps() {
  static const std::vector<SweepSpec> all = {
      {canon::Func::exp, -104.0f, 89.0f, "[-104, 89]", "softmax, decay, sigmoid, tanh"},
      {canon::Func::tanh, -50.0f, 50.0f, "[-50, 50]", "activation"},
      {canon::Func::tanh, std::nextafter(50.0f, kMax), kMax, "(50, max]", "saturated: must be 1"},
      {canon::Func::tanh, -kMax, std::nextafter(-50.0f, -kMax), "[-max, -50)", "saturated: must be -1"},
      {canon::Func::sigmoid, -104.0f, 104.0f, "[-104, 104]", "decay, gates, activation"},
      {canon::Func::sqrt, 0.0f, kMax, "[0, max]", "norms"},
      {canon::Func::rsqrt, 0.0f, kMax, "[0, max]", "norms"},
      {canon::Func::squared_relu, -65504.0f, 65504.0f, "[-65504, 65504]", "FFN activation (f16 range)"},
  };
  return all;
}

std::string hexfloat(double x) { return fmt::format("{:a}", x); }

}  // namespace

void add_ulp_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "ulp", "measure each canonical math function's error in ulp against float64 over every float32 input");
  struct Options {
    std::string json, only;
    int64_t stride = 1;
  };
  auto* opt = new Options;
  cmd->add_option("--json", opt->json, "also write the table as JSON to this file");
  cmd->add_option("--func", opt->only, "only this function (exp, tanh, sigmoid, sqrt, rsqrt, squared_relu)");
  cmd->add_option("--stride", opt->stride, "check every Nth float only (quick look; the README figures use 1)")
      ->check(CLI::PositiveNumber);
  cmd->callback([opt] {
    bool known = opt->only.empty();
    for (const SweepSpec& s : sweeps()) known = known || opt->only == canon::func_name(s.func);
    if (!known) {
      fmt::print(stderr, "rwkv-oracle ulp: unknown --func '{}'\n", opt->only);
      exit_code = 2;
      return;
    }
    fmt::print("canonical math vs float64 (rounded to float), {} in each range; SIMD {}\n",
               opt->stride == 1 ? std::string("every float") : fmt::format("every {}th float", opt->stride),
               simd::name(simd::active()));
    fmt::print("{:<13} {:<16} {:>11} {:>4} {:>15} {:>15} {:>15} {:>9} {:>7}  {}\n", "function", "range",
               "inputs", "max", "worst input", "ours", "float64", "mean ulp", "seconds", "0 / 1 / 2 / >2 ulp");
    nlohmann::json rows = nlohmann::json::array();
    for (const SweepSpec& s : sweeps()) {
      if (!opt->only.empty() && opt->only != canon::func_name(s.func)) continue;
      const auto t0 = std::chrono::steady_clock::now();
      const canon::UlpStats r = canon::ulp_sweep(s.func, s.lo, s.hi, opt->stride);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print("{:<13} {:<16} {:>11} {:>4} {:>15.9g} {:>15.9g} {:>15.9g} {:>9.6f} {:>7.1f}  {} / {} / {} / {}\n",
                 canon::func_name(s.func), s.range, r.checked, r.max_ulp, r.worst_input, r.worst_result,
                 r.worst_reference, r.mean_ulp(), seconds, r.by_ulp[0], r.by_ulp[1], r.by_ulp[2], r.by_ulp[3]);
      std::fflush(stdout);
      rows.push_back({{"function", canon::func_name(s.func)},
                      {"range", s.range},
                      {"lo", hexfloat(s.lo)},
                      {"hi", hexfloat(s.hi)},
                      {"covers", s.why},
                      {"stride", opt->stride},
                      {"inputs", r.checked},
                      {"max_ulp", r.max_ulp},
                      {"worst_input", hexfloat(r.worst_input)},
                      {"worst_result", hexfloat(r.worst_result)},
                      {"worst_float64", hexfloat(r.worst_reference)},
                      {"mean_ulp", r.mean_ulp()},
                      {"inputs_by_ulp", {r.by_ulp[0], r.by_ulp[1], r.by_ulp[2], r.by_ulp[3]}},
                      {"seconds", seconds}});
    }
    if (!opt->json.empty()) {
      std::ofstream out(opt->json);
      out << nlohmann::json{{"simd", simd::name(simd::active())}, {"rows", rows}}.dump(2) << "\n";
      if (!out) {
        fmt::print(stderr, "rwkv-oracle ulp: cannot write {}\n", opt->json);
        exit_code = 2;
      }
    }
  });
}

}  // namespace rwkv::cli
