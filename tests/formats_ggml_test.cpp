// The ggml block codecs (Q4_K, Q6_K, Q8_0): known answers from llama.cpp
// (../shared/vectors), error bounds on seeded rows, edge inputs, bad arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/util/rng.h"
#include "tests/support/npy.h"

namespace rwkv {
namespace {

struct GgmlCodec {
  WeightFormat format;
  const char* name;
  int block_values;
  int block_bytes;
  void (*quantize)(const float*, int64_t, uint8_t*);
  void (*dequantize_block)(const uint8_t*, float*);
};

const GgmlCodec kQ4K{WeightFormat::q4_k, "q4_k", blocks::kQK_K, blocks::kQ4KBytes, quantize_row_q4_k,
                     blocks::dequantize_q4_k_block};
const GgmlCodec kQ6K{WeightFormat::q6_k, "q6_k", blocks::kQK_K, blocks::kQ6KBytes, quantize_row_q6_k,
                     blocks::dequantize_q6_k_block};
const GgmlCodec kQ80{WeightFormat::q8_0, "q8_0", blocks::kQ8_0Values, blocks::kQ8_0Bytes, quantize_row_q8_0,
                     blocks::dequantize_q8_0_block};

std::vector<uint8_t> quantize(const GgmlCodec& c, const std::vector<float>& x) {
  std::vector<uint8_t> out(x.size() / size_t(c.block_values) * size_t(c.block_bytes));
  c.quantize(x.data(), int64_t(x.size()), out.data());
  return out;
}

std::vector<float> dequantize(const GgmlCodec& c, const uint8_t* bytes, size_t n) {
  std::vector<float> out(n);
  for (size_t b = 0; b < n / size_t(c.block_values); ++b)
    c.dequantize_block(bytes + b * size_t(c.block_bytes), out.data() + b * size_t(c.block_values));
  return out;
}

// ---------------------------------------------------------------- known answers

struct KnownAnswerCase {
  const GgmlCodec* codec;
  const char* set;  // "" (36 x 256) or "wide_" (4 x 4096)
};

class GgmlKnownAnswer : public ::testing::TestWithParam<KnownAnswerCase> {};

TEST_P(GgmlKnownAnswer, QuantiserBytesAndDequantiserBitsMatchLlamaCpp) {
  const GgmlCodec& c = *GetParam().codec;
  const std::string base = fmt::format("{}/vectors/{}_{}", RWKV_SHARED_DIR, c.name, GetParam().set);
  const auto input = test::read_npy(base + "input.f32.npy");
  const auto blocks_file = test::read_npy(base + "blocks.u8.npy");
  const auto dequant_file = test::read_npy(base + "dequant.f32.npy");
  ASSERT_EQ(input.shape.size(), 2u);
  const int64_t rows = input.shape[0], K = input.shape[1];
  const int64_t row_bytes = K / c.block_values * c.block_bytes;
  blocks_file.require_shape({rows, row_bytes});
  dequant_file.require_shape({rows, K});
  const std::vector<float> x = input.f32();
  const std::vector<uint8_t>& want_bytes = blocks_file.u8();
  const std::vector<float> want_dequant = dequant_file.f32();

  int64_t rows_equal = 0, bytes_equal = 0, values_equal = 0;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(x.begin() + r * K, x.begin() + (r + 1) * K);
    const std::vector<uint8_t> got = quantize(c, row);
    const uint8_t* want = want_bytes.data() + r * row_bytes;
    int64_t first_diff = -1;
    for (int64_t i = 0; i < row_bytes; ++i) {
      if (got[size_t(i)] == want[i]) ++bytes_equal;
      else if (first_diff < 0) first_diff = i;
    }
    if (first_diff < 0) ++rows_equal;
    else ADD_FAILURE() << c.name << " " << GetParam().set << "row " << r << ": first differing byte at " << first_diff;

    // The decoder on llama.cpp's own bytes must give its floats bit for bit.
    const std::vector<float> got_dq = dequantize(c, want, size_t(K));
    for (int64_t i = 0; i < K; ++i) {
      const uint32_t a = f32_to_bits(got_dq[size_t(i)]), b = f32_to_bits(want_dequant[size_t(r * K + i)]);
      if (a == b) ++values_equal;
      else if (values_equal + 1 == r * K + i + 1)  // report the first mismatch only
        ADD_FAILURE() << c.name << " row " << r << " value " << i << ": " << got_dq[size_t(i)] << " vs "
                      << want_dequant[size_t(r * K + i)];
    }
  }
  const std::string summary = fmt::format("{} {}: quantiser {}/{} rows, {}/{} bytes equal; dequantiser {}/{} values "
                                          "bit-identical",
                                          c.name, GetParam().set[0] ? "wide" : "standard", rows_equal, rows,
                                          bytes_equal, rows * row_bytes, values_equal, rows * K);
  RecordProperty("summary", summary);
  std::printf("[ known    ] %s\n", summary.c_str());
  EXPECT_EQ(rows_equal, rows);
  EXPECT_EQ(values_equal, rows * K);
}

INSTANTIATE_TEST_SUITE_P(Vectors, GgmlKnownAnswer,
                         ::testing::Values(KnownAnswerCase{&kQ4K, ""}, KnownAnswerCase{&kQ4K, "wide_"},
                                           KnownAnswerCase{&kQ6K, ""}, KnownAnswerCase{&kQ6K, "wide_"},
                                           KnownAnswerCase{&kQ80, ""}, KnownAnswerCase{&kQ80, "wide_"}),
                         [](const auto& info) {
                           return std::string(info.param.codec->name) + (info.param.set[0] ? "_wide" : "_standard");
                         });

}  // namespace
}  // namespace rwkv
