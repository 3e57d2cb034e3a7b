// Fast matmuls (the default mode; a legitimate GPU order, held to the
// harness's tolerance rather than to the reference's bits).
//
//   gemv_*      matmul_vec: one warp per output row and token, 16-byte weight
//               loads, each lane a sequential partial, a shuffle tree. fp16,
//               Q4_K and Q6_K; other formats take the canonical kernel. A
//               merged launch's epilogue runs on each stored output (kernels.h,
//               Epilogue).
//   norms       layer_norm: a block of 256 threads per row, the row in
//               registers, two-pass mean and variance by warp shuffles;
//               group_norm and l2_norm: one warp per (head, token) row.
//   gemm_tc     matmul_mat with f16 activations: weights dequantised to f16
//               tiles in shared memory and multiplied on the tensor cores
//               (wmma 16x16x16, f32 accumulation). A quantised weight's f32
//               value w is split into hi = f16(w) and lo = f16((w - hi) * 4096),
//               two products accumulated apart, so the f16 tile loses no more
//               than ~2^-22 of w. f32 activations take the SIMT kernel.
// Included inside the fast set's namespace, after kernels_matmul.cuh.

__device__ __forceinline__ float hf(uint16_t h) { return __half2float(__ushort_as_half(h)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o >= 1; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Eight consecutive activations starting at a 16-byte (f16) or 32-byte (f32) boundary.
__device__ __forceinline__ void load8(const h16* p, float* v) {
  const uint4 q = *reinterpret_cast<const uint4*>(p);
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = hf(uint16_t(w[i] & 0xffffu));
    v[2 * i + 1] = hf(uint16_t(w[i] >> 16));
  }
}
__device__ __forceinline__ void load8(const float* p, float* v) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

constexpr int kGemvWarps = 8;

// The merged epilogue (kernels.h, Epilogue) of element i: its operands from
// memory are loaded when the GEMV begins (epilogue_load), the ops run by the
// lane that stores y[i] (gemv_store), each value as its own kernel computes
// it. The ops are indexed statically so their descriptors stay in the
// parameter space.
struct EpilogueIn {
  float a[kEpilogueOps], b[kEpilogueOps], c[kEpilogueOps];
};

// Element i of operand a of a binary or lerp op (broadcast over tokens and batches).
__device__ __forceinline__ int64_t broadcast_index(const ChainOp& op, int64_t i) {
  const int64_t c = i % op.C, r = i / op.C;
  return (r % op.T) * op.b_ts + (r / op.T) * op.b_bs + c;
}

__device__ __forceinline__ void epilogue_load(const Epilogue& e, int64_t i, EpilogueIn& in) {
#pragma unroll
  for (int k = 0; k < kEpilogueOps; ++k) {
    if (k >= e.count) break;
    const ChainOp& op = e.op[k];
    const bool a = e.from[k][0] == kFromMemory, b = e.from[k][1] == kFromMemory, c = e.from[k][2] == kFromMemory;
    in.a[k] = in.b[k] = in.c[k] = 0.0f;
    switch (op.kind) {
      case ChainKind::binary:
      case ChainKind::lerp:
        if (a) in.a[k] = ldt(op.a, op.a16, broadcast_index(op, i));
        if (b && op.kind == ChainKind::lerp) in.b[k] = ldt(op.b, op.b16, i);
        break;
      case ChainKind::control_k:
        if (a) in.a[k] = ldt(op.a, op.a16, i);
        in.b[k] = h2f(op.w[i % op.C]);
        break;
      case ChainKind::channel_mix:
        if (a) in.a[k] = ldt(op.a, op.a16, i);
        break;
      default: break;
    }
    if (c) in.c[k] = ldt(op.c, op.c16, i);
  }
}

__device__ __forceinline__ float pick(int8_t from, float mem, float y, const float* out) {
  return from == kFromMemory ? mem : from == kFromMatmul ? y : from == 0 ? out[0] : from == 1 ? out[1] : out[2];
}

// y[i] = act(sum), then the epilogue's ops on element i.
template <class TY>
__device__ __forceinline__ void gemv_store(TY* y, int64_t i, int act, float acc, const Epilogue& e,
                                           const EpilogueIn& in) {
  const float v = activate(act, acc);
  st(y, i, v);
  const float ys = as_stored(y, v);
  float out[kEpilogueOps] = {};
#pragma unroll
  for (int k = 0; k < kEpilogueOps; ++k) {
    if (k >= e.count) break;
    const ChainOp& op = e.op[k];
    const float a = pick(e.from[k][0], in.a[k], ys, out), b = pick(e.from[k][1], in.b[k], ys, out),
                c = pick(e.from[k][2], in.c[k], ys, out);
    float r = c;
    switch (op.kind) {
      case ChainKind::binary: r = binary_value(op.mul, op.act, a, c); break;
      case ChainKind::lerp: r = lerp_value(c, b, a); break;
      case ChainKind::control_k: r = control_k_value(c, a, in.b[k]); break;
      case ChainKind::channel_mix: {
        const int64_t s = i / op.C;
        const DevCursor cu = op.cursors[s];
        if (s - int64_t(cu.start) + 1 == int64_t(cu.len))
          op.state[(int64_t(cu.batch) * op.state_rows + op.state_rows - 1) * op.C + i % op.C] = c;
        r = a;
        break;
      }
      case ChainKind::affine: r = affine_value(c, op.scale, op.bias); break;
      default: break;
    }
    stt(op.c, op.c16, i, r);
    out[k] = op.c16 ? h2f(f2h(r)) : r;
  }
}

// Eight fp16 weights (q) times eight activations, added to acc.
__device__ __forceinline__ float fp16_dot8(const uint4 q, const float* xv, float acc) {
  const uint32_t wv[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&wv[i]));
    acc += f.x * xv[2 * i] + f.y * xv[2 * i + 1];
  }
  return acc;
}

template <class TX, class TY>
__global__ void __launch_bounds__(32 * kGemvWarps) gemv_fp16_k(const h16* W, const TX* x, TY* y, int64_t K, int64_t M,
                                                               int act, const Epilogue epi) {
  pdl_enter();
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t m = int64_t(blockIdx.x) * kGemvWarps + warp, t = blockIdx.y;
  if (m >= M) return;
  const uint4* wr = reinterpret_cast<const uint4*>(W + m * K);
  const TX* xt = x + t * K;
  const int64_t n8 = K / 8;
  EpilogueIn ein;
  if (lane == 0) epilogue_load(epi, t * M + m, ein);
  float acc = 0.0f;
#pragma unroll 4
  for (int64_t c = lane; c < n8; c += 32) {
    const uint4 q = __ldg(wr + c);
    float xv[8];
    load8(xt + 8 * c, xv);
    acc = fp16_dot8(q, xv, acc);
  }
  acc = warp_sum(acc);
  if (lane == 0) gemv_store(y, t * M + m, act, acc, epi, ein);
}

// Byte k (0..11) of a Q4_K block's scales, held as the words s0..s2.
__device__ __forceinline__ int scale_byte(uint32_t s0, uint32_t s1, uint32_t s2, int k) {
  const uint32_t w = k < 4 ? s0 : k < 8 ? s1 : s2;
  return int((w >> (8 * (k & 3))) & 0xffu);
}
// q4k_scale_min on the scales in registers.
__device__ __forceinline__ void q4k_scale_min_reg(uint32_t s0, uint32_t s1, uint32_t s2, int j, int& sc, int& m) {
  if (j < 4) {
    sc = scale_byte(s0, s1, s2, j) & 63;
    m = scale_byte(s0, s1, s2, j + 4) & 63;
  } else {
    sc = (scale_byte(s0, s1, s2, j + 4) & 0x0f) | ((scale_byte(s0, s1, s2, j - 4) >> 6) << 4);
    m = (scale_byte(s0, s1, s2, j + 4) >> 4) | ((scale_byte(s0, s1, s2, j) >> 6) << 4);
  }
}

// One lane's part of Q4_K block b: head = the block's first 16 bytes (d, dmin,
// scales), q = its 16 code bytes of group g (low nibbles sub-block 2g, high 2g+1).
template <class TX>
__device__ __forceinline__ float q4k_part(const uint4 head, const uint4 q, const TX* xl, int g, float acc) {
  const float d = hf(uint16_t(head.x & 0xffffu)), dmin = hf(uint16_t(head.x >> 16));
  int sc0, m0, sc1, m1;
  q4k_scale_min_reg(head.y, head.z, head.w, 2 * g, sc0, m0);
  q4k_scale_min_reg(head.y, head.z, head.w, 2 * g + 1, sc1, m1);
  const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
  float xlo[16], xhi[16];
  load8(xl, xlo);
  load8(xl + 8, xlo + 8);
  load8(xl + 32, xhi);
  load8(xl + 40, xhi + 8);
  // Each weight's value first (D*q - M, as the format defines it), then the
  // product: factoring D and M out of the sums would cancel catastrophically.
  const float D0 = d * float(sc0), M0 = dmin * float(m0), D1 = d * float(sc1), M1 = dmin * float(m1);
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const uint32_t byte = (qw[i >> 2] >> (8 * (i & 3))) & 0xffu;
    acc += (D0 * float(byte & 15u) - M0) * xlo[i];
    acc += (D1 * float(byte >> 4) - M1) * xhi[i];
  }
  return acc;
}

// Q4_K: lanes 8b..8b+7 share a block; lane part p reads 16 code bytes of group
// g = p/2 (sub-blocks 2g low nibbles and 2g+1 high nibbles).
template <class TX, class TY>
__global__ void __launch_bounds__(32 * kGemvWarps) gemv_q4k_k(DevMatrix w, const TX* x, TY* y, int act,
                                                              const Epilogue epi) {
  pdl_enter();
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t m = int64_t(blockIdx.x) * kGemvWarps + warp, t = blockIdx.y;
  if (m >= w.M) return;
  const uint8_t* row = w.data + m * w.row_bytes;
  const TX* xt = x + t * w.K;
  const int64_t nb = w.K / 256;
  const int p = lane & 7, g = p >> 1, half = p & 1;
  EpilogueIn ein;
  if (lane == 0) epilogue_load(epi, t * w.M + m, ein);
  float acc = 0.0f;
#pragma unroll 2
  for (int64_t b = lane >> 3; b < nb; b += 4) {
    const uint8_t* blk = row + b * 144;
    const uint4 hd = __ldg(reinterpret_cast<const uint4*>(blk));
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(blk + 16 + 32 * g + 16 * half));
    acc = q4k_part(hd, q, xt + b * 256 + 64 * g + 16 * half, g, acc);
  }
  acc = warp_sum(acc);
  if (lane == 0) gemv_store(y, t * w.M + m, act, acc, epi, ein);
}

// Q6_K: lanes 8b..8b+7 share a block; lane part p covers half nh = p/4 and the
// eight positions l = 8*(p%4) .. +7 of its four 32-value quadrants.
template <class TX, class TY>
__global__ void __launch_bounds__(32 * kGemvWarps) gemv_q6k_k(DevMatrix w, const TX* x, TY* y, int act,
                                                              const Epilogue epi) {
  pdl_enter();
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t m = int64_t(blockIdx.x) * kGemvWarps + warp, t = blockIdx.y;
  if (m >= w.M) return;
  const uint8_t* row = w.data + m * w.row_bytes;
  const TX* xt = x + t * w.K;
  const int64_t nb = w.K / 256;
  const int p = lane & 7, nh = p >> 2, l0 = 8 * (p & 3), is = l0 >> 4;
  EpilogueIn ein;
  if (lane == 0) epilogue_load(epi, t * w.M + m, ein);
  float acc = 0.0f;
  for (int64_t b = lane >> 3; b < nb; b += 4) {
    const uint8_t* blk = row + b * 210;
    const float d = hf(u16_at(blk + 208));
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192 + 8 * nh);
    uint8_t qla[8], qlb[8], qh[8];
#pragma unroll
    for (int u = 0; u < 8; u += 2) {
      const uint16_t a = u16_at(blk + 64 * nh + l0 + u), bb = u16_at(blk + 64 * nh + 32 + l0 + u),
                     h = u16_at(blk + 128 + 32 * nh + l0 + u);
      qla[u] = uint8_t(a), qla[u + 1] = uint8_t(a >> 8);
      qlb[u] = uint8_t(bb), qlb[u + 1] = uint8_t(bb >> 8);
      qh[u] = uint8_t(h), qh[u + 1] = uint8_t(h >> 8);
    }
    const TX* xb = xt + b * 256 + 128 * nh + l0;
#pragma unroll
    for (int g = 0; g < 4; ++g) {
      float xv[8];
      load8(xb + 32 * g, xv);
      float s = 0.0f;
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        const int lo = ((g & 1) ? qlb[u] : qla[u]) >> (4 * (g >> 1)) & 15;
        const int q = (lo | (((qh[u] >> (2 * g)) & 3) << 4)) - 32;
        s += float(q) * xv[u];
      }
      acc += (d * float(sc[is + 2 * g])) * s;
    }
  }
  acc = warp_sum(acc);
  if (lane == 0) gemv_store(y, t * w.M + m, act, acc, epi, ein);
}

void matmul_vec_then(const DevMatrix& w, Dev x, Dev y, Activation act, const Epilogue& epi, cudaStream_t s) {
  const bool fp16 = w.fmt == Fmt::fp16;
  const dim3 grid(unsigned((w.M + kGemvWarps - 1) / kGemvWarps), unsigned(x.d1));
  with_type(x.f16, [&](auto tx) {
    with_type(y.f16, [&](auto ty) {
      using TX = decltype(tx);
      using TY = decltype(ty);
      const TX* xp = static_cast<const TX*>(x.p);
      TY* yp = static_cast<TY*>(y.p);
      if (fp16)
        launch(gemv_fp16_k<TX, TY>, grid, 32 * kGemvWarps, 0, s, reinterpret_cast<const h16*>(w.data), xp, yp, w.K,
               w.M, int(act), epi);
      else if (w.fmt == Fmt::q4_k)
        launch(gemv_q4k_k<TX, TY>, grid, 32 * kGemvWarps, 0, s, w, xp, yp, int(act), epi);
      else
        launch(gemv_q6k_k<TX, TY>, grid, 32 * kGemvWarps, 0, s, w, xp, yp, int(act), epi);
    });
  });
}

void matmul_vec_fast(const DevMatrix& w, Dev x, Dev y, Activation act, bool sparse, cudaStream_t s) {
  if (gemv_takes_epilogue(w)) matmul_vec_then(w, x, y, act, Epilogue{}, s);
  else matmul_vec_canon(w, x, y, act, sparse, s);
}

// ---- tensor-core GEMM ----
constexpr int kTcM = 64, kTcN = 64, kTcK = 32, kTcThreads = 128;
constexpr int kTcLd = kTcK + 8;   // f16 tile row stride (elements)
constexpr int kTcLdc = kTcM + 4;  // f32 output tile row stride
constexpr float kLoScale = 4096.0f;

// Sixteen weights (row m, columns k .. k+15; k a multiple of 16) as f32.
__device__ __forceinline__ void decode16(const DevMatrix& w, int64_t m, int64_t k, float* v) {
  switch (w.fmt) {
    case Fmt::fp16: {
      const h16* p = reinterpret_cast<const h16*>(w.data) + m * w.K + k;
      load8(p, v);
      load8(p + 8, v + 8);
      return;
    }
    case Fmt::q4_k: {
      const uint8_t* b = w.data + m * w.row_bytes + (k >> 8) * 144;
      const int e = int(k & 255), j = e >> 5, l0 = e & 31;
      int sc, mm;
      q4k_scale_min(b + 4, j, sc, mm);
      const uint32_t dd = *reinterpret_cast<const uint32_t*>(b);
      const float D = hf(uint16_t(dd & 0xffffu)) * float(sc), Mj = hf(uint16_t(dd >> 16)) * float(mm);
      const uint4 q = *reinterpret_cast<const uint4*>(b + 16 + 32 * (j >> 1) + l0);
      const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
      const int shift = 4 * (j & 1);
#pragma unroll
      for (int i = 0; i < 16; ++i) v[i] = D * float(((qw[i >> 2] >> (8 * (i & 3))) >> shift) & 15u) - Mj;
      return;
    }
    default:
#pragma unroll 4
      for (int i = 0; i < 16; ++i) v[i] = weight_value(w, m, k + i);
      return;
  }
}

template <bool kSplit, class TY>
__global__ void __launch_bounds__(kTcThreads) gemm_tc_k(DevMatrix w, const h16* x, TY* y, int64_t T, int act) {
  pdl_enter();
  using namespace nvcuda;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* a_hi = reinterpret_cast<__half*>(smem);
  __half* a_lo = a_hi + kTcM * kTcLd;
  __half* bs = a_lo + kTcM * kTcLd;
  float* cs = reinterpret_cast<float*>(smem);  // reused after the K loop
  const int64_t K = w.K, M = w.M;
  const int64_t m0 = int64_t(blockIdx.x) * kTcM, t0 = int64_t(blockIdx.y) * kTcN;
  const int tid = threadIdx.x, warp = tid >> 5, wm = warp & 1, wn = warp >> 1;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2], acc_lo[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::fill_fragment(acc[i][j], 0.0f);
      if (kSplit) wmma::fill_fragment(acc_lo[i][j], 0.0f);
    }
  const int arow = tid >> 1, ahalf = tid & 1;  // A tile: 64 rows x 2 halves of 16
  for (int64_t k0 = 0; k0 < K; k0 += kTcK) {
    {
      float v[16];
      const int64_t m = m0 + arow;
      if (m < M) decode16(w, m, k0 + 16 * ahalf, v);
      else
#pragma unroll
        for (int i = 0; i < 16; ++i) v[i] = 0.0f;
      __half* hi = a_hi + arow * kTcLd + 16 * ahalf;
      __half* lo = a_lo + arow * kTcLd + 16 * ahalf;
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const __half h = __float2half_rn(v[i]);
        hi[i] = h;
        if (kSplit) lo[i] = __float2half_rn((v[i] - __half2float(h)) * kLoScale);
      }
    }
#pragma unroll
    for (int q = 0; q < 2; ++q) {  // B tile: 64 tokens x 32 k, 8 halves a piece
      const int idx = tid + kTcThreads * q, tok = idx >> 2, kq = (idx & 3) * 8;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (t0 + tok < T) val = *reinterpret_cast<const uint4*>(x + (t0 + tok) * K + k0 + kq);
      *reinterpret_cast<uint4*>(bs + tok * kTcLd + kq) = val;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTcK; kk += 16) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], bs + (32 * wn + 16 * j) * kTcLd + kk, kTcLd);
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
        wmma::load_matrix_sync(a, a_hi + (32 * wm + 16 * i) * kTcLd + kk, kTcLd);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a, b[j], acc[i][j]);
        if (kSplit) {
          wmma::load_matrix_sync(a, a_lo + (32 * wm + 16 * i) * kTcLd + kk, kTcLd);
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc_lo[i][j], a, b[j], acc_lo[i][j]);
        }
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      if (kSplit)
        for (int e = 0; e < acc[i][j].num_elements; ++e) acc[i][j].x[e] += acc_lo[i][j].x[e] * (1.0f / kLoScale);
      wmma::store_matrix_sync(cs + (32 * wn + 16 * j) * kTcLdc + 32 * wm + 16 * i, acc[i][j], kTcLdc,
                              wmma::mem_col_major);
    }
  __syncthreads();
  for (int idx = tid; idx < kTcM * kTcN; idx += kTcThreads) {
    const int n = idx / kTcM, mm = idx % kTcM;
    if (m0 + mm < M && t0 + n < T) st(y, (t0 + n) * M + m0 + mm, activate(act, cs[n * kTcLdc + mm]));
  }
}

constexpr size_t kTcSmem = size_t(kTcN) * kTcLdc * sizeof(float) > size_t(3 * kTcM * kTcLd) * sizeof(__half)
                               ? size_t(kTcN) * kTcLdc * sizeof(float)
                               : size_t(3 * kTcM * kTcLd) * sizeof(__half);

void matmul_mat_fast(const DevMatrix& w, Dev x, Dev y, Activation act, cudaStream_t s) {
  if (!x.f16 || w.K % kTcK != 0) {
    matmul_mat_simt(w, x, y, act, s);
    return;
  }
  const int64_t T = x.d1;
  const dim3 grid(unsigned((w.M + kTcM - 1) / kTcM), unsigned((T + kTcN - 1) / kTcN));
  const bool split = w.fmt != Fmt::fp16;
  with_type(y.f16, [&](auto ty) {
    using TY = decltype(ty);
    const h16* xp = static_cast<const h16*>(x.p);
    TY* yp = static_cast<TY*>(y.p);
    if (split) launch(gemm_tc_k<true, TY>, grid, kTcThreads, kTcSmem, s, w, xp, yp, T, int(act));
    else launch(gemm_tc_k<false, TY>, grid, kTcThreads, kTcSmem, s, w, xp, yp, T, int(act));
  });
}

// ---- normalisation (two-pass, the row held in registers) ----
// The sum of v over the block's first `warps` warps (every thread calls it;
// the others pass 0, which the final sum leaves out).
__device__ __forceinline__ float block_sum(float v, float* scratch, int warps) {
  v = warp_sum(v);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();  // scratch may still be read from the previous sum
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float t = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(t);
}

constexpr int kLnThreads = 256, kLnPer = 16;  // rows of up to 4096 channels

// One row of up to kLnThreads * kLnPer channels by the block's first
// kLnThreads threads (the block may be larger: the fused chain's is; its other
// threads only join the barriers), so the bits never depend on the block size.
// The row's mean and 1/std by the block's first kLnThreads threads; v: this
// thread's values, channel threadIdx.x + k * kLnThreads at k (0 beyond the row).
template <class TX>
__device__ __forceinline__ void layer_norm_fast_stats(const TX* xr, int64_t len, float eps, float (&v)[kLnPer],
                                                      float& mean, float& rstd) {
  __shared__ float scratch[32];
  constexpr int kWarps = kLnThreads / 32;
  const bool mine = threadIdx.x < kLnThreads;
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < kLnPer; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * kLnThreads;
    v[k] = mine && j < len ? ld(xr, j) : 0.0f;
    s += v[k];
  }
  mean = block_sum(s, scratch, kWarps) / float(len);
  float q = 0.0f;
#pragma unroll
  for (int k = 0; k < kLnPer; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * kLnThreads;
    const float d = v[k] - mean;
    if (mine && j < len) q += d * d;
  }
  rstd = 1.0f / sqrtf(block_sum(q, scratch, kWarps) / float(len) + eps);
}

// Channel j's output from its value x and weights w, b (as floats).
__device__ __forceinline__ float layer_norm_fast_value(float x, float mean, float rstd, float w, float b) {
  return (x - mean) * rstd * w + b;
}

template <class TX, class TO>
__device__ void layer_norm_fast_row(const TX* xr, TO* orow, const h16* w, const h16* b, int64_t len, float eps) {
  float v[kLnPer], mean, rstd;
  layer_norm_fast_stats(xr, len, eps, v, mean, rstd);
#pragma unroll
  for (int k = 0; k < kLnPer; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * kLnThreads;
    if (threadIdx.x < kLnThreads && j < len) st(orow, j, layer_norm_fast_value(v[k], mean, rstd, hf(w[j]), hf(b[j])));
  }
}

// The weights (constants of the step) are loaded before waiting for the
// kernel before, so only the row's own load waits.
template <class TX, class TO>
__global__ void __launch_bounds__(kLnThreads) layer_norm_fast_k(const TX* x, TO* out, const h16* w, const h16* b,
                                                                int64_t len, float eps) {
  float wv[kLnPer], bv[kLnPer];
#pragma unroll
  for (int k = 0; k < kLnPer; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * kLnThreads;
    wv[k] = j < len ? hf(w[j]) : 0.0f;
    bv[k] = j < len ? hf(b[j]) : 0.0f;
  }
  pdl_enter();
  TO* orow = out + int64_t(blockIdx.x) * len;
  float v[kLnPer], mean, rstd;
  layer_norm_fast_stats(x + int64_t(blockIdx.x) * len, len, eps, v, mean, rstd);
#pragma unroll
  for (int k = 0; k < kLnPer; ++k) {
    const int64_t j = threadIdx.x + int64_t(k) * kLnThreads;
    if (j < len) st(orow, j, layer_norm_fast_value(v[k], mean, rstd, wv[k], bv[k]));
  }
}

// One warp per row of up to 128 channels: group_norm (l2 = false) or l2_norm.
// Row r of x by one warp (lane: the thread's lane), for the kernel below and
// the fused chain (kernels_fused.cuh).
template <bool kL2, class TX, class TO>
__device__ __forceinline__ void row_norm_warp_row(const TX* x, TO* out, const h16* w, const h16* b, int64_t r,
                                                  int64_t len, int64_t weight_rows, float eps, int lane) {
  const TX* xr = x + r * len;
  TO* orow = out + r * len;
  float v[4];
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t j = lane + 32 * k;
    v[k] = j < len ? ld(xr, j) : 0.0f;
    s += kL2 ? v[k] * v[k] : v[k];
  }
  s = warp_sum(s);
  if (kL2) {
    const float scale = 1.0f / sqrtf(s + eps);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t j = lane + 32 * k;
      if (j < len) st(orow, j, v[k] * scale);
    }
    return;
  }
  const float mean = s / float(len);
  float q = 0.0f;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t j = lane + 32 * k;
    const float d = v[k] - mean;
    if (j < len) q += d * d;
  }
  const float rstd = 1.0f / sqrtf(warp_sum(q) / float(len) + eps);
  const int64_t wo = (r % weight_rows) * len;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t j = lane + 32 * k;
    if (j < len) st(orow, j, (v[k] - mean) * rstd * hf(w[wo + j]) + hf(b[wo + j]));
  }
}

template <bool kL2, class TX, class TO>
__global__ void __launch_bounds__(256) row_norm_warp_k(const TX* x, TO* out, const h16* w, const h16* b, int64_t rows,
                                                       int64_t len, int64_t weight_rows, float eps) {
  pdl_enter();
  const int64_t r = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5);
  if (r >= rows) return;
  row_norm_warp_row<kL2>(x, out, w, b, r, len, weight_rows, eps, int(threadIdx.x & 31));
}

void layer_norm_fast(Dev x, Dev out, const uint16_t* w, const uint16_t* b, int64_t len, int64_t weight_rows, int bs,
                     float eps, cudaStream_t s) {
  const int64_t rows = x.numel() / len;
  const bool warp_rows = len <= 128, block_rows = weight_rows == 1 && len <= int64_t(kLnThreads) * kLnPer;
  if (!warp_rows && !block_rows) return layer_norm(x, out, w, b, len, weight_rows, bs, eps, s);
  with_type(x.f16, [&](auto tx) {
    with_type(out.f16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      const TX* xp = static_cast<const TX*>(x.p);
      TO* op = static_cast<TO*>(out.p);
      if (warp_rows)
        launch(row_norm_warp_k<false, TX, TO>, unsigned((rows + 7) / 8), 256, 0, s, xp, op, w, b, rows, len, weight_rows, eps);
      else
        launch(layer_norm_fast_k<TX, TO>, unsigned(rows), kLnThreads, 0, s, xp, op, w, b, len, eps);
    });
  });
}

void l2_norm_fast(Dev x, Dev out, int64_t len, float eps, cudaStream_t s) {
  if (len > 128) return l2_norm(x, out, len, eps, s);
  const int64_t rows = x.numel() / len;
  with_type(x.f16, [&](auto tx) {
    with_type(out.f16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      launch(row_norm_warp_k<true, TX, TO>, unsigned((rows + 7) / 8), 256, 0, s, static_cast<const TX*>(x.p),
                                                                     static_cast<TO*>(out.p), nullptr, nullptr, rows,
                                                                     len, 1, eps);
    });
  });
}
