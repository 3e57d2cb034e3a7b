// Catalog entries of the Metal emulation: the 8x8 simdgroup MMA per order
// policy, and the tiled Q4_K kernel_mul_mm per order policy.
#include <string>
#include <vector>

#include "reference/kernel_catalog.h"
#include "reference/metal/q4k_mul_mm.h"
#include "reference/metal/q4k_random.h"
#include "reference/metal/simdgroup.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

using metal::MmaOrder;

std::string mma_order_text(MmaOrder order) {
  switch (order) {
    case MmaOrder::sequential_f32: return "D = C + (((p0+p1)+p2)+...+p7), f32; p = exact half*half";
    case MmaOrder::pairwise_f32: return "D = C + ((p0+p1)+(p2+p3))+((p4+p5)+(p6+p7)), f32; p = exact half*half";
    case MmaOrder::exact_then_round: return "D = C + f32(exact sum of p0..p7); p = exact half*half";
    case MmaOrder::chain_f32: return "D = ((C+p0)+p1)+...+p7, f32 (FMA chain); p = exact half*half";
  }
  return "?";
}

// A half operand value: mostly N(0, 1)-ish, with zeros, signed zeros,
// subnormals, values near the f16 maximum, Inf and NaN mixed in.
float sample_half_value(Rng& rng) {
  const uint32_t pick = rng.next_u32() % 64;
  switch (pick) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return 3.0e-6f * rng.uniform(-1.0f, 1.0f);           // half subnormal
    case 3: return 65504.0f * rng.uniform(-1.0f, 1.0f);          // large
    case 4: return (rng.next_u32() & 1) ? bits_to_f32(0x7f800000u) : bits_to_f32(0xff800000u);
    case 5: return bits_to_f32(0x7fc00000u | (rng.next_u32() >> 10));  // NaN with a payload
    default: return rng.normal();
  }
}

std::vector<uint8_t> mma_sample(MmaOrder order, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> out;
  metal::Float8x8 acc = metal::Float8x8::filled(0.0f);
  for (int rep = 0; rep < 64; ++rep) {
    float a[64], b[64], c[64];
    for (int i = 0; i < 64; ++i) a[i] = sample_half_value(rng), b[i] = sample_half_value(rng), c[i] = rng.normal();
    metal::Half8x8 A, B;
    metal::Float8x8 C, D;
    metal::load(A, a, 8);
    metal::load(B, b, 8);
    metal::load(C, c, 8);
    metal::mma(D, A, B, C, order);
    out.insert(out.end(), D.v, D.v + 64);
    metal::mma(acc, A, B, acc, order);  // a running accumulator, as kernel_mul_mm keeps one
  }
  out.insert(out.end(), acc.v, acc.v + 64);
  std::vector<uint8_t> bytes;
  append_bytes(bytes, out);
  return bytes;
}

std::vector<uint8_t> mul_mm_sample(MmaOrder order, uint64_t seed) {
  std::vector<uint8_t> bytes;
  // Edge tiles in both directions, a full tile, and two K blocks.
  const struct { int64_t K, M, T; } shapes[] = {{256, 70, 37}, {512, 64, 9}};
  uint64_t s = seed;
  for (const auto& sh : shapes) {
    const Matrix w = metal::random_q4k_matrix(sh.K, sh.M, s++);
    Rng rng(s++);
    std::vector<float> x(size_t(sh.K * sh.T));
    for (float& v : x) v = rng.normal();
    x[size_t(sh.K + 3)] = bits_to_f32(0x7fc00001u);  // a NaN in token 1
    std::vector<float> y(size_t(sh.M * sh.T));
    metal::metal_q4k_mul_mm(w, x.data(), sh.T, y.data(), order);
    append_bytes(bytes, y);
  }
  return bytes;
}

}  // namespace

void register_metal_kernels(std::vector<KernelVariant>& out) {
  for (MmaOrder order : metal::kAllMmaOrders) {
    out.push_back({"metal_simdgroup_mma", "-", "-",
                   std::string(metal::mma_order_name(order)) + ": " + mma_order_text(order),
                   [order](uint64_t seed) { return mma_sample(order, seed); }});
  }
  for (MmaOrder order : metal::kAllMmaOrders) {
    out.push_back({"metal_q4k_mul_mm", "q4_k", "-",
                   std::string(metal::mma_order_name(order)) +
                       ": fp16 operands (Metal dequantize_q4_K, d/16 in half; x f32->half); acc = +0, "
                       "then per 8-wide k-slice ascending acc = MMA(" + mma_order_text(order) + ")",
                   [order](uint64_t seed) { return mul_mm_sample(order, seed); }});
  }
}

}  // namespace rwkv
