// Lane code for time_mix_v7: one head, all tokens in order. A lane is one
// value channel i (web-rwkv's threads own 4 value channels each); consecutive
// i are contiguous in web-rwkv's state layout (row 1+j, column h*N+i), so
// S[i..i+W-1][j] is one vector load. The sums over keys j (sa_i, y_i) stay
// inside a lane, sequential over j: every SIMD width computes the scalar bits.
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

// Value channels i .. i+W-1 of one head for one token (one lane each).
//   s   &S[i][0]: row j of the head's state block is at s + j*C
//   v   &v_i of this token;  y  &x[t][i], receives y_i
template <class V, class T>
inline void update_values(float* s, int64_t C, int64_t N, const HeadVectors& hv, const T* v, T* y) {
  // sa_i = S_old[i] . A: per group of 4 keys the mat4x4*vec4 term, its 4
  // products added left to right, then added to sa (the shader's `sa += ss*aa`).
  V sa = lane_splat<V>(0.0f);
  for (int64_t j = 0; j < N; j += 4) {
    const float* row = s + j * C;
    V p = lane_load<V>(row) * lane_splat<V>(hv.A[j]);
    p = p + lane_load<V>(row + C) * lane_splat<V>(hv.A[j + 1]);
    p = p + lane_load<V>(row + 2 * C) * lane_splat<V>(hv.A[j + 2]);
    p = p + lane_load<V>(row + 3 * C) * lane_splat<V>(hv.A[j + 3]);
    sa = sa + p;
  }
  // S[i][j] = ((S*w_j) + (k_j*v_i)) + (sa_i*Bv_j), then y_i += r_j * S_new.
  const V vi = lane_load_any<V>(v);
  V acc = lane_splat<V>(0.0f);
  for (int64_t j = 0; j < N; ++j) {
    float* p = s + j * C;
    const V kv = lane_splat<V>(hv.k[j]) * vi;
    const V sn = (lane_load<V>(p) * lane_splat<V>(hv.w[j]) + kv) + sa * lane_splat<V>(hv.Bv[j]);
    lane_store(p, sn);
    acc = acc + lane_splat<V>(hv.r[j]) * sn;
  }
  lane_store_any(y, acc);
}

template <class T> void run_head(const TimeMixArgs& a, int64_t h) {
  const int64_t C = a.C, N = a.N, plane = a.C * a.T;
  const int64_t slot_size = (N + 2) * C;
  const T* r = static_cast<const T*>(a.r);
  const T* z = static_cast<const T*>(a.z);
  const T* n = static_cast<const T*>(a.n);
  T* x = static_cast<T*>(a.x);
  HeadVectors hv;
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t col = t * C + h * N;  // first channel of this head at token t
    float* slot = a.state + int64_t(a.token_slot[t]) * slot_size;
    T* xt = x + col;
    // 1. The chunk's last token leaves its xa in state row 0 (before y overwrites x).
    if (a.token_saves[t])
      for (int64_t c = 0; c < N; ++c) slot[h * N + c] = lane_load_any<float>(xt + c);
    // 2. Shared per-key vectors.
    const HeadInputs<T> in{r + col, z + col, n + col, n + plane + col, n + 2 * plane + col, n + 3 * plane + col};
    prepare_head(in, N, a.neg_decay, hv);
    // 3-5. Every value channel: lanes, then the scalar tail (N < lane width).
    float* s = slot + C + h * N;  // &S_h[0][0]: row 1, column h*N
    int64_t i = 0;
    for (; i + kLanes <= N; i += kLanes) update_values<Lane>(s + i, C, N, hv, in.v + i, xt + i);
    for (; i < N; ++i) update_values<float>(s + i, C, N, hv, in.v + i, xt + i);
  }
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
