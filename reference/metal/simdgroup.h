#pragma once
// Emulation of Metal's 8x8 simdgroup matrix multiply-accumulate,
//   simdgroup_multiply_accumulate(D, A, B, C):  D = A*B + C
// with simdgroup_half8x8 operands A, B (fp16) and a simdgroup_float8x8
// accumulator C, D (fp32), as llama.cpp's kernel_mul_mm uses it.
//
// Apple does not document the order in which the hardware sums the 8 products
// of one output element, so it is a parameter here (MmaOrder). Whatever the
// order, each product A[r][k]*B[k][c] is exact in f32: a half has an 11-bit
// significand, so a product has at most 22 significant bits, and its magnitude
// lies in [2^-48, 65504^2 < 2^32], far inside f32's normal range. (Tested
// exhaustively over all finite halves against one operand, and at random.)
// Products are therefore formed in f32 and only the additions round.
#include <cstdint>
#include <string_view>

#include "reference/numeric/f16.h"

namespace rwkv::metal {

// How the 8 products of one output element are summed and added to C.
//   p_k = A[r][k] * B[k][c]   (exact in f32), k = 0..7; s and D rounded to f32 after every add.
enum class MmaOrder : uint8_t {
  // s = ((((((p0 + p1) + p2) + p3) + p4) + p5) + p6) + p7;  D = C + s.   The default.
  sequential_f32,
  // s = ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7));   D = C + s.
  pairwise_f32,
  // s = the exact sum of the 8 products, rounded once to f32 (RNE); D = C + s.
  // The bracket: what an 8-term dot unit with a wide internal adder gives.
  exact_then_round,
  // D = (((C + p0) + p1) + ...) + p7: an FMA chain into the accumulator
  // (fma(a, b, d) = d + p rounded once, since p is exact), i.e. what the
  // hardware gives if it runs the MMA as 8 per-lane FMAs in k order.
  chain_f32,
};
inline constexpr MmaOrder kDefaultMmaOrder = MmaOrder::sequential_f32;
inline constexpr MmaOrder kAllMmaOrders[] = {MmaOrder::sequential_f32, MmaOrder::pairwise_f32,
                                             MmaOrder::exact_then_round, MmaOrder::chain_f32};

std::string_view mma_order_name(MmaOrder order);
// Parses "sequential_f32", "pairwise_f32", "exact_then_round", "chain_f32";
// throws std::invalid_argument naming the accepted values otherwise.
MmaOrder parse_mma_order(std::string_view text);

// simdgroup_half8x8: v[8*row + col], fp16 bit patterns.
struct Half8x8 {
  f16 v[64];
  float at(int row, int col) const { return to_f32(v[8 * row + col]); }
};
// simdgroup_float8x8: v[8*row + col].
struct Float8x8 {
  float v[64];
  static Float8x8 filled(float x);  // make_filled_simdgroup_matrix<float, 8>(x)
};

// simdgroup_load / simdgroup_store (not transposed): element (row, col) lives
// at src[row*stride + col]. Loading f32 data into a Half8x8 rounds each
// element to fp16 (RNE, overflow to Inf), as a float -> half conversion does.
void load(Half8x8& m, const f16* src, int64_t stride);
void load(Half8x8& m, const float* src, int64_t stride);
void load(Float8x8& m, const float* src, int64_t stride);
void store(const Half8x8& m, f16* dst, int64_t stride);
void store(const Float8x8& m, float* dst, int64_t stride);

// D = A*B + C: D[r][c] = C[r][c] + sum_k A[r][k]*B[k][c], summed as `order`
// says. D may alias C. A NaN result is stored as the canonical quiet NaN
// (0x7fc00000): Metal does not specify NaN payloads, and on x86 the payload
// depends on operand order, which compilers may swap.
void mma(Float8x8& D, const Half8x8& A, const Half8x8& B, const Float8x8& C,
         MmaOrder order = kDefaultMmaOrder);

// One output element of mma(): acc + (the 8 products a[k]*b[k]), summed as
// `order` says, NaN canonicalised. a and b hold fp16 values widened to float
// (a = row r of A, b = column c of B). The tiled kernels call this per element.
float mma_accumulate(float acc, const float* a, const float* b, MmaOrder order);

// The exact sum of the 8 products a[k]*b[k] of fp16 values, rounded once to
// f32 (RNE). Products of halves are multiples of 2^-48 below 2^32 in
// magnitude, so their sum is held exactly as a 128-bit integer count of
// 2^-48. A zero sum is -0 only if every product is -0 (IEEE's sign rule).
// Non-finite operands fall back to IEEE addition (Inf or NaN results).
float exact_dot8_f32(const float* a, const float* b);

// The canonical quiet NaN every NaN output is stored as.
inline float canonical_nan_if_nan(float v) { return v != v ? bits_to_f32(0x7fc00000u) : v; }

}  // namespace rwkv::metal
