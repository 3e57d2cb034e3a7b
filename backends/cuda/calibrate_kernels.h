#pragma once
// Launchers of the measuring kernels (calibrate_kernels.cu); see calibrate.h.
#include <cstdint>

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::cuda::calib {
void launch_empty(cudaStream_t s);
void launch_spin(long long cycles, cudaStream_t s);
// Reads `bytes` (a multiple of 16) from p with `blocks` blocks of 512 threads.
void launch_read(const void* p, int64_t bytes, uint32_t* sink, int blocks, cudaStream_t s);
// blocks x 256 threads, each 8 FMA chains of `iters` steps: 16 * 256 * blocks * iters flops.
void launch_fma(float* out, int blocks, int iters, cudaStream_t s);
}  // namespace rwkv::cuda::calib
