// The canonical kernel set: compiled with -fmad=false (no multiply-add is
// contracted), the reference's accumulation orders, canonical math. The
// element-wise kernels, the norms, time_mix_v7, time_first_v7 and matmul_vec
// give the reference's bits (tests/cuda_backend_test.cpp checks them on the GPU).
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace rwkv::cuda::canonical {
#include "backends/cuda/device_common.cuh"
#include "backends/cuda/kernels_elementwise.cuh"
#include "backends/cuda/kernels_chain_element.cuh"
#include "backends/cuda/kernels_norm.cuh"
#include "backends/cuda/kernels_time_mix.cuh"
#include "backends/cuda/kernels_matmul.cuh"

// The fused chain's norms: layer_norm is the kernel's row function (the
// emulated 128-thread workgroup); group_norm and l2_norm are never chained here.
template <class TX, class TO>
__device__ void chain_layer_norm_row(const TX* xr, TO* orow, const h16* w, const h16* b, int64_t len, float eps) {
  layer_norm_row(xr, orow, w, b, len, 0, 128, eps);
}
template <class TX, class TO>
__device__ void chain_row_norm_row(bool, const TX*, TO*, const ChainOp&, int64_t, int) {
  __trap();
}
#include "backends/cuda/kernels_fused.cuh"
}  // namespace rwkv::cuda::canonical

namespace rwkv::cuda {

const Kernels& canonical_kernels() {
  using namespace canonical;
  static const Kernels k{"canonical",  set_pdl, embedding, layer_norm, l2_norm,    token_shift,      blit,
                         binary,       lerp,      control_k,  channel_mix, affine,          time_mix,
                         time_first,   matmul_vec_canon,      matmul_mat_simt,              softmax,
                         chain,        false,           nullptr,               nullptr,      nullptr};
  return k;
}

}  // namespace rwkv::cuda
