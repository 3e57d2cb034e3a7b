// The matmuls in the reference's orders (reference/kernels/matmul_vec.simd.cpp,
// matmul_mat.simd.cpp) and the weight decoders (matmul_weights.inc): every
// format decodes to the f32 value blocks.h defines, operation for operation.
//
//   matmul_vec_canon  one block of 128 threads per (4 output rows, token):
//                     thread i visits the vec4 columns i, i+128, ... adding
//                     dot4 = ((w0*x0 + w1*x1) + w2*x2) + w3*x3 to its partial
//                     (sparse input: an all-zero input quad is skipped), then
//                     the tree at strides 64..1, then the activation.
//   matmul_mat_simt   per output one sequential sum over K of dot4 pieces,
//                     tiled 64 rows x 64 tokens through shared memory.
// Included inside a kernel set's namespace, after device_common.cuh.

__device__ __forceinline__ uint16_t u16_at(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }

// Q4_K sub-block j's 6-bit scale and min (get_scale_min_k4).
__device__ __forceinline__ void q4k_scale_min(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The f32 value of weight (row m, column k), as blocks.h decodes it.
__device__ __forceinline__ float weight_value(const DevMatrix& w, int64_t m, int64_t k) {
  switch (w.fmt) {
    case Fmt::fp16: return h2f(reinterpret_cast<const h16*>(w.data)[m * w.K + k]);
    case Fmt::q4_k: {
      const uint8_t* b = w.data + m * w.row_bytes + (k >> 8) * 144;
      const int e = int(k & 255), j = e >> 5, l = e & 31;
      int sc, mm;
      q4k_scale_min(b + 4, j, sc, mm);
      const float D = h2f(u16_at(b)) * float(sc), Mj = h2f(u16_at(b + 2)) * float(mm);
      const int q = (b[16 + 32 * (j >> 1) + l] >> (4 * (j & 1))) & 15;
      return D * float(q) - Mj;
    }
    case Fmt::q6_k: {
      const uint8_t* b = w.data + m * w.row_bytes + (k >> 8) * 210;
      const int e = int(k & 255), nh = e >> 7, g = (e & 127) >> 5, l = e & 31;
      const int ql = (b[64 * nh + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
      const int qh = (b[128 + 32 * nh + l] >> (2 * g)) & 3;
      const int sc = int(reinterpret_cast<const int8_t*>(b)[192 + 8 * nh + (l >> 4) + 2 * g]);
      const float s = h2f(u16_at(b + 208)) * float(sc);
      return s * float((ql | (qh << 4)) - 32);
    }
    case Fmt::q8_0: {
      const uint8_t* b = w.data + m * w.row_bytes + (k >> 5) * 34;
      return float(reinterpret_cast<const int8_t*>(b)[2 + (k & 31)]) * h2f(u16_at(b));
    }
    case Fmt::int8: {
      const int64_t e = m * w.K + k, blk = e >> 7;
      const float mn = h2f(w.meta[2 * blk]), mx = h2f(w.meta[2 * blk + 1]);
      return float(w.data[e]) / 255.0f * (mx - mn) + mn;
    }
    case Fmt::nf4:
    case Fmt::sf4: {
      const int64_t e = m * w.K + k;
      return w.table[(w.data[e >> 1] >> (4 * (e & 1))) & 15] * h2f(w.meta[e >> 6]);
    }
  }
  return 0.0f;
}

constexpr int kVecThreads = 128;
constexpr int kVecRows = 4;

template <class TX, class TY>
__global__ void __launch_bounds__(kVecThreads) matmul_vec_canon_k(DevMatrix w, const TX* x, TY* y, int act,
                                                                  bool sparse) {
  pdl_enter();
  __shared__ float part[kVecRows][kVecThreads];
  const int64_t K = w.K, M = w.M;
  const int64_t m0 = int64_t(blockIdx.x) * kVecRows, t = blockIdx.y;
  const int nr = int(M - m0 < kVecRows ? M - m0 : kVecRows);
  const TX* xt = x + t * K;
  const int tid = threadIdx.x;
  float p[kVecRows] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int64_t c = tid; c < K / 4; c += kVecThreads) {
    const float x0 = ld(xt, 4 * c), x1 = ld(xt, 4 * c + 1), x2 = ld(xt, 4 * c + 2), x3 = ld(xt, 4 * c + 3);
    if (sparse && x0 == 0.0f && x1 == 0.0f && x2 == 0.0f && x3 == 0.0f) continue;
#pragma unroll
    for (int r = 0; r < kVecRows; ++r) {
      if (r >= nr) break;
      const int64_t m = m0 + r;
      const float w0 = weight_value(w, m, 4 * c), w1 = weight_value(w, m, 4 * c + 1);
      const float w2 = weight_value(w, m, 4 * c + 2), w3 = weight_value(w, m, 4 * c + 3);
      float d = w0 * x0 + w1 * x1;
      d = d + w2 * x2;
      d = d + w3 * x3;
      p[r] = p[r] + d;
    }
  }
#pragma unroll
  for (int r = 0; r < kVecRows; ++r) part[r][tid] = p[r];
  __syncthreads();
  for (int s = kVecThreads / 2; s >= 1; s /= 2) {
    if (tid < s)
#pragma unroll
      for (int r = 0; r < kVecRows; ++r) part[r][tid] = part[r][tid] + part[r][tid + s];
    __syncthreads();
  }
  if (tid < nr) st(y, t * M + m0 + tid, activate(act, part[tid][0]));
}

void matmul_vec_canon(const DevMatrix& w, Dev x, Dev y, Activation act, bool sparse, cudaStream_t s) {
  const dim3 grid(unsigned((w.M + kVecRows - 1) / kVecRows), unsigned(x.d1));
  with_type(x.f16, [&](auto tx) {
    with_type(y.f16, [&](auto ty) {
      using TX = decltype(tx);
      using TY = decltype(ty);
      launch(matmul_vec_canon_k<TX, TY>, grid, kVecThreads, 0, s, w, static_cast<const TX*>(x.p), static_cast<TY*>(y.p),
                                                      int(act), sparse);
    });
  });
}

constexpr int kMatTile = 64, kMatK = 32, kMatThreads = 256;

template <class TX, class TY>
__global__ void __launch_bounds__(kMatThreads) matmul_mat_simt_k(DevMatrix w, const TX* x, TY* y, int64_t T,
                                                                 int act) {
  pdl_enter();
  __shared__ float ws[kMatTile][kMatK + 1];
  __shared__ float xs[kMatTile][kMatK + 1];
  const int64_t K = w.K, M = w.M;
  const int64_t m0 = int64_t(blockIdx.x) * kMatTile, t0 = int64_t(blockIdx.y) * kMatTile;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  for (int64_t k0 = 0; k0 < K; k0 += kMatK) {
    const int kn = int(K - k0 < kMatK ? K - k0 : kMatK);
    for (int idx = tid; idx < kMatTile * kMatK; idx += kMatThreads) {
      const int row = idx / kMatK, kk = idx % kMatK;
      const bool kin = kk < kn;
      ws[row][kk] = (kin && m0 + row < M) ? weight_value(w, m0 + row, k0 + kk) : 0.0f;
      xs[row][kk] = (kin && t0 + row < T) ? ld(x, (t0 + row) * K + k0 + kk) : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kn; kk += 4) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float* wr = ws[ty + 16 * i] + kk;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float* xr = xs[tx + 16 * j] + kk;
          float d = wr[0] * xr[0] + wr[1] * xr[1];
          d = d + wr[2] * xr[2];
          d = d + wr[3] * xr[3];
          acc[i][j] = acc[i][j] + d;
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t m = m0 + ty + 16 * i, t = t0 + tx + 16 * j;
      if (m < M && t < T) st(y, t * M + m, activate(act, acc[i][j]));
    }
}

void matmul_mat_simt(const DevMatrix& w, Dev x, Dev y, Activation act, cudaStream_t s) {
  const int64_t T = x.d1;
  const dim3 grid(unsigned((w.M + kMatTile - 1) / kMatTile), unsigned((T + kMatTile - 1) / kMatTile));
  with_type(x.f16, [&](auto tx) {
    with_type(y.f16, [&](auto ty) {
      using TX = decltype(tx);
      using TY = decltype(ty);
      launch(matmul_mat_simt_k<TX, TY>, grid, kMatThreads, 0, s, w, static_cast<const TX*>(x.p), static_cast<TY*>(y.p), T,
                                                     int(act));
    });
  });
}
