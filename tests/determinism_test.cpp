// Every kernel variant in the catalog gives the same bytes at every SIMD level
// this CPU offers and for 1, 2 and 8 OpenMP threads. The reference output is
// the scalar level on one thread.
#include <omp.h>

#include <string>

#include <gtest/gtest.h>

#include "reference/kernel_catalog.h"
#include "reference/simd/dispatch.h"

namespace rwkv {
namespace {

constexpr uint64_t kSeed = 0x5eed2026;

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  const KernelVariant& k = kernel_catalog()[info.param];
  std::string s = k.name + "_" + k.format + "_" + k.activation + "_" + std::to_string(info.param);
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

class Determinism : public ::testing::TestWithParam<size_t> {};

TEST_P(Determinism, SameBytesAtEveryLevelAndThreadCount) {
  const KernelVariant& k = kernel_catalog()[GetParam()];
  const int saved_threads = omp_get_max_threads();
  std::vector<uint8_t> reference;
  {
    simd::ScopedLevel scalar(simd::Level::scalar);
    omp_set_num_threads(1);
    reference = k.sample(kSeed);
  }
  ASSERT_FALSE(reference.empty()) << k.name << " sample produced no output";
  for (simd::Level level : simd::supported_levels()) {
    simd::ScopedLevel forced(level);
    for (int threads : {1, 2, 8}) {
      omp_set_num_threads(threads);
      const std::vector<uint8_t> got = k.sample(kSeed);
      EXPECT_EQ(got, reference) << k.name << " " << k.format << " " << k.activation << " differs at SIMD level "
                                << simd::name(level) << " with " << threads << " threads";
    }
  }
  omp_set_num_threads(saved_threads);
}

TEST_P(Determinism, DifferentSeedsGiveDifferentOutput) {
  // Guards against a sample that ignores its inputs (which would pass the
  // test above trivially).
  const KernelVariant& k = kernel_catalog()[GetParam()];
  EXPECT_NE(k.sample(kSeed), k.sample(kSeed + 1)) << k.name << " " << k.format << " " << k.activation;
}

std::vector<size_t> all_indices() {
  std::vector<size_t> v(kernel_catalog().size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

INSTANTIATE_TEST_SUITE_P(Catalog, Determinism, ::testing::ValuesIn(all_indices()), case_name);

TEST(Catalog, IsNotEmptyAndEveryVariantIsDescribed) {
  ASSERT_GT(kernel_catalog().size(), 0u);
  for (const KernelVariant& k : kernel_catalog()) {
    EXPECT_FALSE(k.name.empty());
    EXPECT_FALSE(k.format.empty()) << k.name;
    EXPECT_FALSE(k.activation.empty()) << k.name;
    EXPECT_FALSE(k.order.empty()) << k.name << ": the canonical order must be written down";
    EXPECT_TRUE(static_cast<bool>(k.sample)) << k.name;
  }
}

}  // namespace
}  // namespace rwkv
