// The whole forward pass gives the same bytes (logits and state) at every
// SIMD level and thread count, in both activation precisions and for both
// one-token steps and a chunked prefill: the kernels' guarantee, end to end.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/simd/dispatch.h"

namespace rwkv {
namespace {

const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

// Logits of 3 single-token steps, then of a 5-token chunk, then the state bytes.
std::vector<uint8_t> run_bytes(const Rwkv7Weights& w, DType act) {
  forward::Executor ex(w, {act, kDecayWebRwkv, true});
  std::vector<float> all;
  for (uint32_t t : {551u, 580u, 843u}) {
    const auto l = ex.step(std::span(&t, 1));
    all.insert(all.end(), l.begin(), l.end());
  }
  const std::vector<uint32_t> chunk = {441, 785, 97, 542, 357};
  const auto l = ex.step(chunk);
  all.insert(all.end(), l.begin(), l.end());
  for (int64_t layer = 0; layer < ex.config().L; ++layer) {
    const LayerState& s = ex.state(layer);
    all.insert(all.end(), s.data, s.data + s.C * s.rows());
  }
  std::vector<uint8_t> bytes(all.size() * 4);
  std::memcpy(bytes.data(), all.data(), bytes.size());
  return bytes;
}

TEST(ForwardDeterminism, SameBytesAtEveryLevelAndThreadCount) {
  const Rwkv7Weights w = load_rwkv7_safetensors(kTiny);
  const int saved_threads = omp_get_max_threads();
  for (DType act : {DType::f32, DType::f16}) {
    std::vector<uint8_t> want;
    {
      simd::ScopedLevel scalar(simd::Level::scalar);
      omp_set_num_threads(1);
      want = run_bytes(w, act);
    }
    for (simd::Level level : simd::supported_levels()) {
      simd::ScopedLevel forced(level);
      for (int threads : {2, 8}) {
        omp_set_num_threads(threads);
        EXPECT_TRUE(run_bytes(w, act) == want)
            << dtype_name(act) << " level " << int(level) << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(saved_threads);
}

}  // namespace
}  // namespace rwkv
