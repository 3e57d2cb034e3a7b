// The Apple profiles are fitted, in code, on two published figures each; the
// profile files hold what the fit gives; the report carries every figure,
// the inconsistent ones with their arithmetic, and the physical limit.
#include <gtest/gtest.h>

#include <cmath>

#include "reference/plan/model_config.h"
#include "simgpu/fidelity.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

const FitResult& fitted() {
  static const FitResult fit = fit_apple_profiles(apple_priors());
  return fit;
}

const Prediction& prediction(const std::string& id) {
  for (const Prediction& p : fitted().predictions)
    if (p.figure == id) return p;
  throw std::runtime_error("no prediction for " + id);
}

TEST(SimgpuFit, EachAppleProfileMeetsItsTwoFigures) {
  EXPECT_NEAR(metal_batched_us_per_matmul(fitted().fitted.metal), 24.7, 1e-6);
  const double ffn = 0.5 * (metal_per_op_us(fitted().fitted.metal, 2560, 10240) +
                            metal_per_op_us(fitted().fitted.metal, 10240, 2560));
  EXPECT_NEAR(ffn, 240, 1e-5);
  const Profile& metal = fitted().fitted.metal;
  const Profile& wgpu = fitted().fitted.wgpu;
  EXPECT_NEAR(plan_tokens_per_second("2.9b", "wgpu-only", wgpu, &metal), 44.2, 1e-6);
  const double added = 1e6 / plan_tokens_per_second("2.9b", "hybrid-per-op", wgpu, &metal) -
                       1e6 / plan_tokens_per_second("2.9b", "wgpu-only", wgpu, &metal);
  EXPECT_NEAR(added, 1e6 / 10 - 1e6 / 15, 1e-3);
  int fitted_count = 0;
  for (const Prediction& p : fitted().predictions) fitted_count += p.fitted;
  EXPECT_EQ(fitted_count, 3);  // the fourth target is a difference of two figures
  for (const FittedValue& v : fitted().fitted_values) EXPECT_TRUE(v.feasible) << v.profile << " " << v.field;
}

TEST(SimgpuFit, TheProfileFilesHoldTheFittedValues) {
  const AppleProfiles files = apple_priors();
  for (const FittedValue& v : fitted().fitted_values) {
    const Profile& p = v.profile == files.metal.name ? files.metal : files.wgpu;
    EXPECT_NEAR(p.field(v.field).value, v.value, 1e-5 * v.value)
        << v.profile << " " << v.field << ": run `rwkv-oracle simulate --fit` and copy the value";
    EXPECT_NE(p.field(v.field).source.find("fitted"), std::string::npos) << v.profile << " " << v.field;
  }
}

TEST(SimgpuFit, TheFitDoesNotDependOnWhereItStarts) {
  AppleProfiles start = apple_priors();
  start.metal.field("efficiency.matmul_vec.q4_k.bandwidth").value = 0.9;
  start.metal.field("wait_sleep_us").value = 3000;
  start.wgpu.field("efficiency.matmul_vec.q4_k.bandwidth").value = 0.05;
  start.wgpu.field("wait_spin_us").value = 0;
  const FitResult again = fit_apple_profiles(start);
  ASSERT_EQ(again.fitted_values.size(), fitted().fitted_values.size());
  for (size_t i = 0; i < again.fitted_values.size(); ++i)
    EXPECT_NEAR(again.fitted_values[i].value, fitted().fitted_values[i].value,
                1e-6 * fitted().fitted_values[i].value)
        << again.fitted_values[i].field;
}

TEST(SimgpuFit, PredictionsOfTheOtherFiguresCarryTheirErrors) {
  // Every published figure that is not a goal has a prediction.
  for (const PublishedFigure& f : m2max_figures()) {
    if (f.id == "target" || f.id == "stretch") continue;
    const Prediction& p = prediction(f.id);
    EXPECT_EQ(p.published, f.value);
    EXPECT_GT(p.predicted, 0) << f.id;
  }
  // 531 GFLOP/s follows from the fitted 24.7 us; the FFN shapes straddle their 240 us mean.
  EXPECT_NEAR(prediction("metal_batched_gflops").error(), 0, 0.002);
  EXPECT_LT(prediction("metal_ffn_up_us").predicted, 247);
  EXPECT_GT(prediction("metal_ffn_down_us").predicted, 235);
  // The op plan's counts.
  EXPECT_EQ(prediction("ops_per_layer").predicted, 44);
  EXPECT_EQ(prediction("syncs_per_token_per_op").predicted, 385);
  EXPECT_EQ(prediction("syncs_per_token_per_layer").predicted, 65);
}

TEST(SimgpuFit, ThePhysicalLimitIsWeightBytesOverBandwidth) {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  const Workload w = plan_workload(plan::build_plan(plan::preset("2.9b"), 1), f);
  EXPECT_DOUBLE_EQ(fitted().weight_bytes_per_token, w.weight_bytes_per_step);
  EXPECT_NEAR(fitted().physical_limit(), 400e9 / w.weight_bytes_per_step, 1e-9);
  // About 1.94 GB: 206 tok/s. The Q6_K head reads less.
  EXPECT_NEAR(fitted().physical_limit(), 205.9, 0.1);
  EXPECT_GT(fitted().physical_limit_q6k_head(), fitted().physical_limit());
}

TEST(SimgpuFit, TheReportHasEveryFigureTheInconsistenciesAndTheLimit) {
  const std::string md = fidelity_markdown(fitted());
  for (const PublishedFigure& f : m2max_figures()) {
    if (f.id != "target" && f.id != "stretch") {
      EXPECT_NE(md.find(f.quote), std::string::npos) << f.id;
    }
  }
  EXPECT_NE(md.find("1,600 x 1 ms = 1.6 s per token"), std::string::npos);
  EXPECT_NE(md.find("1 / (192 x 24.7 us) = 210.9 tok/s"), std::string::npos);
  EXPECT_NE(md.find(fmt::format("{:.1f}", fitted().physical_limit())), std::string::npos);
  EXPECT_NE(md.find("target 150"), std::string::npos);
  EXPECT_GE(fitted().inconsistent.size(), 5u);
  // The H100 sweep section.
  EXPECT_NE(md.find("| cuda graph | 200 | 2 | 1 | 1827 |"), std::string::npos);
}

}  // namespace
