// State layout converters: the element mapping, exact round trips (every bit
// pattern, NaN payloads included), other slots untouched, bad arguments.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "reference/kernels/state_layout.h"
#include "reference/numeric/f16.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

// Random 32-bit patterns: normals, subnormals, Infs, NaNs with payloads.
std::vector<float> random_bits(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& f : v) f = bits_to_f32(rng.next_u32());
  return v;
}

std::vector<float> zeros(int64_t n) { return std::vector<float>(static_cast<size_t>(n), 0.0f); }

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * 4) == 0; }

struct Shape3 { int64_t C, N, B; };
const Shape3 kShapes[] = {{256, 64, 3}, {256, 128, 1}, {40, 8, 2}};

TEST(StateLayout, OfficialElementMapping) {
  for (const auto& [C, N, B] : kShapes) {
    auto data = random_bits(1, size_t(C * (N + 2) * B));
    const LayerState s{data.data(), C, N, B};
    std::vector<float> att = zeros(C), wkv = zeros(C * N), ffn = zeros(C);
    for (int64_t b = 0; b < B; ++b) {
      state_slot_to_official(s, b, att, wkv, ffn);
      EXPECT_TRUE(same_bits(att.data(), s.row(b, 0), size_t(C)));
      EXPECT_TRUE(same_bits(ffn.data(), s.row(b, N + 1), size_t(C)));
      for (int64_t h = 0; h < C / N; ++h)
        for (int64_t i = 0; i < N; ++i)
          for (int64_t j = 0; j < N; ++j) {
            // official [h][i = value][j = key]; web-rwkv row 1 + j, column h*N + i.
            const float web = s.row(b, 1 + j)[h * N + i];
            ASSERT_EQ(f32_to_bits(wkv[size_t((h * N + i) * N + j)]), f32_to_bits(web));
          }
    }
  }
}

TEST(StateLayout, GgmlElementMappingAndShiftOrder) {
  const int64_t C = 128, N = 64, B = 2;
  auto data = random_bits(2, size_t(C * (N + 2) * B));
  const LayerState s{data.data(), C, N, B};
  std::vector<float> wkv = zeros(C * N), shift = zeros(2 * C), att = zeros(C), wkv_o = zeros(C * N), ffn = zeros(C);
  state_slot_to_ggml(s, 1, wkv, shift);
  state_slot_to_official(s, 1, att, wkv_o, ffn);
  EXPECT_TRUE(same_bits(wkv.data(), wkv_o.data(), wkv.size()));  // ggml's h*N*N + i*N + j is the official order
  EXPECT_TRUE(same_bits(shift.data(), s.att_shift(1), size_t(C)));
  EXPECT_TRUE(same_bits(shift.data() + C, s.ffn_shift(1), size_t(C)));
}

TEST(StateLayout, RoundTripsAreExact) {
  for (const auto& [C, N, B] : kShapes) {
    const auto original = random_bits(3, size_t(C * (N + 2) * B));
    const auto att0 = random_bits(4, size_t(C)), wkv0 = random_bits(5, size_t(C * N)),
               ffn0 = random_bits(6, size_t(C)), shift0 = random_bits(7, size_t(2 * C));
    for (int64_t b = 0; b < B; ++b) {
      // web -> official -> web and web -> ggml -> web, into a state holding other bits.
      std::vector<float> src = original, dst = random_bits(8, original.size());
      const LayerState s{src.data(), C, N, B}, d{dst.data(), C, N, B};
      std::vector<float> att = zeros(C), wkv = zeros(C * N), ffn = zeros(C), shift = zeros(2 * C);
      state_slot_to_official(s, b, att, wkv, ffn);
      state_slot_from_official(att, wkv, ffn, d, b);
      EXPECT_TRUE(same_bits(d.row(b, 0), s.row(b, 0), size_t(C * (N + 2))));
      const auto untouched = dst;
      state_slot_to_ggml(s, b, wkv, shift);
      state_slot_from_ggml(wkv, shift, d, b);
      EXPECT_TRUE(same_bits(dst.data(), untouched.data(), dst.size()));
      // Other slots of the destination keep their bits.
      const auto noise = random_bits(8, original.size());
      for (int64_t o = 0; o < B; ++o)
        if (o != b) {
          EXPECT_TRUE(same_bits(d.row(o, 0), noise.data() + o * C * (N + 2), size_t(C * (N + 2))));
        }
      // official -> web -> official and ggml -> web -> ggml.
      std::vector<float> att1 = zeros(C), wkv1 = zeros(C * N), ffn1 = zeros(C), shift1 = zeros(2 * C);
      state_slot_from_official(att0, wkv0, ffn0, d, b);
      state_slot_to_official(d, b, att1, wkv1, ffn1);
      EXPECT_TRUE(same_bits(att1.data(), att0.data(), att0.size()));
      EXPECT_TRUE(same_bits(wkv1.data(), wkv0.data(), wkv0.size()));
      EXPECT_TRUE(same_bits(ffn1.data(), ffn0.data(), ffn0.size()));
      state_slot_from_ggml(wkv0, shift0, d, b);
      state_slot_to_ggml(d, b, wkv1, shift1);
      EXPECT_TRUE(same_bits(wkv1.data(), wkv0.data(), wkv0.size()));
      EXPECT_TRUE(same_bits(shift1.data(), shift0.data(), shift0.size()));
    }
  }
}

void expect_invalid(const std::function<void()>& f, const std::string& fn, const std::string& arg) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one naming " << arg;
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fn), std::string::npos) << what;
    EXPECT_NE(what.find(arg), std::string::npos) << what;
  }
}

TEST(StateLayout, BadArguments) {
  const int64_t C = 128, N = 64, B = 2;
  std::vector<float> data = zeros(C * (N + 2) * B);
  const LayerState s{data.data(), C, N, B};
  std::vector<float> att = zeros(C), wkv = zeros(C * N), ffn = zeros(C), shift = zeros(2 * C), small = zeros(3);
  expect_invalid([&] { state_slot_to_official(s, 2, att, wkv, ffn); }, "state_slot_to_official", "batch");
  expect_invalid([&] { state_slot_to_official(s, 0, small, wkv, ffn); }, "state_slot_to_official", "att_shift");
  expect_invalid([&] { state_slot_from_official(att, small, ffn, s, 0); }, "state_slot_from_official", "wkv");
  expect_invalid([&] { state_slot_from_official(att, wkv, small, s, 0); }, "state_slot_from_official", "ffn_shift");
  expect_invalid([&] { state_slot_to_ggml(s, -1, wkv, shift); }, "state_slot_to_ggml", "batch");
  expect_invalid([&] { state_slot_from_ggml(wkv, att, s, 0); }, "state_slot_from_ggml", "token_shift");
  expect_invalid([&] { state_slot_to_ggml(LayerState{nullptr, C, N, B}, 0, wkv, shift); }, "state_slot_to_ggml",
                 "state");
  expect_invalid([&] { state_slot_to_ggml(LayerState{data.data(), 100, N, B}, 0, wkv, shift); },
                 "state_slot_to_ggml", "multiple of N");
}

}  // namespace
}  // namespace rwkv
