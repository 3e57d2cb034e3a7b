#pragma once
// What the GPU costs, measured on it (rwkv-oracle calibrate, and the floors of
// rwkv-oracle bench --backend cuda). Every figure is the median of many
// repetitions unless it says best-of; see calibrate.cpp for each method.
#include <cstddef>
#include <string>

namespace rwkv::backends::cuda_calibrate {

struct DeviceCosts {
  std::string device;          // cuda_device_description()
  double encode_us = 0;        // host time of one asynchronous launch of an empty kernel (mean of 2000)
  double launch_sync_us = 0;   // launch one empty kernel + cudaStreamSynchronize (spinning), p50
  double launch_sync_p10_us = 0, launch_sync_p90_us = 0;
  double blocking_sync_us = 0; // the same, waiting on a cudaEventBlockingSync event, p50
  double idle_sync_us = 0;     // cudaStreamSynchronize on an idle stream, p50
  double gap_us = 0;           // device time a stream adds between two kernels (2 t(S) - t(2S) of spin kernels)
  double graph_kernel_us = 0;  // per kernel of a replayed graph of 100 empty kernels
  double graph_launch_us = 0;  // host time of one cudaGraphLaunch
  double event_us = 0;         // host time of cudaEventRecord + cudaStreamWaitEvent on another stream
  double readback_us = 0;      // sync + a D2H copy of `readback_bytes` into pinned memory, p50
  size_t readback_bytes = 0;
  double read_gbps = 0;        // a kernel reading 4 GiB, best of 10 (1e9 bytes/s)
  double copy_gbps = 0;        // cudaMemcpy device to device of 2 GiB, read + written bytes, best of 5
  double fp32_gflops = 0;      // independent FMA chains on every SM, 2 flops per FMA, best of 5
};

// Measures everything above on device 0 (about 2 s).
DeviceCosts measure(size_t readback_bytes);
// Only the read bandwidth (for the bench's floor), best of `passes`.
double measure_read_gbps(size_t bytes, int passes);

}  // namespace rwkv::backends::cuda_calibrate
