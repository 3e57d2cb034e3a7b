#include "reference/metal/q4k_mul_mm.h"

#include <algorithm>

#include "reference/formats/blocks.h"
#include "reference/tensor.h"

namespace rwkv::metal {
namespace {

constexpr const char* kKernel = "metal_q4k_mul_mm";
constexpr int kThreads = 128;           // 4 simdgroups of 32
constexpr int kChunksPerBlock = 16;     // dequantize_q4_K chunks of 16 per 256-value block
constexpr int64_t kParallelMinTileK = 2048;  // tiles * K below this: one thread (< ~4M MACs)

// Threadgroup memory of one tile, in Metal's layout:
//   sa: 8x8 tile ib = 8*kslice + rowgroup, element [k%8][row%8] at 64*ib + 8*(k%8) + row%8
//   sb: 8x8 tile ib = 4*kslice + tokgroup, element [tok%8][k%8] at 64*ib + 8*(tok%8) + k%8
struct TileMemory {
  f16 sa[kMmRows * kMmK];
  f16 sb[kMmTokens * kMmK];
};

// Step loop_k's loads. Thread t dequantises chunk il = (loop_k % 256)/16 + t%2
// of row t/2; it also converts the 8 activations k = loop_k + 8*(t%4) .. +7 of
// token t/4. Rows and tokens past the edge load the last valid one (Metal's
// clamp); their outputs are never stored.
void load_step(const Matrix& w, const float* x, int64_t r0, int64_t r1, int nr0, int nr1, int64_t loop_k,
               HighNibbleScale hn, TileMemory& tg) {
  const int64_t row_bytes = blocks::ggml_row_bytes(w.format, w.K);
  for (int t = 0; t < kThreads; ++t) {
    const int lr0 = std::min(t / 2, nr0 - 1), il0 = t % 2;
    const int il = int((loop_k % blocks::kQK_K) / 16) + il0;
    const uint8_t* block = w.data + (r0 + lr0) * row_bytes + (loop_k / blocks::kQK_K) * blocks::kQ4KBytes;
    f16 chunk[16];
    dequantize_q4k_chunk(block, il, hn, chunk);
    for (int i = 0; i < 16; ++i) {
      const int sx = 2 * il0 + i / 8, sy = (t / 2) / 8, lx = (t / 2) % 8, ly = i % 8;
      tg.sa[64 * (8 * sx + sy) + 8 * ly + lx] = chunk[i];
    }
    const int lr1 = std::min(t / 4, nr1 - 1), iy = 8 * (t % 4);
    const float* src = x + (r1 + lr1) * w.K + loop_k + iy;
    const int sx = t % 4, sy = (t / 4) / 8, ly = (t / 4) % 8;
    for (int i = 0; i < 8; ++i) tg.sb[64 * (4 * sx + sy) + 8 * ly + i] = to_f16(src[i]);
  }
}

// Simdgroup sg's work for one K step: rows 32*(sg%2) .., tokens 16*(sg/2) ..
void simdgroup_step(const TileMemory& tg, int sg, MmaOrder order, Float8x8* mc) {
  const f16* lsma = tg.sa + 4 * 64 * (sg % 2);
  const f16* lsmb = tg.sb + 2 * 64 * (sg / 2);
  for (int ik = 0; ik < kMmK / 8; ++ik) {
    Half8x8 ma[4], mb[2];
    for (int i = 0; i < 4; ++i) load(ma[i], lsma + 64 * i, 8);  // [k][row]
    for (int i = 0; i < 2; ++i) load(mb[i], lsmb + 64 * i, 8);  // [token][k]
    for (int i = 0; i < 8; ++i) mma(mc[i], mb[i / 4], ma[i % 4], mc[i], order);
    lsma += 8 * 64;
    lsmb += 4 * 64;
  }
}

void compute_tile(const Matrix& w, const float* x, int64_t T, float* y, int64_t r0, int64_t r1, MmaOrder order,
                  HighNibbleScale hn) {
  const int nr0 = int(std::min<int64_t>(kMmRows, w.M - r0));
  const int nr1 = int(std::min<int64_t>(kMmTokens, T - r1));
  TileMemory tg;
  Float8x8 mc[4][8];
  for (auto& sg : mc)
    for (auto& m : sg) m = Float8x8::filled(0.0f);
  // Metal runs all 4 simdgroups; one whose rows or tokens all lie past the
  // edge stores nothing, so skipping it changes no output.
  bool active[4];
  for (int sg = 0; sg < 4; ++sg) active[sg] = 32 * (sg % 2) < nr0 && 16 * (sg / 2) < nr1;
  for (int64_t loop_k = 0; loop_k < w.K; loop_k += kMmK) {
    load_step(w, x, r0, r1, nr0, nr1, loop_k, hn, tg);
    for (int sg = 0; sg < 4; ++sg)
      if (active[sg]) simdgroup_step(tg, sg, order, mc[sg]);
  }
  // simdgroup_store of mc[i] at rows 32*(sg%2) + 8*(i%4), tokens 16*(sg/2) + 8*(i/4).
  for (int sg = 0; sg < 4; ++sg) {
    if (!active[sg]) continue;
    for (int i = 0; i < 8; ++i)
      for (int rt = 0; rt < 8; ++rt)
        for (int rm = 0; rm < 8; ++rm) {
          const int tok = 16 * (sg / 2) + 8 * (i / 4) + rt, row = 32 * (sg % 2) + 8 * (i % 4) + rm;
          if (tok < nr1 && row < nr0) y[(r1 + tok) * w.M + r0 + row] = mc[sg][i].v[8 * rt + rm];
        }
  }
}

}  // namespace

void metal_q4k_mul_mm(const Matrix& w, const float* x, int64_t T, float* y, MmaOrder order, HighNibbleScale hn) {
  if (w.format != WeightFormat::q4_k) fail_arg("{}: w has format {}, expected q4_k", kKernel, format_name(w.format));
  blocks::validate_matrix(w, kKernel);
  if (T < 0) fail_arg("{}: T = {} must be >= 0", kKernel, T);
  if (T == 0) return;
  if (x == nullptr) fail_arg("{}: x has no data", kKernel);
  if (y == nullptr) fail_arg("{}: y has no data", kKernel);
  const int64_t tiles_m = (w.M + kMmRows - 1) / kMmRows;
  const int64_t tiles_t = (T + kMmTokens - 1) / kMmTokens;
  const int64_t tiles = tiles_m * tiles_t;
  // Tiles are independent outputs; each is computed whole by one thread.
  // Small products stay on one thread: forking a team costs more than the
  // work, and on a busy machine the team waits for its slowest member. Which
  // thread computes a tile never changes its bits.
  const bool parallel = tiles > 1 && tiles * w.K >= kParallelMinTileK;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < tiles; ++i)
    compute_tile(w, x, T, y, (i % tiles_m) * kMmRows, (i / tiles_m) * kMmTokens, order, hn);
}

void metal_q4k_weight_operands(const Matrix& w, HighNibbleScale hn, f16* out) {
  if (w.format != WeightFormat::q4_k) fail_arg("metal_q4k_weight_operands: w has format {}, expected q4_k", format_name(w.format));
  blocks::validate_matrix(w, "metal_q4k_weight_operands");
  const int64_t row_bytes = blocks::ggml_row_bytes(w.format, w.K);
  for (int64_t m = 0; m < w.M; ++m)
    for (int64_t b = 0; b < w.K / blocks::kQK_K; ++b)
      for (int il = 0; il < kChunksPerBlock; ++il)
        dequantize_q4k_chunk(w.data + m * row_bytes + b * blocks::kQ4KBytes, il, hn,
                             out + m * w.K + b * blocks::kQK_K + 16 * il);
}

}  // namespace rwkv::metal
