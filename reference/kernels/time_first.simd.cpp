// Lane code for time_first_v7: one token, all heads. The shader's per-thread
// vec4 partials are stored flat (thread q, component c at index 4q + c), so
// its tree step `shared[q] += shared[q + step]` is, per float, f += f + 4*step
// for f < 4*step: independent elements, vectorised across f. The components
// are folded left to right only at the end, by one scalar chain.
#include "reference/simd/variant.h"
#include "reference/kernels/time_mix_args.h"

namespace rwkv::RWKV_SIMD_NS {
namespace {

constexpr int64_t kMaxHeadSize = 128;

template <class V, class T>
inline void products(const uint16_t* rk, const T* k, const T* r, float* out, int64_t f) {
  lane_store(out + f, (lane_load_f16<V>(rk + f) * lane_load_any<V>(k + f)) * lane_load_any<V>(r + f));
}

// a[f] += a[f + span] for f < span; reads [span, 2*span) and writes [0, span): disjoint.
template <class V> inline void tree_add(float* a, int64_t f, int64_t span) {
  lane_store(a + f, lane_load<V>(a + f) + lane_load<V>(a + f + span));
}

template <class V, class T> inline void add_bonus(T* x, const T* v, float xx, int64_t i) {
  lane_store_any(x + i, lane_load_any<V>(x + i) + lane_splat<V>(xx) * lane_load_any<V>(v + i));
}

template <class T> void run_token(const TimeFirstArgs& a, int64_t t) {
  const int64_t C = a.C, N = a.N;
  const T* r = static_cast<const T*>(a.r) + t * C;
  const T* k = static_cast<const T*>(a.n) + t * C;
  const T* v = static_cast<const T*>(a.n) + a.C * a.T + t * C;
  T* x = static_cast<T*>(a.x) + t * C;
  float shared[kMaxHeadSize];
  for (int64_t h0 = 0; h0 < C; h0 += N) {
    int64_t f = 0;
    for (; f + kLanes <= N; f += kLanes) products<Lane>(a.r_k + h0, k + h0, r + h0, shared, f);
    for (; f < N; ++f) products<float>(a.r_k + h0, k + h0, r + h0, shared, f);
    // Tree over the head's N/4 threads: step = N/8, ..., 1 threads = 4*step floats.
    for (int64_t span = N / 2; span >= 4; span /= 2) {
      f = 0;
      for (; f + kLanes <= span; f += kLanes) tree_add<Lane>(shared, f, span);
      for (; f < span; ++f) tree_add<float>(shared, f, span);
    }
    // dot(shared[0], vec4(1)) in our fixed order ((x + y) + z) + w.
    const float xx = ((shared[0] + shared[1]) + shared[2]) + shared[3];
    int64_t i = 0;
    for (; i + kLanes <= N; i += kLanes) add_bonus<Lane>(x + h0, v + h0, xx, i);
    for (; i < N; ++i) add_bonus<float>(x + h0, v + h0, xx, i);
  }
}

}  // namespace

// All heads of token t.
void time_first_v7_token(const TimeFirstArgs& a, int64_t t) {
  if (a.f16)
    run_token<f16>(a, t);
  else
    run_token<float>(a, t);
}

}  // namespace rwkv::RWKV_SIMD_NS
