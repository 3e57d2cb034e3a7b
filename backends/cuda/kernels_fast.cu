// The fast kernel set (the default mode): the same element-wise, norm and
// time-mix kernels as the canonical set but compiled with FMA contraction,
// and the fast matmuls of kernels_matmul_fast.cuh (warp GEMVs, tensor-core
// GEMM). Held to the harness's tolerance policy, not to the reference's bits.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace rwkv::cuda::fast {
#include "backends/cuda/device_common.cuh"
#include "backends/cuda/kernels_elementwise.cuh"
#include "backends/cuda/kernels_chain_element.cuh"
#include "backends/cuda/kernels_norm.cuh"
#include "backends/cuda/kernels_time_mix.cuh"
#include "backends/cuda/kernels_matmul.cuh"
#include "backends/cuda/kernels_matmul_fast.cuh"
#include "backends/cuda/kernels_gemm_prep.cuh"
#include "backends/cuda/kernels_merged.cuh"

// The fused chain's norms, as layer_norm_fast / l2_norm_fast choose them for
// a row: one warp up to 128 channels, the 256-thread row up to 4096, else the
// canonical row.
template <class TX, class TO>
__device__ void chain_layer_norm_row(const TX* xr, TO* orow, const h16* w, const h16* b, int64_t len, float eps) {
  if (len <= 128) {
    if (threadIdx.x < 32) row_norm_warp_row<false>(xr, orow, w, b, 0, len, 1, eps, int(threadIdx.x));
  } else if (len <= int64_t(kLnThreads) * kLnPer) {
    layer_norm_fast_row(xr, orow, w, b, len, eps);
  } else {
    layer_norm_row(xr, orow, w, b, len, 0, 128, eps);
  }
}
template <class TX, class TO>
__device__ void chain_row_norm_row(bool l2, const TX* x, TO* out, const ChainOp& op, int64_t r, int lane) {
  if (l2) row_norm_warp_row<true>(x, out, nullptr, nullptr, r, op.len, 1, op.eps, lane);
  else row_norm_warp_row<false>(x, out, op.w, op.wb, r, op.len, op.weight_rows, op.eps, lane);
}
#include "backends/cuda/kernels_fused.cuh"
}  // namespace rwkv::cuda::fast

namespace rwkv::cuda {

const Kernels& fast_kernels() {
  using namespace fast;
  static const Kernels k{"fast",      set_pdl, embedding, layer_norm_fast, l2_norm_fast, token_shift, blit,
                         binary,      lerp,      control_k,  channel_mix, affine,          time_mix,
                         time_first,  matmul_vec_fast,       matmul_mat_fast,              softmax,
                         chain,       true,            matmul_vec_then, norm_shift,     time_mix_then};
  return k;
}

void dequant_f16(const DevMatrix& w, uint16_t* hi, uint16_t* lo, cudaStream_t s) { fast::dequant_f16(w, hi, lo, s); }
void gemm_epilogue(const float* c, Dev y, Activation act, cudaStream_t s) { fast::gemm_epilogue(c, y, act, s); }

}  // namespace rwkv::cuda
