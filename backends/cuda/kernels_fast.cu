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
#include "backends/cuda/kernels_norm.cuh"
#include "backends/cuda/kernels_time_mix.cuh"
#include "backends/cuda/kernels_matmul.cuh"
#include "backends/cuda/kernels_matmul_fast.cuh"
#include "backends/cuda/kernels_gemm_prep.cuh"
}  // namespace rwkv::cuda::fast

namespace rwkv::cuda {

const Kernels& fast_kernels() {
  using namespace fast;
  static const Kernels k{"fast",      set_pdl, embedding, layer_norm_fast, l2_norm_fast, token_shift, blit,
                         binary,      lerp,      control_k,  channel_mix, affine,          time_mix,
                         time_first,  matmul_vec_fast,       matmul_mat_fast,              softmax};
  return k;
}

void dequant_f16(const DevMatrix& w, uint16_t* hi, uint16_t* lo, cudaStream_t s) { fast::dequant_f16(w, hi, lo, s); }
void gemm_epilogue(const float* c, Dev y, Activation act, cudaStream_t s) { fast::gemm_epilogue(c, y, act, s); }

}  // namespace rwkv::cuda
