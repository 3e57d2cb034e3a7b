#pragma once
// How well simgpu explains what was measured.
//
//   Apple M2 Max: the published figures of the Metal design notes (RWKV-7
//   2.9B, Q4_K weights, ../shared/background/). Each Apple profile is fitted
//   on two of them (fit_apple_profiles: bisection on the simulator itself,
//   alternating between the two unknowns until both figures are met), and
//   every other figure is predicted and its error reported; figures that no
//   single consistent profile can explain are listed with the arithmetic.
//   Beside them: the physical limit, weight bytes per token over the memory
//   bandwidth, against the notes' "150 target, 200+ stretch".
//
//   NVIDIA H100: the measured sync sweep of ../shared/spec/validation-and-costs.md
//   3.2 (K kernels of T us, a sync every S), simulated with the H100 profiles.
//
// The Markdown report (reports/simgpu-fidelity.md) is generated from these,
// never typed by hand: `rwkv-oracle simulate --report FILE`.
#include <string>
#include <vector>

#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"

namespace rwkv::simgpu {

struct PublishedFigure {
  std::string id;      // "metal_batched_us"
  std::string quote;   // what the source says
  std::string source;  // file and section
  double value = 0;
  std::string unit;
};
// The published M2 Max figures (background notes 1, 3, 4; web-rwkv PR #58).
const std::vector<PublishedFigure>& m2max_figures();
const PublishedFigure& m2max_figure(const std::string& id);

struct AppleProfiles {
  Profile metal, wgpu;
};
// The profile files as they are; the fit overwrites the two fitted values of each.
AppleProfiles apple_priors();

struct FittedValue {
  std::string profile, field;
  double value = 0;
  std::string figures;     // the figure ids it was fitted on
  std::string arithmetic;  // the closed form the simulator reproduces
  bool feasible = true;    // false: the figure could not be met within the field's bounds
};

struct Prediction {
  std::string figure;     // figure id
  std::string what;       // what simgpu simulated to predict it
  double published = 0, predicted = 0;
  std::string unit;
  bool fitted = false;    // one of the fit's targets (error 0 by construction)
  double error() const { return published != 0 ? (predicted - published) / published : 0; }
};

struct Inconsistency {
  std::string title, arithmetic;
};

struct ScheduleForecast {  // schedules without a published figure
  std::string schedule, profile;
  double tokens_per_second = 0, syncs_per_token = 0;
  std::string bound;
};

struct H100SweepPoint {
  std::string api;   // "cuda", "vulkan", "cuda graph"
  int64_t K = 0;
  double kernel_us = 0;
  int64_t syncs = 0;
  double measured = 0, predicted = 0;  // tokens/s
  double error() const { return (predicted - measured) / measured; }
};

struct FitResult {
  AppleProfiles fitted;
  std::vector<FittedValue> fitted_values;
  std::vector<Prediction> predictions;
  std::vector<Inconsistency> inconsistent;
  std::vector<ScheduleForecast> forecasts;
  std::vector<H100SweepPoint> h100;
  double weight_bytes_per_token = 0;       // 2.9B, Q4_K layers, fp16 head
  double weight_bytes_q6k_head = 0;        // the same with a Q6_K head (llama.cpp's K-quant mixes)
  double bandwidth_gbps = 0;
  double physical_limit() const { return bandwidth_gbps * 1e9 / weight_bytes_per_token; }
  double physical_limit_q6k_head() const { return bandwidth_gbps * 1e9 / weight_bytes_q6k_head; }
};

FitResult fit_apple_profiles(AppleProfiles priors);

// The experiments the figures come from, on given profiles (also used by tests).
double metal_batched_us_per_matmul(const Profile& metal);      // 192 C x C Q4_K matmuls, one command buffer
double metal_per_op_us(const Profile& metal, int64_t K, int64_t M);  // one matmul, its own command buffer + wait
double plan_tokens_per_second(const std::string& config, const std::string& schedule, const Profile& given,
                              const Profile* peer, int64_t steps = 8);
std::vector<H100SweepPoint> h100_sweep(const Profile& cuda, const Profile& vulkan);

std::string fit_report_text(const FitResult& fit);  // --fit: the fitted values and their arithmetic
std::string fidelity_markdown(const FitResult& fit);
void write_fidelity_report(const FitResult& fit, const std::string& path, bool force);

}  // namespace rwkv::simgpu
