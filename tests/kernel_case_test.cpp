// KernelCase, the one description of a catalog variant's runs: the error
// definitions of the vectors files, the variant keys, and, for every variant,
// that the cases are complete (an oracle value per element of every float
// output) and that computing the oracles changes nothing the digest sees.
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "reference/kernel_case.h"
#include "reference/kernel_catalog.h"

namespace rwkv {
namespace {

CaseTensor f32_output(std::vector<float> ref, std::vector<double> f64) {
  KernelCase c;
  CaseTensor& t = c.output("y", ElemType::f32, {ref.size()}, ref.data());
  t.f64 = std::move(f64);
  return t;
}

TEST(OracleErrors, AbsoluteAndRelativeOverNonZeroOracleValues) {
  const OracleErrors e = oracle_errors(f32_output({1.0f, 2.5f, 0.0f, 1e-3f}, {1.5, 2.5, 0.0, 0.0}));
  EXPECT_EQ(e.max_abs, 0.5);
  EXPECT_EQ(e.max_rel, 0.5 / 1.5);  // the 1e-3 against 0 counts in max_abs only
  const OracleErrors empty = oracle_errors(f32_output({}, {}));
  EXPECT_EQ(empty.max_abs, 0.0);
  EXPECT_EQ(empty.max_rel, 0.0);
}

TEST(OracleErrors, NonFiniteValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // Matching NaNs and infinities count as 0.
  EXPECT_EQ(oracle_errors(f32_output({nan, inf, -inf}, {NAN, INFINITY, -INFINITY})).max_abs, 0.0);
  // An f32 overflow of a value beyond FLT_MAX + half an ulp is the correct rounding.
  EXPECT_EQ(oracle_errors(f32_output({inf}, {4e38})).max_abs, 0.0);
  EXPECT_EQ(oracle_errors(f32_output({inf}, {3.4e38})).max_abs, INFINITY);  // rounds to FLT_MAX
  EXPECT_EQ(oracle_errors(f32_output({nan}, {1.0})).max_rel, INFINITY);
  EXPECT_EQ(oracle_errors(f32_output({1.0f}, {NAN})).max_abs, INFINITY);
  // For f16 outputs the overflow threshold is 65520.
  EXPECT_EQ(element_abs_error(INFINITY, 65520.0, ElemType::f16), 0.0);
  EXPECT_EQ(element_abs_error(INFINITY, 65519.0, ElemType::f16), INFINITY);
  EXPECT_EQ(element_abs_error(-INFINITY, -7e4, ElemType::f16), 0.0);
}

TEST(OracleErrors, AnOutputWithoutOracleValuesIsAnError) {
  EXPECT_THROW(oracle_errors(f32_output({1.0f, 2.0f}, {1.0})), std::logic_error);
}

TEST(KernelCase, BytesAreInputsThenOutputsInOrder) {
  KernelCase c("x");
  const uint8_t a[] = {1, 2}, b[] = {3};
  const uint32_t o = 0x04050607;
  c.input("a", ElemType::u8, {2}, a);
  c.input("b", ElemType::u8, {1}, b);
  c.output("o", ElemType::u32, {1}, &o);
  EXPECT_EQ(case_bytes({c, c}), (std::vector<uint8_t>{1, 2, 3, 7, 6, 5, 4, 1, 2, 3, 7, 6, 5, 4}));
  EXPECT_EQ(c.out("o").value(0), double(0x04050607));
  EXPECT_THROW(c.out("none"), std::logic_error);
  Tensor t(DType::f16, Shape(3, 2, 1));
  EXPECT_EQ(c.input("t", t).dims, (Dims{1, 2, 3}));  // numpy order
}

TEST(Catalog, KeysAreUniqueAndSpellNameFormatActivation) {
  std::set<std::string> keys;
  for (const KernelVariant& k : kernel_catalog()) {
    EXPECT_TRUE(keys.insert(k.key).second) << k.key;
    EXPECT_EQ(k.key.rfind(k.name, 0), 0u) << k.key;
    if (k.format != "-") {
      EXPECT_NE(k.key.find("." + k.format), std::string::npos) << k.key;
    }
    if (k.activation != "-") {
      EXPECT_NE(k.key.find("." + k.activation), std::string::npos) << k.key;
    }
    EXPECT_FALSE(k.oracle.empty()) << k.key << ": say what the oracle is";
  }
  const auto find = [](const std::string& key) {
    for (const KernelVariant& k : kernel_catalog())
      if (k.key == key) return true;
    return false;
  };
  EXPECT_TRUE(find("layer_norm"));
  EXPECT_TRUE(find("matmul_vec.q4_k.squared_relu"));
  EXPECT_TRUE(find("metal_simdgroup_mma.pairwise_f32"));
  EXPECT_TRUE(find("metal_q4k_mul_mm.q4_k.chain_f32"));
}

class CatalogCases : public ::testing::TestWithParam<size_t> {};

TEST_P(CatalogCases, CompleteAndTheOracleChangesNothingTheDigestSees) {
  const KernelVariant& k = kernel_catalog()[GetParam()];
  constexpr uint64_t kSeed = 99;
  const std::vector<KernelCase> with = k.cases(kSeed, WithOracle::yes);
  const std::vector<KernelCase> without = k.cases(kSeed, WithOracle::no);
  ASSERT_GE(with.size(), 2u) << k.key << ": several cases";
  EXPECT_EQ(case_bytes(with), case_bytes(without)) << k.key << ": computing the oracle changed inputs or outputs";
  EXPECT_EQ(k.sample(kSeed), case_bytes(without)) << k.key;
  std::set<std::string> labels;
  for (const KernelCase& c : with) {
    EXPECT_FALSE(c.label.empty()) << k.key;
    EXPECT_TRUE(labels.insert(c.label).second) << k.key << ": two cases labelled " << c.label;
    EXPECT_FALSE(c.inputs.empty()) << k.key << " " << c.label;
    EXPECT_FALSE(c.outputs.empty()) << k.key << " " << c.label;
    for (const CaseTensor& t : c.inputs) EXPECT_EQ(t.bytes.size(), t.numel() * elem_size(t.type)) << t.name;
    for (const CaseTensor& t : c.outputs) {
      EXPECT_EQ(t.bytes.size(), t.numel() * elem_size(t.type)) << t.name;
      // Float outputs have an oracle value per element; a quantiser's bytes
      // (its data, and its meta, the block scales) have none.
      const bool is_float = t.type == ElemType::f16 || t.type == ElemType::f32;
      const bool has_oracle = is_float && !(k.name == "quantize" && t.name == "meta");
      EXPECT_EQ(t.f64.size(), has_oracle ? t.numel() : 0u) << k.key << " " << c.label << " " << t.name;
    }
    for (const CaseTensor& t : without.front().outputs) EXPECT_TRUE(t.f64.empty()) << k.key << " " << t.name;
  }
}

std::vector<size_t> all_indices() {
  std::vector<size_t> v(kernel_catalog().size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string s = kernel_catalog()[info.param].key;
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Catalog, CatalogCases, ::testing::ValuesIn(all_indices()), case_name);

}  // namespace
}  // namespace rwkv
