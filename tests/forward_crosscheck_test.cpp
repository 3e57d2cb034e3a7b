// The reference forward pass against BlinkDL's official numpy implementation
// (../shared/crosscheck/README.md): 16 tokens through rwkv7-tiny.st, one at a
// time, f32 activations; every step's logits and the final state compared
// with the official float64 run. Gate (the README's): max abs <= 5e-5 on the
// logits (the official float32 run is 1.25e-5 off).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reference/forward/executor.h"
#include "reference/kernels/state_layout.h"
#include "reference/model/rwkv7_weights.h"
#include "tests/support/npy.h"

namespace rwkv {
namespace {

const std::string kDir = std::string(RWKV_SHARED_DIR) + "/crosscheck/";

std::vector<uint32_t> crosscheck_tokens() {
  std::ifstream f(kDir + "tokens.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  return j.at("tokens").get<std::vector<uint32_t>>();
}

struct RunResult {
  std::vector<float> logits;  // [16, V], step after step
  double max_abs = 0;         // vs the expected logits
  int argmax_agree = 0;
};

// Runs the tokens one per step and compares each step's logits with `expected` [16, V].
RunResult run_and_compare(forward::Executor& ex, const std::vector<double>& expected) {
  const std::vector<uint32_t> tokens = crosscheck_tokens();
  const int64_t V = ex.config().V;
  RunResult r;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const std::vector<float> l = ex.step(std::span(&tokens[t], 1));
    EXPECT_EQ(int64_t(l.size()), V);
    const double* e = expected.data() + t * size_t(V);
    for (int64_t v = 0; v < V; ++v) r.max_abs = std::max(r.max_abs, std::abs(double(l[size_t(v)]) - e[v]));
    const auto am = std::max_element(l.begin(), l.end()) - l.begin();
    const auto em = std::max_element(e, e + V) - e;
    r.argmax_agree += am == em;
    r.logits.insert(r.logits.end(), l.begin(), l.end());
  }
  return r;
}

class ForwardCrosscheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { weights_ = new Rwkv7Weights(load_rwkv7_safetensors(kDir + "rwkv7-tiny.st")); }
  static void TearDownTestSuite() {
    delete weights_;
    weights_ = nullptr;
  }
  static Rwkv7Weights* weights_;
};
Rwkv7Weights* ForwardCrosscheck::weights_ = nullptr;

TEST_F(ForwardCrosscheck, F32ExactDecayMatchesOfficialLogitsAndState) {
  const test::NpyArray expected = test::read_npy(kDir + "logits_official_f64.npy");
  expected.require_shape({16, 1024});
  forward::Executor ex(*weights_, {DType::f32, kDecayExact, false});
  const RunResult r = run_and_compare(ex, expected.f64());
  std::printf("crosscheck f32, decay e^-0.5: logits max abs %.3g, argmax %d/16\n", r.max_abs, r.argmax_agree);
  EXPECT_LE(r.max_abs, 5e-5);
  EXPECT_EQ(r.argmax_agree, 16);

  // Final state, converted from web-rwkv's layout to the official [h][i][j].
  const auto npz = test::read_npz_stored(kDir + "state_official_f64.npz");
  const std::vector<double> att = npz.at("att_shift").f64(), wkv = npz.at("wkv").f64(),
                            ffn = npz.at("ffn_shift").f64();
  const auto& c = ex.config();
  double att_err = 0, wkv_err = 0, ffn_err = 0;
  for (int64_t l = 0; l < c.L; ++l) {
    std::vector<float> a(size_t(c.C)), w(size_t(c.C * c.N)), f(size_t(c.C));
    state_slot_to_official(ex.state(l), 0, a, w, f);
    for (int64_t i = 0; i < c.C; ++i) {
      att_err = std::max(att_err, std::abs(a[size_t(i)] - att[size_t(l * c.C + i)]));
      ffn_err = std::max(ffn_err, std::abs(f[size_t(i)] - ffn[size_t(l * c.C + i)]));
    }
    for (int64_t i = 0; i < c.C * c.N; ++i)
      wkv_err = std::max(wkv_err, std::abs(w[size_t(i)] - wkv[size_t(l * c.C * c.N + i)]));
  }
  std::printf("crosscheck final state max abs: att_shift %.3g, wkv %.3g, ffn_shift %.3g\n", att_err, wkv_err,
              ffn_err);
  // The official f32 run is 9.1e-7 / 3.6e-6 / 1.2e-6 off; allow a few times that.
  EXPECT_LE(att_err, 1e-5);
  EXPECT_LE(wkv_err, 2e-5);
  EXPECT_LE(ffn_err, 1e-5);
}

TEST_F(ForwardCrosscheck, F32WebRwkvDecayMatchesItsFloat64Run) {
  const test::NpyArray expected = test::read_npy(kDir + "logits_f64_decay_0606531.npy");
  expected.require_shape({16, 1024});
  forward::Executor ex(*weights_, {DType::f32, kDecayWebRwkv, false});
  const RunResult r = run_and_compare(ex, expected.f64());
  std::printf("crosscheck f32, decay 0.606531: logits max abs %.3g, argmax %d/16\n", r.max_abs, r.argmax_agree);
  EXPECT_LE(r.max_abs, 5e-5);
  EXPECT_EQ(r.argmax_agree, 16);
}

// web-rwkv's f32 profile rounds the ln0 output to f16 (spec section 4); the
// official code does not, so this profile sits ~4e-3 from it: recorded here.
TEST_F(ForwardCrosscheck, F32WebRwkvProfileRoundsTheEmbedding) {
  const test::NpyArray expected = test::read_npy(kDir + "logits_f64_decay_0606531.npy");
  forward::Executor ex(*weights_, {DType::f32, kDecayWebRwkv, true});
  const RunResult r = run_and_compare(ex, expected.f64());
  std::printf("f32, ln0 output in f16 (web-rwkv), decay 0.606531: logits max abs %.3g, argmax %d/16\n", r.max_abs,
              r.argmax_agree);
  EXPECT_GT(r.max_abs, 5e-5);  // the f16 rounding is visible
  EXPECT_LE(r.max_abs, 1e-2);
  EXPECT_EQ(r.argmax_agree, 16);
}

// f16 activations (web-rwkv's default) are not covered by the official data;
// this records how far they land from the f64 run and that they stay sane.
TEST_F(ForwardCrosscheck, F16ActivationsStayCloseToOfficial) {
  const test::NpyArray expected = test::read_npy(kDir + "logits_f64_decay_0606531.npy");
  forward::Executor ex(*weights_, {DType::f16, kDecayWebRwkv});
  const RunResult r = run_and_compare(ex, expected.f64());
  std::printf("f16 activations, decay 0.606531: logits max abs %.3g, argmax %d/16\n", r.max_abs, r.argmax_agree);
  for (float v : r.logits) ASSERT_TRUE(std::isfinite(v));
  EXPECT_LE(r.max_abs, 0.1);
}

// Feeding the 16 tokens in one chunk gives the same state evolution; the
// logits of each token agree with the one-token steps to f32 rounding.
TEST_F(ForwardCrosscheck, ChunkedPrefillMatchesStepByStep) {
  const std::vector<uint32_t> tokens = crosscheck_tokens();
  forward::Executor one(*weights_, {DType::f32, kDecayExact, false});
  forward::Executor chunk(*weights_, {DType::f32, kDecayExact, false});
  std::vector<float> steps;
  for (uint32_t t : tokens) {
    const auto l = one.step(std::span(&t, 1));
    steps.insert(steps.end(), l.begin(), l.end());
  }
  const std::vector<float> all = chunk.step(tokens);
  ASSERT_EQ(all.size(), steps.size());
  double d = 0;
  for (size_t i = 0; i < all.size(); ++i) d = std::max(d, std::abs(double(all[i]) - steps[i]));
  std::printf("chunked prefill vs one token per step: logits max abs %.3g\n", d);
  EXPECT_LE(d, 5e-5);
}

}  // namespace
}  // namespace rwkv
