// Catalog entries of the Metal emulation: the 8x8 simdgroup MMA per order
// policy, and the tiled Q4_K kernel_mul_mm per order policy.
#include <string>
#include <vector>

#include <fmt/format.h>

#include "reference/formats/matrix_case.h"
#include "reference/kernel_catalog.h"
#include "reference/metal/q4k_mul_mm.h"
#include "reference/metal/q4k_random.h"
#include "reference/metal/simdgroup.h"
#include "reference/oracle/metal_oracle.h"
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

// 64 MMAs on seeded 8x8 operands: each on its own C, and all 64 into one
// running accumulator from 0, as kernel_mul_mm keeps one.
std::vector<KernelCase> mma_cases(MmaOrder order, uint64_t seed, WithOracle oracle) {
  constexpr int kReps = 64;
  Rng rng(seed);
  std::vector<metal::Half8x8> A(kReps), B(kReps);
  std::vector<metal::Float8x8> C(kReps), D(kReps);
  for (int rep = 0; rep < kReps; ++rep) {
    float a[64], b[64], c[64];
    for (int i = 0; i < 64; ++i) a[i] = sample_half_value(rng), b[i] = sample_half_value(rng), c[i] = rng.normal();
    metal::load(A[size_t(rep)], a, 8);
    metal::load(B[size_t(rep)], b, 8);
    metal::load(C[size_t(rep)], c, 8);
  }
  metal::Float8x8 acc = metal::Float8x8::filled(0.0f);
  for (int rep = 0; rep < kReps; ++rep) {
    metal::mma(D[size_t(rep)], A[size_t(rep)], B[size_t(rep)], C[size_t(rep)], order);
    metal::mma(acc, A[size_t(rep)], B[size_t(rep)], acc, order);
  }
  const Dims dims{kReps, 8, 8};
  KernelCase each("64 MMAs D = A*B + C, each on its own C");
  each.input("a", ElemType::f16, dims, A.data());
  each.input("b", ElemType::f16, dims, B.data());
  each.input("c", ElemType::f32, dims, C.data());
  CaseTensor& d = each.output("d", ElemType::f32, dims, D.data());
  KernelCase chain("64 MMAs into one accumulator: acc = A_i*B_i + acc, i = 0..63, from acc = 0");
  chain.input("a", ElemType::f16, dims, A.data());
  chain.input("b", ElemType::f16, dims, B.data());
  CaseTensor& acc_out = chain.output("acc", ElemType::f32, {8, 8}, acc.v);
  if (oracle == WithOracle::yes) {
    d.f64.resize(64 * kReps);
    acc_out.f64.assign(64, 0.0);
    for (int rep = 0; rep < kReps; ++rep) {
      double c[64];
      for (int i = 0; i < 64; ++i) c[i] = C[size_t(rep)].v[i];
      oracle::mma_f64(A[size_t(rep)], B[size_t(rep)], c, d.f64.data() + 64 * rep);
      oracle::mma_f64(A[size_t(rep)], B[size_t(rep)], acc_out.f64.data(), acc_out.f64.data());
    }
  }
  std::vector<KernelCase> cases;
  cases.push_back(std::move(each));
  cases.push_back(std::move(chain));
  return cases;
}

std::vector<KernelCase> mul_mm_cases(MmaOrder order, uint64_t seed, WithOracle oracle) {
  std::vector<KernelCase> cases;
  // A full tile and edge tiles in both directions; two K blocks with a
  // partial row tile; two K blocks with a full row tile.
  const struct { int64_t K, M, T; } shapes[] = {{256, 70, 37}, {512, 8, 9}, {512, 64, 9}};
  uint64_t s = seed;
  for (const auto& sh : shapes) {
    const Matrix w = metal::random_q4k_matrix(sh.K, sh.M, s++);
    Rng rng(s++);
    std::vector<float> x(size_t(sh.K * sh.T));
    for (float& v : x) v = rng.normal();
    x[size_t(sh.K + 3)] = bits_to_f32(0x7fc00001u);  // a NaN in token 1
    std::vector<float> y(size_t(sh.M * sh.T));
    metal::metal_q4k_mul_mm(w, x.data(), sh.T, y.data(), order);
    std::vector<f16> operands(size_t(sh.K * sh.M));
    metal::metal_q4k_weight_operands(w, metal::kDefaultHighNibbleScale, operands.data());
    KernelCase c(fmt::format("K {}, M {}, T {}, a NaN in token 1", sh.K, sh.M, sh.T));
    add_matrix_params(c, w);
    c.param("T", sh.T);
    c.param("high_nibble_scale", std::string(metal::high_nibble_scale_name(metal::kDefaultHighNibbleScale)));
    for (CaseTensor& t : matrix_tensors(w, "w_", true)) c.inputs.push_back(std::move(t));
    c.input("w_operands", ElemType::f16, {uint64_t(sh.M), uint64_t(sh.K)}, operands.data());
    c.input("x", ElemType::f32, {uint64_t(sh.T), uint64_t(sh.K)}, x.data());
    CaseTensor& o = c.output("y", ElemType::f32, {uint64_t(sh.T), uint64_t(sh.M)}, y.data());
    if (oracle == WithOracle::yes) {
      o.f64.resize(y.size());
      oracle::metal_q4k_mul_mm_f64(w, x.data(), sh.T, metal::kDefaultHighNibbleScale, o.f64.data());
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

void register_metal_kernels(std::vector<KernelVariant>& out) {
  for (MmaOrder order : metal::kAllMmaOrders) {
    out.push_back(make_variant("metal_simdgroup_mma", "-", "-",
                               std::string(metal::mma_order_name(order)) + ": " + mma_order_text(order),
                               "C + sum_k A[r][k]*B[k][c] in double, k ascending (products of halves exact); the "
                               "running accumulator kept in double",
                               [order](uint64_t seed, WithOracle o) { return mma_cases(order, seed, o); },
                               std::string(metal::mma_order_name(order))));
  }
  for (MmaOrder order : metal::kAllMmaOrders) {
    out.push_back(make_variant(
        "metal_q4k_mul_mm", "q4_k", "-",
        std::string(metal::mma_order_name(order)) +
            ": fp16 operands (Metal dequantize_q4_K, d/16 in half; x f32->half); acc = +0, "
            "then per 8-wide k-slice ascending acc = MMA(" + mma_order_text(order) + ")",
        "sum_k wh[m][k]*xh[k] in double over the same fp16 operands (w_operands, x rounded to half), k in order "
        "(oracle/metal_oracle.h)",
        [order](uint64_t seed, WithOracle o) { return mul_mm_cases(order, seed, o); },
        std::string(metal::mma_order_name(order))));
  }
}

}  // namespace rwkv
