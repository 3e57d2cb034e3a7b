// Lane code for time_mix_v7: one head, all tokens in order. A lane is one
// value channel i (web-rwkv's threads own 4 value channels each); consecutive
// i are contiguous in web-rwkv's state layout (row 1+j, column h*N+i), so
// S[i..i+W-1][j] is one vector load. The sums over keys j (sa_i, y_i) stay
// inside a lane, sequential over j: every SIMD width computes the scalar bits.
// Memory: each call reads a head's block once and writes it once per slot run
// (it is held in a local buffer across the tokens); the two passes per token
// (sa, then the update) run on that L1-resident copy.
#include "reference/simd/variant.h"
#include "reference/kernels/time_mix_args.h"

namespace rwkv::RWKV_SIMD_NS {
namespace {

constexpr int64_t kMaxHeadSize = 128;  // time_mix_head_size_supported()

// -x as a sign flip (WGSL unary minus): 0 - x would turn -0 into +0.
inline float lane_negate(float x) { return lane_from_bits(lane_bits(x) ^ int32_t(0x80000000u)); }
#ifdef RWKV_LANES_XSIMD
template <class A> inline xsimd::batch<float, A> lane_negate(xsimd::batch<float, A> x) {
  return lane_from_bits(lane_bits(x) ^ xsimd::batch<int32_t, A>(int32_t(0x80000000u)));
}
#endif

// One head's per-token vectors over its N keys j: the shader's shared_r, _w,
// _k, _a (= -kk) and _b (= kk * a). Computed once per token, read by all lanes.
struct HeadVectors {
  float r[kMaxHeadSize];
  float w[kMaxHeadSize];
  float k[kMaxHeadSize];
  float A[kMaxHeadSize];
  float Bv[kMaxHeadSize];
};

// Per-token activation pointers of one head (element j of each is key j).
template <class T> struct HeadInputs {
  const T* r;
  const T* z;
  const T* k;
  const T* v;
  const T* a;
  const T* kk;
};

// Element-wise over keys j .. j+W-1 (lanes are keys here; nothing is summed).
template <class V, class T>
inline void prepare_keys(const HeadInputs<T>& in, float neg_decay, HeadVectors& hv, int64_t j) {
  lane_store(hv.r + j, lane_load_any<V>(in.r + j));
  const V s = canon_sigmoid(lane_load_any<V>(in.z + j));
  lane_store(hv.w + j, canon_exp(lane_splat<V>(neg_decay) * s));
  lane_store(hv.k + j, lane_load_any<V>(in.k + j));
  const V kk = lane_load_any<V>(in.kk + j);
  lane_store(hv.A + j, lane_negate(kk));
  lane_store(hv.Bv + j, kk * lane_load_any<V>(in.a + j));
}

template <class T>
inline void prepare_head(const HeadInputs<T>& in, int64_t N, float neg_decay, HeadVectors& hv) {
  int64_t j = 0;
  for (; j + kLanes <= N; j += kLanes) prepare_keys<Lane>(in, neg_decay, hv, j);
  for (; j < N; ++j) prepare_keys<float>(in, neg_decay, hv, j);
}

// Value channels i .. i+G*W-1 of one head for one token: G vectors of W
// lanes, one lane per channel. G > 1 only interleaves independent lanes (more
// instruction-level parallelism); every lane runs the same operation sequence.
//   s   &S[i][0] in the head's block: row j (key j) at s + j*stride
//   v   &v_i of this token;  y  &x[t][i], receives y_i
template <class V, int G, class T>
inline void update_values(float* s, int64_t stride, int64_t N, const HeadVectors& hv, const T* v, T* y) {
  constexpr int W = lane_width<V>;
  // sa_i = S_old[i] . A: per group of 4 keys the mat4x4*vec4 term, its 4
  // products added left to right, then added to sa (the shader's `sa += ss*aa`).
  V sa[G];
  for (int g = 0; g < G; ++g) sa[g] = lane_splat<V>(0.0f);
  for (int64_t j = 0; j < N; j += 4) {
    const float* row = s + j * stride;
    const V a0 = lane_splat<V>(hv.A[j]), a1 = lane_splat<V>(hv.A[j + 1]);
    const V a2 = lane_splat<V>(hv.A[j + 2]), a3 = lane_splat<V>(hv.A[j + 3]);
    for (int g = 0; g < G; ++g) {
      const float* c = row + g * W;
      V p = lane_load<V>(c) * a0;
      p = p + lane_load<V>(c + stride) * a1;
      p = p + lane_load<V>(c + 2 * stride) * a2;
      p = p + lane_load<V>(c + 3 * stride) * a3;
      sa[g] = sa[g] + p;
    }
  }
  // S[i][j] = ((S*w_j) + (k_j*v_i)) + (sa_i*Bv_j), then y_i += r_j * S_new.
  V vi[G], acc[G];
  for (int g = 0; g < G; ++g) {
    vi[g] = lane_load_any<V>(v + g * W);
    acc[g] = lane_splat<V>(0.0f);
  }
  for (int64_t j = 0; j < N; ++j) {
    float* row = s + j * stride;
    const V wj = lane_splat<V>(hv.w[j]), kj = lane_splat<V>(hv.k[j]);
    const V bj = lane_splat<V>(hv.Bv[j]), rj = lane_splat<V>(hv.r[j]);
    for (int g = 0; g < G; ++g) {
      const V sn = (lane_load<V>(row + g * W) * wj + kj * vi[g]) + sa[g] * bj;
      lane_store(row + g * W, sn);
      acc[g] = acc[g] + rj * sn;
    }
  }
  for (int g = 0; g < G; ++g) lane_store_any(y + g * W, acc[g]);
}

// One head's N x N block (key rows j, value columns i) copied between the
// state (row stride C) and a packed local buffer (row stride N): the web-rwkv
// layout puts rows C floats apart, so the N rows of a head share a few L1
// sets and evict each other between the two passes of every token. Pure
// copies: the bits are those the state holds.
inline void copy_block(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t N) {
  for (int64_t j = 0; j < N; ++j) std::memcpy(dst + j * dst_stride, src + j * src_stride, size_t(N) * 4);
}

template <class T> void run_head(const TimeMixArgs& a, int64_t h) {
  const int64_t C = a.C, N = a.N, plane = a.C * a.T;
  const int64_t slot_size = (N + 2) * C;
  const T* r = static_cast<const T*>(a.r);
  const T* z = static_cast<const T*>(a.z);
  const T* n = static_cast<const T*>(a.n);
  T* x = static_cast<T*>(a.x);
  HeadVectors hv;
  alignas(64) float block[kMaxHeadSize * kMaxHeadSize];
  float* held = nullptr;  // &S_h[0][0] (row 1, column h*N) of the slot whose block is in `block`
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t col = t * C + h * N;  // first channel of this head at token t
    float* slot = a.state + int64_t(a.token_slot[t]) * slot_size;
    T* xt = x + col;
    // 1. The chunk's last token leaves its xa in state row 0 (before y overwrites x).
    if (a.token_saves[t])
      for (int64_t c = 0; c < N; ++c) slot[h * N + c] = lane_load_any<float>(xt + c);
    // The head's state block of this token's slot, held locally across tokens.
    float* s = slot + C + h * N;
    if (s != held) {
      if (held) copy_block(held, C, block, N, N);
      copy_block(block, N, s, C, N);
      held = s;
    }
    // 2. Shared per-key vectors.
    const HeadInputs<T> in{r + col, z + col, n + col, n + plane + col, n + 2 * plane + col, n + 3 * plane + col};
    prepare_head(in, N, a.neg_decay, hv);
    // 3-5. Every value channel: 4 vectors at a time, then single vectors, then
    // the scalar tail (N narrower than the lanes).
    int64_t i = 0;
    for (; i + 4 * kLanes <= N; i += 4 * kLanes) update_values<Lane, 4>(block + i, N, N, hv, in.v + i, xt + i);
    for (; i + kLanes <= N; i += kLanes) update_values<Lane, 1>(block + i, N, N, hv, in.v + i, xt + i);
    for (; i < N; ++i) update_values<float, 1>(block + i, N, N, hv, in.v + i, xt + i);
  }
  if (held) copy_block(held, C, block, N, N);
}

}  // namespace

// All tokens of head h, in stacking order.
void time_mix_v7_head(const TimeMixArgs& a, int64_t h) {
  if (a.f16)
    run_head<f16>(a, h);
  else
    run_head<float>(a, h);
}

}  // namespace rwkv::RWKV_SIMD_NS
