// The kernels around a library GEMM (cublas_gemm.h), fast set only:
//
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
  launch(dequant_f16_k, prep_blocks(w.M * (w.K / 16)), 256, 0, s, w, reinterpret_cast<__half*>(hi),
         reinterpret_cast<__half*>(lo));
}

void gemm_epilogue(const float* c, Dev y, Activation act, cudaStream_t s) {
  const int64_t n = y.numel();
  if (y.f16) launch(epilogue_k<h16>, prep_blocks(n), 256, 0, s, c, static_cast<h16*>(y.p), n, int(act));
  else launch(epilogue_k<float>, prep_blocks(n), 256, 0, s, c, static_cast<float*>(y.p), n, int(act));
}
