#include "reference/metal/simdgroup.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rwkv::metal {

std::string_view mma_order_name(MmaOrder order) {
  switch (order) {
    case MmaOrder::sequential_f32: return "sequential_f32";
    case MmaOrder::pairwise_f32: return "pairwise_f32";
    case MmaOrder::exact_then_round: return "exact_then_round";
    case MmaOrder::chain_f32: return "chain_f32";
  }
  return "?";
}

MmaOrder parse_mma_order(std::string_view text) {
  for (MmaOrder o : kAllMmaOrders)
    if (text == mma_order_name(o)) return o;
  throw std::invalid_argument("unknown MMA order '" + std::string(text) +
                              "': expected one of sequential_f32, pairwise_f32, exact_then_round, chain_f32");
}

Float8x8 Float8x8::filled(float x) {
  Float8x8 m;
  for (float& e : m.v) e = x;
  return m;
}

void load(Half8x8& m, const f16* src, int64_t stride) {
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) m.v[8 * r + c] = src[r * stride + c];
}
void load(Half8x8& m, const float* src, int64_t stride) {
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) m.v[8 * r + c] = to_f16(src[r * stride + c]);
}
void load(Float8x8& m, const float* src, int64_t stride) {
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) m.v[8 * r + c] = src[r * stride + c];
}
void store(const Half8x8& m, f16* dst, int64_t stride) {
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) dst[r * stride + c] = m.v[8 * r + c];
}
void store(const Float8x8& m, float* dst, int64_t stride) {
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) dst[r * stride + c] = m.v[8 * r + c];
}

namespace {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

// A product of two finite halves (exact in f32, never an f32 subnormal) as an
// integer count of 2^-48: p = m * 2^(e - 150), so p * 2^48 = m * 2^(e - 102).
// When e < 102 the low bits shifted out are zero, because p is a multiple of 2^-48.
i128 product_units(float p) {
  const uint32_t u = f32_to_bits(p);
  const uint32_t e = (u >> 23) & 0xffu;
  if (e == 0) return 0;
  const u128 m = (u & 0x7fffffu) | 0x800000u;
  const u128 mag = e >= 102 ? m << (e - 102) : m >> (102 - e);
  return (u >> 31) ? -i128(mag) : i128(mag);
}

int bit_length(u128 v) {
  const uint64_t hi = uint64_t(v >> 64), lo = uint64_t(v);
  if (hi) return 128 - __builtin_clzll(hi);
  return lo ? 64 - __builtin_clzll(lo) : 0;
}

float pow2f(int n) { return bits_to_f32(uint32_t(127 + n) << 23); }  // normal range only

// mag * 2^-48 rounded to f32, nearest even. mag > 0 and below 2^84, so the
// result is a normal float and scaling by a power of two is exact.
float units_to_f32(u128 mag) {
  const int len = bit_length(mag);
  if (len <= 24) return float(uint32_t(mag)) * pow2f(-48);
  const int shift = len - 24;
  u128 q = mag >> shift;
  const u128 rem = mag - (q << shift);
  const u128 half = u128(1) << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) q += 1;  // q may reach 2^24: still exact
  return float(uint32_t(q)) * pow2f(shift - 48);
}

bool finite(float v) { return (f32_to_bits(v) & 0x7f800000u) != 0x7f800000u; }

}  // namespace

float exact_dot8_f32(const float* a, const float* b) {
  float p[8];
  bool all_finite = true, all_neg_zero = true;
  for (int k = 0; k < 8; ++k) {
    p[k] = a[k] * b[k];
    all_finite = all_finite && finite(a[k]) && finite(b[k]);
    all_neg_zero = all_neg_zero && f32_to_bits(p[k]) == 0x80000000u;
  }
  if (!all_finite) {
    // Inf or NaN: IEEE addition decides (NaN if any NaN product or Inf - Inf,
    // else the Inf); the order cannot change which.
    double s = 0.0;
    for (int k = 0; k < 8; ++k) s += double(p[k]);
    return float(s);
  }
  // Fast path: products are m * 2^(e - 150) with m < 2^24; if their biased
  // exponents e span at most 26, every partial sum is a multiple of the
  // smallest one's unit below 2^(e_max - 123), i.e. fits in 53 bits, so the
  // double sum is exact and one conversion rounds it correctly. (Starting
  // from p[0], not +0, keeps the all -0 case -0.)
  int e_min = 255, e_max = 0;
  for (int k = 0; k < 8; ++k) {
    const int e = int((f32_to_bits(p[k]) >> 23) & 0xffu);
    if (e == 0) continue;
    e_min = std::min(e_min, e);
    e_max = std::max(e_max, e);
  }
  if (e_max - e_min <= 26) {
    double s = p[0];
    for (int k = 1; k < 8; ++k) s += double(p[k]);
    return float(s);
  }
  i128 sum = 0;
  for (int k = 0; k < 8; ++k) sum += product_units(p[k]);
  if (sum == 0) return all_neg_zero ? -0.0f : 0.0f;
  const float mag = units_to_f32(sum < 0 ? u128(-sum) : u128(sum));
  return sum < 0 ? -mag : mag;
}

float mma_accumulate(float acc, const float* a, const float* b, MmaOrder order) {
  float d;
  switch (order) {
    case MmaOrder::sequential_f32: {
      float s = a[0] * b[0];
      for (int k = 1; k < 8; ++k) s = s + a[k] * b[k];
      d = acc + s;
      break;
    }
    case MmaOrder::pairwise_f32: {
      const float s01 = a[0] * b[0] + a[1] * b[1], s23 = a[2] * b[2] + a[3] * b[3];
      const float s45 = a[4] * b[4] + a[5] * b[5], s67 = a[6] * b[6] + a[7] * b[7];
      d = acc + ((s01 + s23) + (s45 + s67));
      break;
    }
    case MmaOrder::exact_then_round: d = acc + exact_dot8_f32(a, b); break;
    case MmaOrder::chain_f32:
    default:
      d = acc;
      for (int k = 0; k < 8; ++k) d = d + a[k] * b[k];
      break;
  }
  return canonical_nan_if_nan(d);
}

void mma(Float8x8& D, const Half8x8& A, const Half8x8& B, const Float8x8& C, MmaOrder order) {
  float a[8][8], bt[8][8];  // rows of A, columns of B, widened to float
  for (int r = 0; r < 8; ++r)
    for (int k = 0; k < 8; ++k) {
      a[r][k] = A.at(r, k);
      bt[r][k] = B.at(k, r);
    }
  Float8x8 out;
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) out.v[8 * r + c] = mma_accumulate(C.v[8 * r + c], a[r], bt[c], order);
  D = out;
}

}  // namespace rwkv::metal
