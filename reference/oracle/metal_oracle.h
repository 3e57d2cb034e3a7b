#pragma once
// float64 oracles for the Metal kernel_mul_mm emulation (reference/metal/).
//
//  metal_q4k_mul_mm_f64: the exact math of the Metal kernel's operands. The
//    fp16 weights are re-derived here by plain per-element decoding (not via
//    the chunked dequantize_q4_K emulation), activations are rounded to half,
//    and y[t][m] = sum_k wh[m][k]*xh[k][t] is summed in double in k order.
//    Every product of two halves is exact in double, so the only rounding is
//    the double sum's (relative 2^-53 per add, negligible against f32).
//  q4k_mul_f64: the same product from the unrounded operands: f32 weights as
//    llama.cpp's dequantize_row_q4_K gives them and f32 activations, summed
//    in double. The distance between the two is the fp16-operand error of
//    Metal's mul_mm, which tolerances for it have to absorb.
// Both also return, if asked, sum_k |w*x| per output (for error bounds).
#include <cstdint>

#include "reference/formats/matrix.h"
#include "reference/metal/dequantize_q4k.h"
#include "reference/metal/simdgroup.h"

namespace rwkv::oracle {

// y, y_abs (optional, may be null): [M, T], index t*M + m.
void metal_q4k_mul_mm_f64(const Matrix& w, const float* x, int64_t T, metal::HighNibbleScale hn, double* y,
                          double* y_abs = nullptr);
void q4k_mul_f64(const Matrix& w, const float* x, int64_t T, double* y, double* y_abs = nullptr);

// One 8x8 simdgroup MMA in double: D[r][c] = C[r][c] + sum_k A[r][k]*B[k][c],
// k ascending (each product of two halves exact). C and D are [8][8] and may
// be the same array (a running accumulator kept in double).
void mma_f64(const metal::Half8x8& A, const metal::Half8x8& B, const double* C, double* D);

// Metal's fp16 weight operand of row m, element k, derived per element from the
// block: v = f32(d_eff*sc*q - dmin*m) (exact products, one f32 rounding, which
// a double subtraction followed by a float conversion reproduces because double
// has more than 2*24+2 bits), then rounded to half. d_eff = d, or for high
// nibbles d/16 rounded to half (HighNibbleScale::half_divide) or exact.
float metal_q4k_weight_operand(const Matrix& w, int64_t m, int64_t k, metal::HighNibbleScale hn);

}  // namespace rwkv::oracle
