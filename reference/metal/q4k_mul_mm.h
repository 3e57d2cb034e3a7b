#pragma once
// Emulation of llama.cpp's kernel_mul_mm_q4_K_f32, simdgroup path (spec 7.1):
// y = W x for a Q4_K weight W [K, M] and f32 activations x [K, T], T > 8
// tokens (Metal's choice for prefill).
//
// Structure, as on the GPU:
//  - one threadgroup per output tile of 64 weight rows x 32 tokens; K in steps of 32;
//  - per step, 128 threads fill threadgroup memory: `sa` (64 rows x 32 k, half)
//    with dequantize_q4_K chunks, `sb` (32 tokens x 32 k) with activations
//    converted f32 -> half; both laid out as 8x8 tiles exactly as Metal lays them;
//  - 4 simdgroups, each owning 32 rows x 16 tokens as 8 Float8x8 accumulators
//    (zero-initialised), run mc[i] = mb[i/4] * ma[i%4] + mc[i] for the 4 k-slices of 8;
//  - edge tiles: loads clamp to the last valid row/token (as Metal does), and
//    only in-range outputs are stored.
// Per output y[t][m]: acc = +0; for each 8-wide k-slice in increasing k,
// acc = mma_accumulate(acc, xh[t][k..k+7], wh[m][k..k+7], order), with wh, xh
// the fp16 operands. The tiling does not change that sum; it is emulated so the
// code can be read beside the Metal source.
//
// OpenMP splits output tiles (independent), schedule(static): the result is
// the same for every thread count and SIMD level.
#include <cstdint>

#include "reference/formats/matrix.h"
#include "reference/metal/dequantize_q4k.h"
#include "reference/metal/simdgroup.h"

namespace rwkv::metal {

// Tile geometry of kernel_mul_mm (NR0, NR1, NK).
inline constexpr int kMmRows = 64;
inline constexpr int kMmTokens = 32;
inline constexpr int kMmK = 32;

// w: Q4_K, [K, M] (row m holds K values); x: f32 [K, T], x[t*K + k];
// y: f32 [M, T], y[t*M + m]. T == 0 does nothing. NaN outputs are stored as
// the canonical quiet NaN. Throws std::invalid_argument for a non-Q4_K or
// malformed matrix, T < 0, or null pointers.
void metal_q4k_mul_mm(const Matrix& w, const float* x, int64_t T, float* y,
                      MmaOrder order = kDefaultMmaOrder, HighNibbleScale hn = kDefaultHighNibbleScale);

// The fp16 weight operands the kernel multiplies, [M][K] (row m, element k):
// every dequantize_q4_K chunk of the matrix. For tests and tools.
void metal_q4k_weight_operands(const Matrix& w, HighNibbleScale hn, f16* out);

}  // namespace rwkv::metal
