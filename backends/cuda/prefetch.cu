// L2 prefetch of weight bytes (the `prefetch` option of cuda:graph,dag): a
// kernel that only hints the cache, so a matmul that runs later finds its
// weights in L2 instead of waiting on HBM. It reads nothing into registers
// and writes nothing: no result depends on it.
#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/kernels.h"

namespace rwkv::cuda {
namespace {

constexpr int kLine = 128;  // bytes a prefetch names (an L2 line)

__global__ void prefetch_l2_k(const uint8_t* p, int64_t bytes) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x * kLine;
  for (int64_t at = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * kLine; at < bytes; at += stride)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p + at));
}

}  // namespace

void prefetch_l2(const void* p, int64_t bytes, int blocks, cudaStream_t s) {
  if (bytes <= 0) return;
  const int64_t lines = (bytes + kLine - 1) / kLine;
  const int64_t want = (lines + 255) / 256;
  prefetch_l2_k<<<unsigned(want < blocks ? want : blocks), 256, 0, s>>>(static_cast<const uint8_t*>(p), bytes);
}

}  // namespace rwkv::cuda
