// Kernels that measure the GPU for `rwkv-oracle calibrate` and the bench's
// floors: an empty kernel (launch and sync costs), a spin of a given number of
// clock cycles (the gap between kernels), a read of a large buffer (bandwidth)
// and independent FMA chains (the f32 peak).
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/calibrate_kernels.h"

namespace rwkv::cuda::calib {

__global__ void empty_k() {}

__global__ void spin_k(long long cycles, int* sink) {
  const long long t0 = clock64();
  while (clock64() - t0 < cycles) {
  }
  if (threadIdx.x == 0 && sink) *sink = 1;
}

__global__ void read_k(const uint4* p, int64_t n, uint32_t* sink) {
  uint32_t acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;  // almost never: keeps the loads alive
}

__global__ void fma_k(float* out, int iters, float a) {
  float x0 = threadIdx.x, x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3, x4 = x0 + 4, x5 = x0 + 5, x6 = x0 + 6, x7 = x0 + 7;
  for (int i = 0; i < iters; ++i) {
    x0 = fmaf(x0, a, 0.5f), x1 = fmaf(x1, a, 0.5f), x2 = fmaf(x2, a, 0.5f), x3 = fmaf(x3, a, 0.5f);
    x4 = fmaf(x4, a, 0.5f), x5 = fmaf(x5, a, 0.5f), x6 = fmaf(x6, a, 0.5f), x7 = fmaf(x7, a, 0.5f);
  }
  const float s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
  if (s == 1234.5f) out[0] = s;
}

void launch_empty(cudaStream_t s) { empty_k<<<1, 32, 0, s>>>(); }
void launch_spin(long long cycles, cudaStream_t s) { spin_k<<<1, 32, 0, s>>>(cycles, nullptr); }
void launch_read(const void* p, int64_t bytes, uint32_t* sink, int blocks, cudaStream_t s) {
  read_k<<<blocks, 512, 0, s>>>(static_cast<const uint4*>(p), bytes / 16, sink);
}
void launch_fma(float* out, int blocks, int iters, cudaStream_t s) { fma_k<<<blocks, 256, 0, s>>>(out, iters, 0.999f); }

}  // namespace rwkv::cuda::calib
