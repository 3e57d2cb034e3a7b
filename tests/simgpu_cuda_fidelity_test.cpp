// simgpu against the CUDA backend's measured decode and prefill, on two GPUs: an H200
// (reports/cuda/run2-measured.json, run 2) and an H100 (reports/cuda/run11-bench.md, run 11, and
// reports/cuda/run16-bench.md, run 16, with the merged launches). For each, the profile fitted by
// scripts/cuda_fit_profile.py (reports/cuda/runN-profile-cuda-simfit.json) predicts every measured
// model x format x strategy, running the backend's schedules (backends/cuda/schedules/). The
// fitted figures (three for runs 2 and 11, six for run 16) must be met, every other case is held
// out and must be within 10%, but for the cases the fidelity reports (reports/simgpu-cuda-fidelity.md;
// reports/simgpu-cuda-fidelity-h100.md, run 16; reports/simgpu-cuda-fidelity-h100-run11.md, run 11) list
// beyond it (with the arithmetic of the token+pdl ones checked here). Prefill: a looser guard.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "reference/plan/model_config.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

const std::string kRoot = RWKV_SOURCE_DIR;

struct Case {
  std::string model, weights, strategy;
  double decode_tok_s, decode_ms, prefill_tok_s;
  int64_t dispatches;
  std::string name() const { return model + " " + weights + " " + strategy; }
};

// The measured cases of a run: run 2's JSON, or the table `rwkv-oracle bench --out` wrote.
std::vector<Case> measured_from(const std::string& file) {
  std::vector<Case> out;
  std::ifstream in(kRoot + "/" + file);
  if (!in) throw std::runtime_error(file + ": cannot be read");
  if (file.ends_with(".json")) {
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const nlohmann::json& c : j.at("cases"))
      out.push_back({c.at("model"), c.at("weights"), c.at("strategy"), c.at("decode_tok_s"), c.at("decode_ms_per_token"),
                     c.at("prefill_tok_s"), c.at("dispatches")});
    return out;
  }
  std::vector<std::string> cols;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("|", 0) != 0 || line.rfind("|---", 0) == 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    for (std::string cell; std::getline(ss, cell, '|');) {
      const size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
      cells.push_back(a == std::string::npos ? std::string() : cell.substr(a, b - a + 1));
    }
    if (cols.empty()) {
      cols = cells;
      continue;
    }
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < cols.size() && i < cells.size(); ++i) r[cols[i]] = cells[i];
    out.push_back({r.at("model"), r.at("weights"), r.at("strategy"), std::stod(r.at("decode tok/s")),
                   std::stod(r.at("ms/token")), std::stod(r.at("prefill tok/s")), std::stoll(r.at("dispatches"))});
  }
  return out;
}

// One GPU's measured run, its fitted profile and what its report says of it.
struct GpuRun {
  std::string name, measured, profile;
  std::set<std::string> beyond;  // held-out decode cases beyond 10% (the report explains them)
  double beyond_cap;             // how far beyond they may be
  size_t cases;                  // measured cases (models x formats x strategies)
  int held_out, within;          // held-out decode cases, and how many at least within 10%
  int prefill_within;            // prefill cases at least within 10% (every one within 25%)
  std::set<std::string> fitted;  // the figures the fit met
  bool prefill = true;           // whether its prefill is predicted (the merge A/B benches' is not)
};

const std::set<std::string> kGraphFitted = {"0.1b fp16 graph", "0.4b fp16 graph", "2.9b fp16 graph"};

const GpuRun kH200{"H200 (run 2)", "reports/cuda/run2-measured.json", "reports/cuda/run2-profile-cuda-simfit.json",
                // token+pdl ran faster than the calibrated launch cost allows; 0.1b fp16 token is 0.7% beyond.
                {"0.1b q4_k token+pdl", "0.4b fp16 token+pdl", "0.4b q4_k token+pdl", "1.5b fp16 token+pdl",
                 "1.5b q4_k token+pdl", "0.1b fp16 token"},
                0.17, 56, 53, 47, 38, kGraphFitted};
const GpuRun kH100{"H100 (run 11)", "reports/cuda/run11-bench.md", "reports/cuda/run11-profile-cuda-simfit.json",
                // token+pdl as on the H200; graph+pdl at 1.5b/2.9b predicted 11-15% fast; 0.4b q4_k token 0.3%
                // and 0.4b graph+pdl+dag 0.0-0.4% beyond.
                {"0.1b fp16 token+pdl", "0.4b fp16 token+pdl", "0.4b q4_k token+pdl", "1.5b fp16 token+pdl",
                 "1.5b q4_k token+pdl", "2.9b q4_k token+pdl", "0.4b q4_k token", "1.5b fp16 graph+pdl",
                 "1.5b q4_k graph+pdl", "2.9b q4_k graph+pdl", "0.4b fp16 graph+pdl+dag", "0.4b q4_k graph+pdl+dag"},
                0.30, 64, 61, 49, 29, kGraphFitted};
const GpuRun kH100Run16{"H100 (run 16)", "reports/cuda/run16-bench.md", "reports/cuda/run16-profile-cuda-simfit.json",
                // token+pdl ran faster than its launches at the fitted launch cost allow; inflight=3 at 1.5b and
                // 2.9b q4_k predicted 11-14% fast.
                {"0.1b fp16 token+pdl", "0.1b q4_k token+pdl", "0.4b q4_k token+pdl", "1.5b fp16 token+pdl",
                 "1.5b q4_k token+pdl", "1.5b fp16 inflight=3", "1.5b q4_k inflight=3", "2.9b q4_k inflight=3"},
                0.20, 72, 66, 58, 61,
                {"0.1b fp16 graph", "0.4b fp16 graph", "2.9b fp16 graph", "0.4b fp16 token", "0.4b fp16 graph+pdl",
                 "0.4b fp16 graph+pdl+dag+merge"}};
// The merge A/B benches of run 16 (decode of 8 strategies, 4 with merge), predicted by run 16's profile, every
// figure held out; their prefill (32 tokens, one chunk) is not predicted (the report says so).
const GpuRun kH100Run16MergeAB1{"H100 (run 16, merge A/B 1)", "reports/cuda/run16-bench-merge-1.md",
                                "reports/cuda/run16-profile-cuda-simfit.json",
                                {"0.1b fp16 graph+pdl+merge", "0.1b q4_k token"}, 0.12, 64, 64, 62, 0, {}, false};
const GpuRun kH100Run16MergeAB2{"H100 (run 16, merge A/B 2)", "reports/cuda/run16-bench-merge-2.md",
                                "reports/cuda/run16-profile-cuda-simfit.json", {}, 0.10, 64, 64, 64, 0, {}, false};

// The cases of the strategies simgpu has a schedule for (not fuse).
std::vector<Case> measured(const GpuRun& r) {
  std::vector<Case> out;
  for (const Case& c : measured_from(r.measured))
    if (c.strategy.find("fuse") == std::string::npos) out.push_back(c);
  return out;
}

Schedule schedule_for(const std::string& strategy) {
  static const std::map<std::string, std::string> files = {
      {"op", "cuda-op"},       {"layer", "cuda-layer"},         {"token", "cuda-token"},        {"graph", "cuda-graph"},
      {"inflight=3", "cuda-inflight3"}, {"token+pdl", "cuda-token-pdl"}, {"graph+pdl", "cuda-graph-pdl"},
      {"graph+pdl+dag", "cuda-graph-dag-pdl"}, {"graph+pdl+dag+merge", "cuda-graph-dag-pdl-merge"},
      {"token+merge", "cuda-token-merge"}, {"graph+merge", "cuda-graph-merge"}, {"graph+pdl+merge", "cuda-graph-pdl-merge"}};
  return load_schedule(kRoot + "/backends/cuda/schedules/" + files.at(strategy) + ".json");
}

// Tokens/s simgpu predicts for a case: decode (48 single-token steps) or the bench's prefill
// (steps of 128 tokens, logits of the last).
double predict(const Profile& profile, const Case& c, bool prefill) {
  WeightFormats f;
  f.layer = c.weights == "fp16" ? WeightFormat::fp16 : WeightFormat::q4_k;
  f.head = c.weights == "fp16" ? WeightFormat::fp16 : WeightFormat::q6_k;  // the bench's GGUF models
  const plan::ModelConfig cfg = plan::preset(c.model);
  const plan::Plan p = prefill ? plan::build_plan(cfg, 128, {plan::TokenRun{127, 1}}) : plan::build_plan(cfg, 1);
  SimOptions o;
  o.steps = prefill ? 2 : 48;
  return simulate(plan_workload(p, f), schedule_for(c.strategy), profile, nullptr, o).tokens_per_second();
}

class SimgpuCudaFidelity : public testing::TestWithParam<GpuRun> {
 protected:
  const GpuRun& gpu() const { return GetParam(); }
  const Profile& profile() const {
    static std::map<std::string, Profile> loaded;
    auto it = loaded.find(gpu().profile);
    if (it == loaded.end()) it = loaded.emplace(gpu().profile, load_profile(kRoot + "/" + gpu().profile)).first;
    return it->second;
  }
};

TEST_P(SimgpuCudaFidelity, EveryMeasuredDecodeCaseWithin10PercentButTheExplainedOnes) {
  const std::vector<Case> cases = measured(gpu());
  ASSERT_EQ(cases.size(), gpu().cases) << "4 models x 2 formats x the measured strategies";
  int within = 0, held_out = 0;
  double worst = 0;
  for (const Case& c : cases) {
    const double err = predict(profile(), c, false) / c.decode_tok_s - 1;
    if (gpu().fitted.count(c.name())) {
      EXPECT_LT(std::abs(err), 0.002) << c.name() << " is a fitted figure";
      continue;
    }
    ++held_out;
    worst = std::max(worst, std::abs(err));
    if (std::abs(err) <= 0.10) ++within;
    if (gpu().beyond.count(c.name())) EXPECT_LT(std::abs(err), gpu().beyond_cap) << c.name() << ": " << 100 * err << "%";
    else EXPECT_LE(std::abs(err), 0.10) << c.name() << ": " << 100 * err << "%";
  }
  EXPECT_EQ(held_out, gpu().held_out);
  EXPECT_GE(within, gpu().within) << "held-out decode cases within 10%";
  RecordProperty("worst_held_out_error_percent", fmt::format("{:.1f}", 100 * worst));
}

// The token+pdl cases beyond 10% ran faster than their launches alone take at the profile's
// launch cost (calibrated for runs 2 and 11, fitted to 0.4b fp16 token for run 16; every op is
// one kernel launch on the host): no profile with that launch cost can reach them.
TEST_P(SimgpuCudaFidelity, TheTokenPdlCasesBeyond10PercentBeatTheCalibratedLaunchFloor) {
  const double launch = profile().encode_us.value;
  for (const Case& c : measured(gpu())) {
    if (c.strategy != "token+pdl" || !gpu().beyond.count(c.name())) continue;
    const int64_t launches = plan::build_plan(plan::preset(c.model), 1).dispatch_count();
    EXPECT_LT(1e3 * c.decode_ms, launches * launch) << c.name();
  }
}

// Prefill, for the runs whose prefill is predicted (not the merge A/B benches').
class SimgpuCudaPrefillFidelity : public SimgpuCudaFidelity {};

TEST_P(SimgpuCudaPrefillFidelity, PrefillWithin25Percent) {
  ASSERT_TRUE(gpu().prefill) << gpu().name;
  int within = 0;
  for (const Case& c : measured(gpu())) {
    const double err = predict(profile(), c, true) / c.prefill_tok_s - 1;
    EXPECT_LT(std::abs(err), 0.25) << c.name() << ": " << 100 * err << "%";
    if (std::abs(err) <= 0.10) ++within;
  }
  EXPECT_GE(within, gpu().prefill_within) << "prefill cases within 10%";
}

std::string run_name(const testing::TestParamInfo<GpuRun>& i) {
  static const std::vector<std::string> names = {"H200_run2", "H100_run11", "H100_run16", "H100_run16_merge_ab1",
                                                 "H100_run16_merge_ab2"};
  return names.at(i.index);
}

INSTANTIATE_TEST_SUITE_P(Runs, SimgpuCudaFidelity, testing::Values(kH200, kH100, kH100Run16, kH100Run16MergeAB1,
                                                                          kH100Run16MergeAB2),
                         run_name);
INSTANTIATE_TEST_SUITE_P(Runs, SimgpuCudaPrefillFidelity, testing::Values(kH200, kH100, kH100Run16), run_name);

}  // namespace
