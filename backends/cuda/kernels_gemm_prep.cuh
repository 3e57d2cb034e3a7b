// The kernels around a library GEMM (cublas_gemm.h), fast set only:
//
//   dequant_q4k_f16_k  Q4_K (the prefill format that matters): 64 weights a
//                   thread, every block header read once per 64 (below);
//   dequant_f16_k   a weight matrix [M, K] of any format as f16 [M, K] (row m
//                   contiguous, as fp16 weights are stored): each thread
//                   decodes sixteen consecutive weights with the fast set's
//                   decoder (decode16: the f32 value the format defines) and
//                   stores f16(w), and with `lo` also f16((w - hi) * 4096).
//   epilogue_k      y = act(c) for f32 sums c [M, T] (c may be y itself when
//                   y is f32): the activation on the f32 sum, then one
//                   rounding to y's type, as the reference does.
// Included inside the fast set's namespace, after kernels_matmul_fast.cuh.

__global__ void __launch_bounds__(256) dequant_f16_k(DevMatrix w, __half* hi, __half* lo) {
  pdl_enter();
  const int64_t pieces_per_row = w.K / 16, n = w.M * pieces_per_row;
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t m = i / pieces_per_row, k = (i % pieces_per_row) * 16;
    float v[16];
    decode16(w, m, k, v);
    alignas(16) __half h[16], l[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      h[j] = __float2half_rn(v[j]);
      if (lo) l[j] = __float2half_rn((v[j] - __half2float(h[j])) * kLoScale);
    }
    uint4* dh = reinterpret_cast<uint4*>(hi + m * w.K + k);
    dh[0] = reinterpret_cast<const uint4*>(h)[0];
    dh[1] = reinterpret_cast<const uint4*>(h)[1];
    if (lo) {
      uint4* dl = reinterpret_cast<uint4*>(lo + m * w.K + k);
      dl[0] = reinterpret_cast<const uint4*>(l)[0];
      dl[1] = reinterpret_cast<const uint4*>(l)[1];
    }
  }
}

// Q4_K, one thread per 64-value group g of a block (its 32 code bytes carry
// sub-block 2g in the low nibbles and 2g + 1 in the high ones): the block's
// d, dmin and two scale/min pairs read once for 64 weights (decode16 reads
// them for every 16), two 16-byte code loads, eight 16-byte stores of 128
// contiguous bytes. The same value per weight as decode16: D * q - M.
__device__ __forceinline__ uint32_t pack_half2(float a, float b) {
  const __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&h);
}

template <bool kLo>
__global__ void __launch_bounds__(256) dequant_q4k_f16_k(DevMatrix w, __half* hi, __half* lo) {
  pdl_enter();
  const int64_t groups_per_row = w.K / 64, n = w.M * groups_per_row;
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t m = i / groups_per_row, e = (i % groups_per_row) * 64;  // first column of the group
    const uint8_t* b = w.data + m * w.row_bytes + (e >> 8) * 144;
    const int g = int(e & 255) >> 6;
    const uint32_t dd = *reinterpret_cast<const uint32_t*>(b);
    int sc0, m0, sc1, m1;
    q4k_scale_min(b + 4, 2 * g, sc0, m0);
    q4k_scale_min(b + 4, 2 * g + 1, sc1, m1);
    const float d = hf(uint16_t(dd & 0xffffu)), dmin = hf(uint16_t(dd >> 16));
    const float D[2] = {d * float(sc0), d * float(sc1)}, Mn[2] = {dmin * float(m0), dmin * float(m1)};
    const uint4 q0 = *reinterpret_cast<const uint4*>(b + 16 + 32 * g),
                q1 = *reinterpret_cast<const uint4*>(b + 32 + 32 * g);
    const uint32_t qw[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
    uint4* dh = reinterpret_cast<uint4*>(hi + m * w.K + e);
    uint4* dl = kLo ? reinterpret_cast<uint4*>(lo + m * w.K + e) : nullptr;
#pragma unroll
    for (int half = 0; half < 2; ++half)  // low nibbles: columns 0..31, high: 32..63
#pragma unroll
      for (int c = 0; c < 4; ++c) {  // 8 columns a store
        uint32_t ph[4], pl[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          float v[2];
#pragma unroll
          for (int t = 0; t < 2; ++t) {
            const int l = 8 * c + 2 * u + t;  // code byte l
            const uint32_t code = (qw[l >> 2] >> (8 * (l & 3) + 4 * half)) & 15u;
            v[t] = D[half] * float(code) - Mn[half];
          }
          ph[u] = pack_half2(v[0], v[1]);
          if (kLo) {
            const __half2 h = *reinterpret_cast<const __half2*>(&ph[u]);
            pl[u] = pack_half2((v[0] - __low2float(h)) * kLoScale, (v[1] - __high2float(h)) * kLoScale);
          }
        }
        dh[4 * half + c] = make_uint4(ph[0], ph[1], ph[2], ph[3]);
        if (kLo) dl[4 * half + c] = make_uint4(pl[0], pl[1], pl[2], pl[3]);
      }
  }
}

template <class TY>
__global__ void __launch_bounds__(256) epilogue_k(const float* c, TY* y, int64_t n, int act) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) st(y, i, activate(act, c[i]));
}

// Enough blocks to fill the GPU several times over; the loops stride the rest.
inline unsigned prep_blocks(int64_t n) {
  const int64_t b = (n + 255) / 256;
  return unsigned(b < 132 * 16 ? (b > 0 ? b : 1) : 132 * 16);
}

void dequant_f16(const DevMatrix& w, uint16_t* hi, uint16_t* lo, cudaStream_t s) {
  if (w.fmt == Fmt::q4_k && w.K % 256 == 0) {
    const unsigned blocks = prep_blocks(w.M * (w.K / 64));
    if (lo) launch(dequant_q4k_f16_k<true>, blocks, 256, 0, s, w, reinterpret_cast<__half*>(hi), reinterpret_cast<__half*>(lo));
    else launch(dequant_q4k_f16_k<false>, blocks, 256, 0, s, w, reinterpret_cast<__half*>(hi), nullptr);
    return;
  }
  launch(dequant_f16_k, prep_blocks(w.M * (w.K / 16)), 256, 0, s, w, reinterpret_cast<__half*>(hi),
         reinterpret_cast<__half*>(lo));
}

void gemm_epilogue(const float* c, Dev y, Activation act, cudaStream_t s) {
  const int64_t n = y.numel();
  if (y.f16) launch(epilogue_k<h16>, prep_blocks(n), 256, 0, s, c, static_cast<h16*>(y.p), n, int(act));
  else launch(epilogue_k<float>, prep_blocks(n), 256, 0, s, c, static_cast<float*>(y.p), n, int(act));
}
