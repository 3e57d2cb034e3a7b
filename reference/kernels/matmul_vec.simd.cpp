// Lane code of matmul_vec (web-rwkv matmul_vec_*.wgsl, plain non-subgroup variant).
//
// CANONICAL ORDER. One workgroup of 128 threads computes rows m0..m0+3 of one
// token (the last group of a matrix with M % 4 != 0 has fewer rows; each row's
// bits are independent of its group-mates). For each row r:
//   1. thread i (0..127) visits the vec4 columns c = i, i+128, i+256, ... < K/4
//      in that order, starting from p_i = +0, and does
//        p_i = p_i + dot4(W[r][4c..4c+3], x[4c..4c+3])
//      with dot4 = ((w0*x0 + w1*x1) + w2*x2) + w3*x3 (every * and + rounded to f32).
//      Sparse input: the update is skipped when x[4c..4c+3] are all == 0 (+0 or -0).
//      (Run as the dense update where that provably gives the same bits, with
//      the literal skip where it might not: "sparse input as a dense update".)
//   2. tree: for s = 64, 32, 16, 8, 4, 2, 1: p_i = p_i + p_{i+s} for i < s.
//   3. y = act(p_0) in f32 (canon_activate), rounded once to y's dtype.
// Weights are the f32 values of matmul_weights.inc (blocks.h); x is f16 or f32.
//
// LANES. Lane l of a vector is one thread: a vector holds the partials of
// kLanes consecutive threads, whose columns are kLanes consecutive quads =
// 4*kLanes consecutive values of K. Those values are loaded in natural order
// and regrouped by lane_transpose_quads (a bit permutation), so each lane does
// exactly the scalar thread's operations. The input is regrouped the same way
// once per token (x_scratch). The tree adds whole vectors while the pairs
// (i, i+s) sit in the same lane, then finishes in thread order. Columns beyond
// K are padded with x = 0 and w = 0: dot4 is then +0, and p + (+0) == p because
// a partial that starts at +0 is never -0.
//
// WORK ORDER (no effect on bits): OpenMP splits row groups statically; a
// single token walks the group's rows one after another (one sequential
// weight stream per thread), several tokens share each decoded weight block.
// A single token on AVX-512 with q4_k or q6_k weights takes the fast
// path below run(): the same lanes and order, the weights regrouped by cheaper
// instructions (set_matmul_vec_fast_path switches it off for comparisons).
#include <cstring>

#include "reference/simd/variant.h"
#include "reference/kernels/parallel_work.h"
#include "reference/kernels/matmul_detail.h"
#include "reference/formats/blocks.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/matmul_lanes.inc"
#include "reference/kernels/matmul_weights.inc"

namespace {

using matmul_detail::VecArgs;

constexpr int kThreads = 128;              // web-rwkv BLOCK_SIZE
constexpr int kRows = 4;                   // output rows per workgroup
constexpr int kBlock = 4 * kLanes;         // values of K in one lane block (kLanes threads)
constexpr int kSlots = kThreads / kLanes;  // lane blocks per sweep of the 128 threads
constexpr int kTokenChunk = 8;             // tokens sharing one decode of the weights
// From this K on, a single token's rows are walked side by side (accumulate_any):
// its f32 x scratch (32 KiB) no longer fits L1 beside the weight stream.
// Measured on Zen 4 (bench/README.md): at K = 8192 (1.5b ffn.matmul_v) 4 rows
// side by side took 0.67x the time of one row after the other; at K = 2048
// and 4096 they took 1.1-1.8x.
constexpr int64_t kWideK = 8192;
// What one output costs beyond its K multiply-adds (the tree, the activation,
// the store), in multiply-adds, for the OpenMP threshold: a LoRA matrix with
// K = 64 and M = 2048 is 131K MACs, below kParallelMinMacs, but its 2048 trees
// make it as slow as a 1.4M-MAC product (measured: 54 ns a row in a 1.5b decode step on Zen 4).
constexpr int64_t kRowCost = 512;
static_assert(kDecodeChunk % kBlock == 0);

// Regroups token x (K values) into x_scratch: lane block b holds, at
// [b*kBlock + q*kLanes + l], element q of the quad of lane l; nonzero[b*kLanes
// + l] is 1 unless that quad is all zeros (for sparse input).
template <class X>
void regroup_input(const X* x, int64_t K, int64_t blocks, float* out, float* nonzero) {
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t e0 = b * kBlock;
    Lane q0, q1, q2, q3;
    if (e0 + kBlock <= K) {
      q0 = lane_load_any<Lane>(x + e0), q1 = lane_load_any<Lane>(x + e0 + kLanes);
      q2 = lane_load_any<Lane>(x + e0 + 2 * kLanes), q3 = lane_load_any<Lane>(x + e0 + 3 * kLanes);
    } else {  // tail: zero columns beyond K
      alignas(64) float t[kBlock];
      for (int i = 0; i < kBlock; ++i) t[i] = e0 + i < K ? lane_load_any<float>(x + e0 + i) : 0.0f;
      q0 = lane_load<Lane>(t), q1 = lane_load<Lane>(t + kLanes);
      q2 = lane_load<Lane>(t + 2 * kLanes), q3 = lane_load<Lane>(t + 3 * kLanes);
    }
    lane_transpose_quads(q0, q1, q2, q3);
    float* o = out + b * kBlock;
    lane_store(o, q0), lane_store(o + kLanes, q1), lane_store(o + 2 * kLanes, q2), lane_store(o + 3 * kLanes, q3);
    const Lane zero = lane_splat<Lane>(0.0f);
    const Lane all_zero = lane_select(q0 == zero, lane_select(q1 == zero, lane_select(q2 == zero,
                                      lane_select(q3 == zero, lane_splat<Lane>(1.0f), zero), zero), zero), zero);
    lane_store(nonzero + b * kLanes, lane_splat<Lane>(1.0f) - all_zero);
  }
}

// The weights of one row, as lane blocks of regrouped values.
struct F16Row {  // fp16 read directly
  const uint16_t* row;
  int64_t K;
  void load(int64_t e0, Lane& a, Lane& b, Lane& c, Lane& d) const {
    if (e0 + kBlock <= K) {
      a = lane_load_f16<Lane>(row + e0), b = lane_load_f16<Lane>(row + e0 + kLanes);
      c = lane_load_f16<Lane>(row + e0 + 2 * kLanes), d = lane_load_f16<Lane>(row + e0 + 3 * kLanes);
    } else {  // the row's last, partial block: its halves copied beside f16 zeros (+0.0), then widened as above
      alignas(64) uint16_t t[kBlock] = {};
      std::memcpy(t, row + e0, size_t(K - e0) * sizeof(uint16_t));
      a = lane_load_f16<Lane>(t), b = lane_load_f16<Lane>(t + kLanes), c = lane_load_f16<Lane>(t + 2 * kLanes),
      d = lane_load_f16<Lane>(t + 3 * kLanes);
    }
    lane_transpose_quads(a, b, c, d);
  }
};
struct DecodedRow {  // any format, decoded kDecodeChunk values at a time into a zero-padded buffer
  const float* chunk;  // values k0 .. k0 + kDecodeChunk
  int64_t k0;
  void load(int64_t e0, Lane& a, Lane& b, Lane& c, Lane& d) const {
    const float* p = chunk + (e0 - k0);
    a = lane_load<Lane>(p), b = lane_load<Lane>(p + kLanes), c = lane_load<Lane>(p + 2 * kLanes),
    d = lane_load<Lane>(p + 3 * kLanes);
    lane_transpose_quads(a, b, c, d);
  }
};

// Whether any of the kLanes nonzero flags at p is set (one vector compare).
inline bool any_nonzero(const float* p) {
#ifdef RWKV_LANES_XSIMD
  return xsimd::any(lane_load<Lane>(p) != lane_splat<Lane>(0.0f));
#else
  return *p != 0.0f;
#endif
}

// Step 1 for lane blocks [b_begin, b_end) of rows r0..r0+nr-1 and tokens 0..nt-1.
// NR and NT > 0 fix the row and token counts at compile time (the common full
// groups, unrolled); 0 means "given at run time" (tails).
template <bool kSparse, int NR, int NT, class Row>
inline void accumulate(const Row* rows, int nr_rt, int nt_rt, int64_t b_begin, int64_t b_end, const float* xs,
                       const float* nz, int64_t x_stride, int64_t nz_stride, Lane (*P)[kRows][kSlots], int r0 = 0) {
  const int nr = NR > 0 ? NR : nr_rt, nt = NT > 0 ? NT : nt_rt;
  for (int64_t b = b_begin; b < b_end; ++b) {
    if constexpr (kSparse) {  // whole lane block skipped by every token: nothing to do
      bool any = false;
      for (int t = 0; t < nt && !any; ++t) any = any_nonzero(nz + t * nz_stride + b * kLanes);
      if (!any) continue;
    }
    const int slot = int(b % kSlots);
    for (int r = 0; r < nr; ++r) {
      Lane w0, w1, w2, w3;
      rows[r0 + r].load(b * kBlock, w0, w1, w2, w3);
      for (int t = 0; t < nt; ++t) {
        const float* xq = xs + t * x_stride + b * kBlock;
        const Lane d = dot4(w0, w1, w2, w3, lane_load<Lane>(xq), lane_load<Lane>(xq + kLanes),
                            lane_load<Lane>(xq + 2 * kLanes), lane_load<Lane>(xq + 3 * kLanes));
        Lane& p = P[t][r0 + r][slot];
        if constexpr (kSparse)
          p = lane_select(lane_load<Lane>(nz + t * nz_stride + b * kLanes) != lane_splat<Lane>(0.0f), p + d, p);
        else
          p = p + d;
      }
    }
  }
}

// The dense update (sparse ops too: see "sparse input as a dense update").
template <class Row>
inline void accumulate_any(const Row* rows, int nr, int nt, int64_t b_begin, int64_t b_end, const float* xs,
                           const float* nz, int64_t x_stride, int64_t nz_stride, Lane (*P)[kRows][kSlots]) {
  if (nt == 1 && nr == kRows && (b_end - b_begin) * kBlock >= kWideK) {
    // A wide token (its regrouped x fills L1): the group's rows side by side,
    // so each x block read from L2 serves all of them.
    accumulate<false, kRows, 1>(rows, nr, nt, b_begin, b_end, xs, nz, x_stride, nz_stride, P);
  } else if (nt == 1) {  // one row after the other: the rows of a group are one sequential stream in memory
    for (int r = 0; r < nr; ++r)
      accumulate<false, 1, 1>(rows, 1, 1, b_begin, b_end, xs, nz, x_stride, nz_stride, P, r);
  } else if (nr == kRows && nt == kTokenChunk)
    accumulate<false, kRows, kTokenChunk>(rows, nr, nt, b_begin, b_end, xs, nz, x_stride, nz_stride, P);
  else
    accumulate<false, 0, 0>(rows, nr, nt, b_begin, b_end, xs, nz, x_stride, nz_stride, P);
}

// Where each thread of a lane block sits: lane_of_thread[i] is the lane of
// thread i of a slot (the inverse of quad_lane_order). On AVX-512, pull[k]
// moves thread i + s to thread i's lane for the in-slot tree level s = 8 >> k.
struct LaneTree {
  int lane_of_thread[kLanes];
#if defined(RWKV_SIMD_VARIANT_avx512)
  __m512i pull[4];
#endif
  LaneTree() {
    int lane_quad[kLanes];
    quad_lane_order(lane_quad);
    for (int l = 0; l < kLanes; ++l) lane_of_thread[lane_quad[l]] = l;
#if defined(RWKV_SIMD_VARIANT_avx512)
    for (int k = 0, s = 8; k < 4; ++k, s /= 2) {
      alignas(64) int32_t idx[16];
      for (int l = 0; l < 16; ++l) idx[l] = l;  // lanes of threads >= s: unused
      for (int i = 0; i < s; ++i) idx[lane_of_thread[i]] = lane_of_thread[i + s];
      pull[k] = _mm512_load_si512(idx);
    }
#endif
  }
};

// Step 2 for one row of one token: the tree over the row's partials (slots are
// consumed); returns p_0. Tree levels s >= kLanes pair thread i with i + s in
// the same lane of another slot: whole-vector adds. The last levels pair
// threads inside slot 0: taken out in thread order (lane_of_thread) and added
// one by one, or on AVX-512 in the register: a permute brings thread i + s to
// thread i's lane and one vector add does every p_i + p_{i+s} of the level
// (the same operands in the same order; lanes of threads >= s compute values
// nobody reads).
inline float reduce(Lane* slots, const LaneTree& tree) {
  int s = kThreads / 2;
  for (; s >= kLanes; s /= 2)
    for (int j = 0; j < s / kLanes; ++j) slots[j] = slots[j] + slots[j + s / kLanes];
#if defined(RWKV_SIMD_VARIANT_avx512)
  __m512 v = slots[0];
  for (int k = 0; k < 4; ++k) v = _mm512_add_ps(v, _mm512_maskz_permutexvar_ps(kAll16, tree.pull[k], v));
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, v);
  return lanes[tree.lane_of_thread[0]];
#else
  alignas(64) float lanes[kLanes];
  lane_store(lanes, slots[0]);
  float p[kLanes];
  for (int i = 0; i < kLanes; ++i) p[i] = lanes[tree.lane_of_thread[i]];
  for (; s >= 1; s /= 2)
    for (int i = 0; i < s; ++i) p[i] = p[i] + p[i + s];
  return p[0];
#endif
}

// SPARSE INPUT AS A DENSE UPDATE (no effect on bits). Skipping a quad whose
// four inputs are all zero changes nothing when its weights are finite: each
// w*x is then +0 or -0, so is dot4, and p + (+-0) == p because p is never -0
// (it starts at +0, and a sum is -0 only when both operands are). So the
// sparse op runs the dense update, without the per-quad flag test, and checks
// each row's p_0: a non-finite weight in a skipped quad makes that quad's dot4
// NaN (inf*0, NaN*0), which no later add removes, so a p_0 that is not NaN
// proves the two orders gave the same partials. A NaN row is recomputed with
// the literal skip (sparse_row below), whose bits are the canonical ones.
template <class Y>
void sparse_row(const VecArgs& a, int64_t t, int64_t m, const LaneTree& tree, Y* y);

// Steps 2 and 3 for row m of token t: y = act(p_0) rounded once; with
// kSparse, a NaN p_0 (see above) sends the row to sparse_row.
template <bool kSparse, class Y>
inline void reduce_and_store(Lane* slots, const LaneTree& tree, const VecArgs& a, int64_t t, int64_t m, Y* y) {
  const float p0 = reduce(slots, tree);
  if (kSparse && p0 != p0) return sparse_row(a, t, m, tree, y);
  lane_store_any(y + t * a.w.M + m, canon_activate(a.act, p0));
}

template <class Y>
void sparse_row(const VecArgs& a, int64_t t, int64_t m, const LaneTree& tree, Y* y) {
  const auto& w = a.w;
  const int64_t K = w.K, Kp = matmul_detail::padded_k(K), blocks = (K + kBlock - 1) / kBlock;
  const float* xs = a.x_scratch + t * Kp;
  const float* nz = a.x_nonzero + t * Kp / 4;
  Lane P[1][kRows][kSlots];
  for (int s = 0; s < kSlots; ++s) P[0][0][s] = lane_splat<Lane>(0.0f);
  if (w.format == WeightFormat::fp16) {
    const F16Row row{reinterpret_cast<const uint16_t*>(w.data) + m * K, K};
    accumulate<true, 1, 1>(&row, 1, 1, 0, blocks, xs, nz, Kp, Kp / 4, P);
  } else {
    alignas(64) float chunk[kDecodeChunk];
    for (int64_t k0 = 0; k0 < K; k0 += kDecodeChunk) {
      const int64_t n = K - k0 < kDecodeChunk ? K - k0 : kDecodeChunk;
      decode_weights(w, m, k0, n, chunk);
      for (int64_t i = n; i < kDecodeChunk; ++i) chunk[i] = 0.0f;
      const DecodedRow row{chunk, k0};
      accumulate<true, 1, 1>(&row, 1, 1, k0 / kBlock, (k0 + n + kBlock - 1) / kBlock, xs, nz, Kp, Kp / 4, P);
    }
  }
  lane_store_any(y + t * w.M + m, canon_activate(a.act, reduce(P[0][0], tree)));
}

#if defined(RWKV_SIMD_VARIANT_avx512)
// SINGLE-TOKEN FAST PATH (AVX-512, q4_k and q6_k; no effect on bits). The
// lane loop decodes a quantised row 256 values at a time into a chunk in
// memory, reloads it and regroups it with 8 float shuffles per lane block.
// Here each lane block's weights reach the same lane registers as
// DecodedRow::load + lane_transpose_quads would give them (lane l = element e
// of quad perm(l), perm(l) = l/4 + 4*(l%4), checked against quad_lane_order
// before use), decoded in registers:
//   q4_k: the 32 code bytes of the block's two sub-blocks widened to 64 codes
//         (high-nibble sub-block tagged +16), one dword permute putting each
//         lane's quad in its dword, and looked up (vpermt2ps, element e
//         shifted to the index bits) in the two sub-blocks' 16-entry tables
//         D_j*f32(q) - M_j, each entry computed with the decoder's own two
//         operations, so every weight has decode_q4_k_block's bits;
//   q6_k: the 64 six-bit codes assembled from ql and qh by byte shifts, 32
//         subtracted in each byte, the same dword permute, element e taken out
//         sign-extended, then S_j * f32(q - 32) with S_j = f32(d)*sc_j, as
//         decode_q6_k_block.
// The accumulation is the lane loop's: block b into slot b % kSlots, dot4,
// p + d (sparse input too, as the lane loop: see "sparse input as a dense
// update"), then reduce_and_store. Rows go one after the other (one
// sequential stream per thread), 8 blocks at a time so the slots stay in
// registers, with a software prefetch a few blocks ahead.
// fp16 stays on the lane loop: an fp16 version of this path (two vpermt2w per
// block instead of 8 shuffles, slots in registers, with or without prefetch)
// measured 10-50% slower than the lane loop on a hot 8 MB matrix on one Zen 4
// core (bench/README.md).
constexpr __mmask32 kAll32 = 0xffffffffu;

bool fast_perm_ok(const int* lane_quad) {
  for (int l = 0; l < 16; ++l)
    if (lane_quad[l] != l / 4 + 4 * (l % 4)) return false;
  return true;
}

// p + dot4 of lane block b: the weights given, x block b of the regrouped token.
inline void fast_update(Lane& p, Lane w0, Lane w1, Lane w2, Lane w3, const float* xs, int64_t b) {
  const float* xq = xs + b * kBlock;
  const Lane d = dot4(w0, w1, w2, w3, lane_load<Lane>(xq), lane_load<Lane>(xq + kLanes),
                      lane_load<Lane>(xq + 2 * kLanes), lane_load<Lane>(xq + 3 * kLanes));
  p = p + d;
}

struct FastQ4K {
  __m512i lane_quads;  // dword l: perm(l)
  __m512i tag;         // bytes 32..63: 16 (the high-nibble sub-block's half of a two-table lookup)
  Lane iota;
  FastQ4K() {
    alignas(64) int32_t lq[16];
    alignas(64) uint8_t tg[64];
    alignas(64) float io[16];
    for (int l = 0; l < 16; ++l) lq[l] = l / 4 + 4 * (l % 4), io[l] = float(l);
    for (int i = 0; i < 64; ++i) tg[i] = i < 32 ? 0 : 16;
    lane_quads = _mm512_load_si512(lq), tag = _mm512_load_si512(tg);
    iota = lane_load<Lane>(io);
  }
  // Lane block g (0..3) of a Q4_K block at blk whose sub-block scales are D, Mn:
  // values 64g..64g+63, the low nibbles (sub-block 2g) then the high nibbles
  // (2g+1) of bytes 32g..32g+31 of qs.
  inline void load(const uint8_t* blk, int g, const float* D, const float* Mn, Lane& a, Lane& b, Lane& c,
                   Lane& d) const {
    // byte v = code of value v, +16 for v >= 32 (the second table)
    const __m512i q = _mm512_maskz_broadcast_i64x4(kAll8, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * g)));
    __m512i codes = _mm512_mask_srli_epi16(q, __mmask32(0xffff0000u), q, 4);
    codes = _mm512_or_si512(_mm512_and_si512(codes, _mm512_set1_epi8(15)), tag);
    // dword v/4 = quad v/4's four codes; dword l of the result: lane l's quad,
    // element e in byte e. vpermt2ps reads only bits 0..4 of each dword index,
    // so shifting element e down to byte 0 is all the widening it needs.
    codes = _mm512_maskz_permutexvar_epi32(kAll16, lane_quads, codes);
    const __m512 t0 = iota * lane_splat<Lane>(D[2 * g]) - lane_splat<Lane>(Mn[2 * g]);
    const __m512 t1 = iota * lane_splat<Lane>(D[2 * g + 1]) - lane_splat<Lane>(Mn[2 * g + 1]);
    a = Lane(_mm512_permutex2var_ps(t0, codes, t1));
    b = Lane(_mm512_permutex2var_ps(t0, _mm512_maskz_srli_epi32(kAll16, codes, 8), t1));
    c = Lane(_mm512_permutex2var_ps(t0, _mm512_maskz_srli_epi32(kAll16, codes, 16), t1));
    d = Lane(_mm512_permutex2var_ps(t0, _mm512_maskz_srli_epi32(kAll16, codes, 24), t1));
  }
};

// decode_q4_k_block's D_j = f32(d)*sc_j and M_j = f32(dmin)*m_j.
inline void q4k_scales(const uint8_t* b, float* D, float* Mn) {
  const float d = weight_f16(b), dmin = weight_f16(b + 2);
  const uint8_t* s = b + 4;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    rwkv::blocks::q4k_scale_min(j, s, &sc, &m);
    D[j] = d * float(sc), Mn[j] = dmin * float(m);
  }
}

void fast_row_q4k(const FastQ4K& f, const uint8_t* row, int64_t K, const float* xs, Lane* P) {
  const int64_t superblocks = K / 256;  // K % 256 == 0 for q4_k (validate_matrix)
  static_assert(kSlots == 8 && kBlock == 64);
  Lane acc[kSlots];
  for (int s = 0; s < kSlots; ++s) acc[s] = lane_splat<Lane>(0.0f);
  alignas(64) float D[8], Mn[8];
  int64_t sb = 0;
  for (; sb + 2 <= superblocks; sb += 2) {  // 8 lane blocks: slots 0..7
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const uint8_t* blk = row + (sb + h) * 144;
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 2 * 144 * 2, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 2 * 144 * 2 + 64, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 2 * 144 * 2 + 128, _MM_HINT_T0);
      q4k_scales(blk, D, Mn);
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        Lane w0, w1, w2, w3;
        f.load(blk, g, D, Mn, w0, w1, w2, w3);
        fast_update(acc[4 * h + g], w0, w1, w2, w3, xs, (sb + h) * 4 + g);
      }
    }
  }
  if (sb < superblocks) {  // an odd last superblock: slots 0..3
    const uint8_t* blk = row + sb * 144;
    q4k_scales(blk, D, Mn);
    for (int g = 0; g < 4; ++g) {
      Lane w0, w1, w2, w3;
      f.load(blk, g, D, Mn, w0, w1, w2, w3);
      fast_update(acc[g], w0, w1, w2, w3, xs, sb * 4 + g);
    }
  }
  for (int s = 0; s < kSlots; ++s) P[s] = acc[s];
}

struct FastQ6K {
  __m512i lane_quads;  // dword l: perm(l)
  FastQ6K() {
    alignas(64) int32_t lq[16];
    for (int l = 0; l < 16; ++l) lq[l] = l / 4 + 4 * (l % 4);
    lane_quads = _mm512_load_si512(lq);
  }
  // Lane block 2n + h of a Q6_K block at blk with scales S[k] = f32(d)*sc[k]:
  // values 128n + 64h + v, v < 64: low bits nibble h of ql[64n + v], high bits
  // (qh[32n + v % 32] >> (4h + 2*(v >= 32))) & 3, scale S[8n + 4h + v/16]
  // (decode_q6_k_block's out[l], out[l+32] for h = 0, out[l+64], out[l+96] for h = 1).
  inline void load(const uint8_t* blk, int n, int h, const float* S, Lane& a, Lane& b, Lane& c, Lane& d) const {
    const __m512i m15 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3);
    __m512i lo = _mm512_loadu_si512(blk + 64 * n);
    if (h) lo = _mm512_maskz_srli_epi16(kAll32, lo, 4);
    lo = _mm512_and_si512(lo, m15);
    const __m512i qh = _mm512_maskz_broadcast_i64x4(kAll8, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * n)));
    __m512i hi = h ? _mm512_maskz_srli_epi16(kAll32, qh, 4) : qh;
    hi = _mm512_mask_srli_epi16(hi, __mmask32(0xffff0000u), hi, 2);
    hi = _mm512_maskz_slli_epi16(kAll32, _mm512_and_si512(hi, m3), 4);
    // q - 32 in each byte (signed, exact), then the dword permute: element e
    // of lane l's quad in byte e, taken out sign-extended by two shifts.
    const __m512i q32 = _mm512_maskz_sub_epi8(~__mmask64(0), _mm512_or_si512(lo, hi), _mm512_set1_epi8(32));
    const __m512i codes = _mm512_maskz_permutexvar_epi32(kAll16, lane_quads, q32);
    // lane l's quad perm(l) lies in the 16-value group perm(l)/4 = l % 4
    const Lane scale = Lane(_mm512_maskz_broadcast_f32x4(kAll16, _mm_loadu_ps(S + 8 * n + 4 * h)));
    auto value = [&](__m512i c) {  // S * f32(q - 32), as the decoder
      return scale * Lane(_mm512_maskz_cvtepi32_ps(kAll16, c));
    };
    a = value(_mm512_maskz_srai_epi32(kAll16, _mm512_maskz_slli_epi32(kAll16, codes, 24), 24));
    b = value(_mm512_maskz_srai_epi32(kAll16, _mm512_maskz_slli_epi32(kAll16, codes, 16), 24));
    c = value(_mm512_maskz_srai_epi32(kAll16, _mm512_maskz_slli_epi32(kAll16, codes, 8), 24));
    d = value(_mm512_maskz_srai_epi32(kAll16, codes, 24));
  }
};

void fast_row_q6k(const FastQ6K& f, const uint8_t* row, int64_t K, const float* xs, Lane* P) {
  const int64_t superblocks = K / 256;
  Lane acc[kSlots];
  for (int s = 0; s < kSlots; ++s) acc[s] = lane_splat<Lane>(0.0f);
  alignas(64) float S[16];
  auto superblock = [&](int64_t sb, int slot0) {
    const uint8_t* blk = row + sb * 210;
    for (int i = 0; i < 4; ++i)
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 4 * 210 + 64 * i, _MM_HINT_T0);
    const float dd = weight_f16(blk + 208);
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    for (int k = 0; k < 16; ++k) S[k] = dd * float(sc[k]);
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) {
      Lane w0, w1, w2, w3;
      f.load(blk, g / 2, g % 2, S, w0, w1, w2, w3);
      fast_update(acc[slot0 + g], w0, w1, w2, w3, xs, sb * 4 + g);
    }
  };
  int64_t sb = 0;
  for (; sb + 2 <= superblocks; sb += 2) superblock(sb, 0), superblock(sb + 1, 4);
  if (sb < superblocks) superblock(sb, 0);
  for (int s = 0; s < kSlots; ++s) P[s] = acc[s];
}
#endif  // RWKV_SIMD_VARIANT_avx512

template <bool kSparse, class Y>
void run(const VecArgs& a, Y* y) {
  const auto& w = a.w;
  const int64_t K = w.K, M = w.M, T = a.T;
  const int64_t Kp = matmul_detail::padded_k(K), blocks = (K + kBlock - 1) / kBlock;
  int lane_quad[kLanes];  // within a lane block, thread = quad
  quad_lane_order(lane_quad);
  const LaneTree tree;

#pragma omp parallel for schedule(static) if (T > 1 && K * T >= kParallelMinElements)
  for (int64_t t = 0; t < T; ++t) {
    if (a.x_f16)
      regroup_input(static_cast<const f16*>(a.x) + t * K, K, blocks, a.x_scratch + t * Kp, a.x_nonzero + t * Kp / 4);
    else
      regroup_input(static_cast<const float*>(a.x) + t * K, K, blocks, a.x_scratch + t * Kp,
                    a.x_nonzero + t * Kp / 4);
  }

  const int64_t groups = (M + kRows - 1) / kRows;
#if defined(RWKV_SIMD_VARIANT_avx512)
  if (a.fast && T == 1 && fast_perm_ok(lane_quad) &&
      (w.format == WeightFormat::q4_k || w.format == WeightFormat::q6_k)) {
    const FastQ4K q4k;
    const FastQ6K q6k;
#pragma omp parallel for schedule(static) if (M * (K + kRowCost) >= kParallelMinMacs)
    for (int64_t m = 0; m < M; ++m) {
      Lane P[kSlots];
      if (w.format == WeightFormat::q4_k)
        fast_row_q4k(q4k, w.data + m * w.row_bytes, K, a.x_scratch, P);
      else
        fast_row_q6k(q6k, w.data + m * w.row_bytes, K, a.x_scratch, P);
      reduce_and_store<kSparse>(P, tree, a, 0, m, y);
    }
    return;
  }
#endif
#pragma omp parallel for schedule(static) if (M * T * (K + kRowCost) >= kParallelMinMacs)
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t m0 = g * kRows;
    const int nr = int(M - m0 < kRows ? M - m0 : kRows);
    Lane P[kTokenChunk][kRows][kSlots];
    alignas(64) float chunk[kRows][kDecodeChunk];
    for (int64_t t0 = 0; t0 < T; t0 += kTokenChunk) {
      const int nt = int(T - t0 < kTokenChunk ? T - t0 : kTokenChunk);
      for (int t = 0; t < nt; ++t)
        for (int r = 0; r < kRows; ++r)
          for (int s = 0; s < kSlots; ++s) P[t][r][s] = lane_splat<Lane>(0.0f);
      const float* xs = a.x_scratch + t0 * Kp;
      const float* nz = a.x_nonzero + t0 * Kp / 4;
      if (w.format == WeightFormat::fp16) {
        F16Row rows[kRows];
        for (int r = 0; r < nr; ++r) rows[r] = F16Row{reinterpret_cast<const uint16_t*>(w.data) + (m0 + r) * K, K};
        accumulate_any(rows, nr, nt, 0, blocks, xs, nz, Kp, Kp / 4, P);
      } else {
        for (int64_t k0 = 0; k0 < K; k0 += kDecodeChunk) {
          const int64_t n = K - k0 < kDecodeChunk ? K - k0 : kDecodeChunk;
          const int64_t b_end = (k0 + n + kBlock - 1) / kBlock;
          DecodedRow rows[kRows];
          for (int r = 0; r < nr; ++r) {
            decode_weights(w, m0 + r, k0, n, chunk[r]);
            for (int64_t i = n; i < kDecodeChunk; ++i) chunk[r][i] = 0.0f;
            rows[r] = DecodedRow{chunk[r], k0};
          }
          accumulate_any(rows, nr, nt, k0 / kBlock, b_end, xs, nz, Kp, Kp / 4, P);
        }
      }
      for (int t = 0; t < nt; ++t)
        for (int r = 0; r < nr; ++r) reduce_and_store<kSparse>(P[t][r], tree, a, t0 + t, m0 + r, y);
    }
  }
}

}  // namespace

void matmul_vec_lanes(const VecArgs& a) {
  if (a.y_f16) {
    if (a.sparse) run<true>(a, static_cast<f16*>(a.y));
    else run<false>(a, static_cast<f16*>(a.y));
  } else {
    if (a.sparse) run<true>(a, static_cast<float*>(a.y));
    else run<false>(a, static_cast<float*>(a.y));
  }
}

}  // namespace rwkv::RWKV_SIMD_NS
