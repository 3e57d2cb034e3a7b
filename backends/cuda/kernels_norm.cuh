// layer_norm / group_norm (Welford per flat thread state, Chan tree, lane fold),
// l2_norm and softmax (reference/kernels/norm.simd.cpp, softmax.simd.cpp): one
// block of 128 threads per row emulates the web-rwkv workgroup of `bs`
// threads, each holding a vec4 of states (flat state f = 4*thread + component,
// which visits the row's elements f, f + 4*bs, ...). The tree's strides, the
// empty states a 32-thread group norm reads beyond its workgroup, and the
// final fold are the reference's, so with -fmad=false the bits are too.
// Included inside a kernel set's namespace, after device_common.cuh.

constexpr int kNormThreads = 128;
constexpr int kMaxFlat = 512;  // 4 * the largest workgroup (128)

// One row by the whole block (any size): the kernel below, and the fused
// chain (kernels_fused.cuh). wo: the row's offset into the weights.
template <class TX, class TO>
__device__ void layer_norm_row(const TX* xr, TO* orow, const h16* w, const h16* b, int64_t len, int64_t wo, int bs,
                               float eps) {
  __shared__ float sn[kMaxFlat], smean[kMaxFlat], sm2[kMaxFlat];
  __shared__ float row_mean, row_rstd;
  const int flat = 4 * bs;
  // 1. Welford per flat state; states beyond the workgroup are empty.
  for (int f = threadIdx.x; f < kMaxFlat; f += blockDim.x) {
    float n = 0.0f, mean = 0.0f, m2 = 0.0f;
    if (f < flat)
      for (int64_t j = f; j < len; j += flat) {
        const float v = ld(xr, j);
        const float delta = v - mean;
        n = n + 1.0f;
        mean = mean + delta / n;
        m2 = m2 + delta * (v - mean);
      }
    sn[f] = n;
    smean[f] = mean;
    sm2[f] = m2;
  }
  __syncthreads();
  // 2. Chan merges at strides 64..1 (thread i < s absorbs i + s).
  for (int s = 64; s >= 1; s /= 2) {
    const int active = 4 * (s < bs ? s : bs), off = 4 * s;
    for (int f = threadIdx.x; f < active; f += blockDim.x) {
      const float n1 = sn[f], n2 = sn[f + off];
      const float mean1 = smean[f], mean2 = smean[f + off];
      const float m2_1 = sm2[f], m2_2 = sm2[f + off];
      const float delta = mean2 - mean1;
      const float total = n1 + n2;
      const float mean = (mean1 * n1 + mean2 * n2) / total;
      const float m2 = (m2_1 + m2_2) + ((delta * delta) * (n1 * n2)) / total;
      const bool nonempty = total > 0.0f;
      sn[f] = total;
      smean[f] = nonempty ? mean : 0.0f;
      sm2[f] = nonempty ? m2 : 0.0f;
    }
    __syncthreads();
  }
  // 3. Thread 0 folds the four components.
  if (threadIdx.x == 0) {
    const float R = float(len);
    float q[4];
    for (int c = 0; c < 4; ++c) q[c] = sn[c] / R;
    float mean = smean[0] * q[0] + smean[1] * q[1];
    mean = mean + smean[2] * q[2];
    mean = mean + smean[3] * q[3];
    float d[4];
    for (int c = 0; c < 4; ++c) d[c] = smean[c] - mean;
    float m2_sum = sm2[0] + sm2[1];
    m2_sum = m2_sum + sm2[2];
    m2_sum = m2_sum + sm2[3];
    float spread = (d[0] * d[0]) * sn[0] + (d[1] * d[1]) * sn[1];
    spread = spread + (d[2] * d[2]) * sn[2];
    spread = spread + (d[3] * d[3]) * sn[3];
    const float var = (m2_sum + spread) / R + eps;
    row_mean = mean;
    row_rstd = canon_rsqrt(var);
  }
  __syncthreads();
  // 4. y = ((x - mean) * rstd) * w + b.
  const float mean = row_mean, rstd = row_rstd;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
    const float z = (ld(xr, i) - mean) * rstd;
    st(orow, i, z * h2f(w[wo + i]) + h2f(b[wo + i]));
  }
}

template <class TX, class TO>
__global__ void __launch_bounds__(kNormThreads) layer_norm_k(const TX* x, TO* out, const h16* w, const h16* b,
                                                             int64_t len, int64_t weight_rows, int bs, float eps) {
  pdl_enter();
  const int64_t r = blockIdx.x;
  layer_norm_row(x + r * len, out + r * len, w, b, len, (r % weight_rows) * len, bs, eps);
}

void layer_norm(Dev x, Dev out, const uint16_t* w, const uint16_t* b, int64_t len, int64_t weight_rows, int bs,
                float eps, cudaStream_t s) {
  const int64_t rows = x.numel() / len;
  with_type(x.f16, [&](auto tx) {
    with_type(out.f16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      launch(layer_norm_k<TX, TO>, unsigned(rows), kNormThreads, 0, s, static_cast<const TX*>(x.p), static_cast<TO*>(out.p), w,
                                                           b, len, weight_rows, bs, eps);
    });
  });
}

// Sum of squares per flat state (workgroup of 128), tree, fold; y = x * rsqrt(sum + eps).
template <class TX, class TO>
__global__ void __launch_bounds__(kNormThreads) l2_norm_k(const TX* x, TO* out, int64_t len, float eps) {
  pdl_enter();
  __shared__ float sq[kMaxFlat];
  __shared__ float row_scale;
  const int64_t r = blockIdx.x;
  const TX* xr = x + r * len;
  TO* orow = out + r * len;
  for (int f = threadIdx.x; f < kMaxFlat; f += blockDim.x) {
    float acc = 0.0f;
    for (int64_t j = f; j < len; j += kMaxFlat) {
      const float v = ld(xr, j);
      acc = acc + v * v;
    }
    sq[f] = acc;
  }
  __syncthreads();
  for (int s = 64; s >= 1; s /= 2) {
    const int active = 4 * s, off = 4 * s;
    for (int f = threadIdx.x; f < active; f += blockDim.x) sq[f] = sq[f] + sq[f + off];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float sum = sq[0] + sq[1];
    sum = sum + sq[2];
    sum = sum + sq[3];
    row_scale = canon_rsqrt(sum + eps);
  }
  __syncthreads();
  const float scale = row_scale;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) st(orow, i, ld(xr, i) * scale);
}

void l2_norm(Dev x, Dev out, int64_t len, float eps, cudaStream_t s) {
  const int64_t rows = x.numel() / len;
  with_type(x.f16, [&](auto tx) {
    with_type(out.f16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      launch(l2_norm_k<TX, TO>, unsigned(rows), kNormThreads, 0, s, static_cast<const TX*>(x.p), static_cast<TO*>(out.p), len,
                                                        eps);
    });
  });
}

// softmax of f32 columns: max tree, sum-of-exp tree, exp / sum.
__global__ void __launch_bounds__(kNormThreads) softmax_k(const float* x, float* out, int64_t len) {
  pdl_enter();
  __shared__ float a[kMaxFlat];
  __shared__ float col_max, col_sum;
  const float* col = x + int64_t(blockIdx.x) * len;
  float* dst = out + int64_t(blockIdx.x) * len;
  for (int f = threadIdx.x; f < kMaxFlat; f += blockDim.x) {
    float m = -1.0e30f;
    for (int64_t j = f; j < len; j += kMaxFlat) m = cmax(m, col[j]);
    a[f] = m;
  }
  __syncthreads();
  for (int s = 64; s >= 1; s /= 2) {
    for (int f = threadIdx.x; f < 4 * s; f += blockDim.x) a[f] = cmax(a[f], a[f + 4 * s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) col_max = cmax(cmax(cmax(a[0], a[1]), a[2]), a[3]);
  __syncthreads();
  const float maximum = col_max;
  for (int f = threadIdx.x; f < kMaxFlat; f += blockDim.x) {
    float e = 0.0f;
    for (int64_t j = f; j < len; j += kMaxFlat) e = e + canon_exp(col[j] - maximum);
    a[f] = e;
  }
  __syncthreads();
  for (int s = 64; s >= 1; s /= 2) {
    for (int f = threadIdx.x; f < 4 * s; f += blockDim.x) a[f] = a[f] + a[f + 4 * s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float sum = a[0] + a[1];
    sum = sum + a[2];
    col_sum = sum + a[3];
  }
  __syncthreads();
  const float sum = col_sum;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) dst[i] = __fdiv_rn(canon_exp(col[i] - maximum), sum);
}

void softmax(Dev x, Dev out, cudaStream_t s) {
  const int64_t len = x.d0, cols = x.numel() / len;
  launch(softmax_k, unsigned(cols), kNormThreads, 0, s, static_cast<const float*>(x.p), static_cast<float*>(out.p), len);
}
