#pragma once
// What this machine can do at most, measured in the same run as the kernel
// benchmarks so that their figures can be quoted as fractions of it:
//   - read bandwidth: all OpenMP threads summing a buffer much larger than any
//     cache (each thread a contiguous share, best of several passes);
//   - peak f32 rate of separate multiplies and adds (no FMA: the reference
//     kernels may not fuse), all threads, widest SIMD the CPU has.
// Reusable by any benchmark: call machine_limits() (measured once, cached) or
// the measuring functions directly.
#include <cstddef>
#include <string>

namespace rwkv::bench {

struct MachineLimits {
  double read_gbps = 0;     // GB/s (1e9 bytes per second)
  double peak_gflops = 0;   // GFLOP/s, a multiply and an add counted as 2 flops
  int threads = 0;          // OpenMP threads used
  std::string simd;         // instruction set used for the measurements
  size_t read_bytes = 0;    // buffer size of the bandwidth measurement
};

// Bytes per second reading `bytes` with every OpenMP thread; best of `passes`.
double measure_read_bandwidth(size_t bytes, int passes);
// Flops per second of independent multiply-add chains (mul then add, unfused)
// on every OpenMP thread, running about `seconds`.
double measure_peak_flops(double seconds);
// Bytes per second written into a new file in `dir` (pwrite of 1 MiB blocks,
// `bytes` in all, no fsync: the page cache, as a golden file is written);
// best of `passes`; the file is removed. The floor under any dump's cost:
// on some VMs the file system takes fresh pages at well under 1 GB/s.
double measure_file_write(const std::string& dir, size_t bytes, int passes);
// The widest instruction set the measurements use on this CPU.
std::string limits_simd();

// Measured once (kBeyondCacheBytes, best of 10 passes: other processes on a
// shared machine only ever slow a pass down; 0.3 s of arithmetic), then cached.
const MachineLimits& machine_limits();

// Reads of buffers at least this large come from memory, not cache (this VM
// reports an L3 of 508 MiB, likely the whole socket's; this is the safe side).
// The bandwidth measurement reads this much.
constexpr size_t kBeyondCacheBytes = size_t(1) << 30;

}  // namespace rwkv::bench
