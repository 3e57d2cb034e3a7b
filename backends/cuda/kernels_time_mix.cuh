// time_mix_v7 and time_first_v7 (reference/kernels/time_mix.simd.cpp,
// time_first.simd.cpp).
//
// time_mix_v7: one block per head, thread i = value channel i. Thread i keeps
// row i of the head's state S_h[i][0..N-1] in registers for every token of a
// chunk (read from the web-rwkv layout once, written back once, or when the
// token's slot changes); the per-key vectors r, w, k, A = -kk, Bv = kk*a of a
// token are computed by thread j = key j into shared memory. Sums are the
// reference's: sa over key groups of 4 (products added left to right, then
// added to sa), S = ((S*w) + (k*v)) + (sa*Bv), y += r*S sequentially in j.
// Included inside a kernel set's namespace, after device_common.cuh.

// -x as a sign flip (WGSL unary minus; 0 - x would turn -0 into +0).
__device__ __forceinline__ float negate(float x) { return __uint_as_float(__float_as_uint(x) ^ 0x80000000u); }

// Head blockIdx.x by a block of N threads: the kernel below, and a merged
// launch's first part (kernels_merged.cuh). Returns the last token's y as stored.
template <int N, class TA>
__device__ __forceinline__ float time_mix_head(float* state, int64_t C, int64_t T, const TA* r, const TA* z,
                                              const TA* n, TA* x, const DevCursor* cur, float neg_decay) {
  __shared__ float sr[N], sw[N], sk[N], sA[N], sB[N];
  const int64_t h = blockIdx.x;
  const int i = threadIdx.x;
  const int64_t plane = C * T, slot_size = int64_t(N + 2) * C;
  float S[N];
  float last = 0.0f;
  int64_t held = -1;  // the slot whose row S holds
  for (int64_t t = 0; t < T; ++t) {
    const DevCursor cu = cur[t];
    float* slot = state + int64_t(cu.batch) * slot_size;
    const int64_t col = t * C + h * N;
    // 1. The chunk's last token leaves its xa in state row 0 (before y overwrites x).
    if (t == int64_t(cu.start) + int64_t(cu.len) - 1) slot[h * N + i] = ld(x, col + i);
    if (int64_t(cu.batch) != held) {
      if (held >= 0) {
        float* old = state + held * slot_size + C + h * N + i;
#pragma unroll
        for (int j = 0; j < N; ++j) old[int64_t(j) * C] = S[j];
      }
      const float* src = slot + C + h * N + i;
#pragma unroll
      for (int j = 0; j < N; ++j) S[j] = src[int64_t(j) * C];
      held = cu.batch;
    }
    // 2. Key j = i's shared values.
    {
      const int j = i;
      sr[j] = ld(r, col + j);
      const float sg = canon_sigmoid(ld(z, col + j));
      sw[j] = canon_exp(__fmul_rn(neg_decay, sg));
      sk[j] = ld(n, col + j);
      const float kk = ld(n, 3 * plane + col + j);
      sA[j] = negate(kk);
      sB[j] = kk * ld(n, 2 * plane + col + j);
    }
    __syncthreads();
    // 3. sa = S_old[i] . A.
    float sa = 0.0f;
#pragma unroll
    for (int j = 0; j < N; j += 4) {
      float p = S[j] * sA[j];
      p = p + S[j + 1] * sA[j + 1];
      p = p + S[j + 2] * sA[j + 2];
      p = p + S[j + 3] * sA[j + 3];
      sa = sa + p;
    }
    // 4. S update and y.
    const float vi = ld(n, plane + col + i);
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float sn = (S[j] * sw[j] + sk[j] * vi) + sa * sB[j];
      S[j] = sn;
      acc = acc + sr[j] * sn;
    }
    // 5. y into x[t].
    st(x, col + i, acc);
    last = acc;
    __syncthreads();  // the next token overwrites the shared vectors
  }
  if (held >= 0) {
    float* dst = state + held * slot_size + C + h * N + i;
#pragma unroll
    for (int j = 0; j < N; ++j) dst[int64_t(j) * C] = S[j];
  }
  return as_stored(x, last);
}

template <int N, class TA>
__global__ void __launch_bounds__(N) time_mix_k(float* state, int64_t C, int64_t T, const TA* r, const TA* z,
                                                const TA* n, TA* x, const DevCursor* cur, float neg_decay) {
  pdl_enter();
  time_mix_head<N>(state, C, T, r, z, n, x, cur, neg_decay);
}

template <int N>
void launch_time_mix(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay,
                     cudaStream_t s) {
  const int64_t C = x.d0, T = x.d1;
  with_type(x.f16, [&](auto tx) {
    using T_ = decltype(tx);
    launch(time_mix_k<N, T_>, unsigned(C / N), N, 0, s, state.p, C, T, static_cast<const T_*>(r.p),
                                                    static_cast<const T_*>(z.p), static_cast<const T_*>(n.p),
                                                    static_cast<T_*>(x.p), cursors, -decay);
  });
}

// r, z, n and x share one dtype (the reference requires it).
bool time_mix(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay, cudaStream_t s) {
  switch (state.N) {
    case 16: launch_time_mix<16>(state, r, z, n, x, cursors, decay, s); return true;
    case 32: launch_time_mix<32>(state, r, z, n, x, cursors, decay, s); return true;
    case 64: launch_time_mix<64>(state, r, z, n, x, cursors, decay, s); return true;
    case 128: launch_time_mix<128>(state, r, z, n, x, cursors, decay, s); return true;
    default: return false;
  }
}

// time_first_v7: block (head, token), thread f = channel f of the head.
//   shared[f] = (r_k * k) * r; tree span = N/2 .. 4: shared[f] += shared[f + span];
//   xx = ((s0 + s1) + s2) + s3; x += xx * v.
__device__ __forceinline__ float time_first_value(float x, float xx, float v) { return x + xx * v; }

// A head's sum of its N values sh[0 .. N) (thread f holds sh[f]; every thread
// of the block calls it): the tree above, then the fold of the last four.
__device__ __forceinline__ float time_first_tree(float* sh, int f, int N) {
  for (int span = N / 2; span >= 4; span /= 2) {
    float v = 0.0f;
    if (f < span) v = sh[f] + sh[f + span];
    __syncthreads();
    if (f < span) sh[f] = v;
    __syncthreads();
  }
  return ((sh[0] + sh[1]) + sh[2]) + sh[3];
}

template <class T>
__global__ void time_first_k(const h16* rk, const T* r, const T* n, T* x, int64_t C, int64_t Tn, int N) {
  pdl_enter();
  extern __shared__ float shared[];
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const int f = threadIdx.x;
  const int64_t c = h * N + f, at = t * C + c;
  shared[f] = (h2f(rk[c]) * ld(n, at)) * ld(r, at);
  __syncthreads();
  const float xx = time_first_tree(shared, f, N);
  st(x, at, time_first_value(ld(x, at), xx, ld(n, C * Tn + at)));
}

void time_first(const uint16_t* r_k, Dev r, Dev n, Dev x, int64_t head_size, cudaStream_t s) {
  const int64_t C = x.d0, T = x.d1;
  with_type(x.f16, [&](auto tx) {
    using T_ = decltype(tx);
    const dim3 grid(unsigned(C / head_size), unsigned(T));
    launch(time_first_k<T_>, grid, unsigned(head_size), size_t(head_size) * sizeof(float), s, 
        r_k, static_cast<const T_*>(r.p), static_cast<const T_*>(n.p), static_cast<T_*>(x.p), C, T, int(head_size));
  });
}
