// This family's catalog entries: present, fast, and the same bytes at every
// SIMD level and thread count (what tests/determinism_test.cpp checks for all).
#include <gtest/gtest.h>
#include <omp.h>

#include <ctime>
#include <string>
#include <vector>

#include "reference/kernel_catalog.h"
#include "reference/simd/dispatch.h"

namespace rwkv {
namespace {

const std::vector<std::string> kNames = {"time_mix_v7", "time_mix_v7_exact_decay", "time_first_v7", "state_layout"};

const KernelVariant& find(const std::string& name) {
  for (const auto& k : kernel_catalog())
    if (k.name == name) return k;
  throw std::runtime_error("not in the catalog: " + name);
}

TEST(TimeMixCatalog, SamplesAreFastAndSeeded) {
  for (const auto& name : kNames) {
    const KernelVariant& k = find(name);
    EXPECT_FALSE(k.order.empty());
    k.sample(1);  // warm-up
    // CPU time, not wall time: the build machine is shared and often busy.
    const std::clock_t t0 = std::clock();
    const auto a = k.sample(1);
    const double ms = 1000.0 * double(std::clock() - t0) / CLOCKS_PER_SEC;
    std::printf("[ measured ] %s sample: %zu bytes in %.1f ms CPU\n", name.c_str(), a.size(), ms);
    EXPECT_LT(ms, 30.0) << name;
    EXPECT_EQ(a, k.sample(1)) << name;
    EXPECT_NE(a, k.sample(2)) << name;
  }
  EXPECT_NE(find("time_mix_v7").sample(3), find("time_mix_v7_exact_decay").sample(3));
}

TEST(TimeMixCatalog, SameBytesAtEverySimdLevelAndThreadCount) {
  const int threads_before = omp_get_max_threads();
  for (const auto& name : kNames) {
    const KernelVariant& k = find(name);
    const auto want = k.sample(7);
    for (simd::Level level : simd::supported_levels()) {
      simd::ScopedLevel scoped(level);
      for (int threads : {1, 2, 8}) {
        omp_set_num_threads(threads);
        EXPECT_EQ(k.sample(7), want) << name << " " << simd::name(level) << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(threads_before);
}

}  // namespace
}  // namespace rwkv
