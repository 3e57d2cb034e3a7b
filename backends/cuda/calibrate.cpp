// Device cost measurements (calibrate.h).
#include "backends/cuda/calibrate.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "backends/cuda/calibrate_kernels.h"
#include "backends/cuda/cuda_backend.h"

namespace rwkv::backends::cuda_calibrate {
namespace {

using Clock = std::chrono::steady_clock;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(fmt::format("cuda calibrate: {}: {} ({})", what, cudaGetErrorName(e), cudaGetErrorString(e)));
}

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// Device milliseconds of `body` (launches on s) between two events.
template <class F> double device_ms(cudaStream_t s, F&& body) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  check(cudaEventRecord(a, s), "event record");
  body();
  check(cudaEventRecord(b, s), "event record");
  check(cudaEventSynchronize(b), "event sync");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, a, b), "elapsed");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return double(ms);
}

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream"); }
  ~Stream() { cudaStreamDestroy(s); }
};

}  // namespace

double measure_read_gbps(size_t bytes, int passes) {
  bytes = bytes / 16 * 16;
  void* p = nullptr;
  uint32_t* sink = nullptr;
  check(cudaMalloc(&p, bytes), "allocating the bandwidth buffer");
  check(cudaMalloc(&sink, 16), "allocating");
  check(cudaMemset(p, 1, bytes), "filling the bandwidth buffer");
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  Stream st;
  double best = 0;
  for (int i = 0; i < passes + 1; ++i) {
    const double ms = device_ms(st.s, [&] { cuda::calib::launch_read(p, int64_t(bytes), sink, sms * 4, st.s); });
    check(cudaGetLastError(), "the read kernel");
    if (i > 0) best = std::max(best, double(bytes) / (ms * 1e-3) / 1e9);
  }
  cudaFree(p);
  cudaFree(sink);
  return best;
}

DeviceCosts measure(size_t readback_bytes) {
  DeviceCosts c;
  c.device = cuda_device_description(0);
  Stream st, other;
  const cudaStream_t s = st.s;
  // Warm up the module and the stream.
  for (int i = 0; i < 100; ++i) cuda::calib::launch_empty(s);
  check(cudaStreamSynchronize(s), "warm-up");

  {  // host cost per asynchronous launch
    const int n = 2000;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) cuda::calib::launch_empty(s);
    c.encode_us = us_since(t0) / n;
    check(cudaStreamSynchronize(s), "launches");
  }
  {  // launch + spinning sync, and the idle sync
    std::vector<double> v, idle;
    for (int i = 0; i < 2000; ++i) {
      const auto t0 = Clock::now();
      cuda::calib::launch_empty(s);
      check(cudaStreamSynchronize(s), "launch + sync");
      v.push_back(us_since(t0));
      const auto t1 = Clock::now();
      check(cudaStreamSynchronize(s), "idle sync");
      idle.push_back(us_since(t1));
    }
    c.launch_sync_us = percentile(v, 0.5);
    c.launch_sync_p10_us = percentile(v, 0.1);
    c.launch_sync_p90_us = percentile(v, 0.9);
    c.idle_sync_us = percentile(idle, 0.5);
  }
  {  // launch + blocking wait
    cudaEvent_t e;
    check(cudaEventCreateWithFlags(&e, cudaEventBlockingSync | cudaEventDisableTiming), "blocking event");
    std::vector<double> v;
    for (int i = 0; i < 300; ++i) {
      const auto t0 = Clock::now();
      cuda::calib::launch_empty(s);
      check(cudaEventRecord(e, s), "record");
      check(cudaEventSynchronize(e), "blocking sync");
      v.push_back(us_since(t0));
    }
    cudaEventDestroy(e);
    c.blocking_sync_us = percentile(v, 0.5);
  }
  {  // the gap: kernels of S and 2S cycles back to back, host far ahead
    int clock_khz = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0);
    const long long cycles = std::max<long long>(1000, (long long)(clock_khz) * 10 / 1000);  // ~10 us
    auto per_kernel = [&](long long cyc) {
      const int n = 300;
      cuda::calib::launch_spin(cyc * 50, s);  // lets the host queue the rest before they start
      return 1000.0 * device_ms(s, [&] {
               for (int i = 0; i < n; ++i) cuda::calib::launch_spin(cyc, s);
             }) / n;
    };
    per_kernel(cycles);
    const double t1 = per_kernel(cycles), t2 = per_kernel(2 * cycles);
    c.gap_us = std::max(0.0, 2 * t1 - t2);
  }
  {  // a graph of 100 empty kernels
    cudaGraph_t g;
    cudaGraphExec_t exec;
    check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "capture");
    for (int i = 0; i < 100; ++i) cuda::calib::launch_empty(s);
    check(cudaStreamEndCapture(s, &g), "capture");
    check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
    cudaGraphDestroy(g);
    for (int i = 0; i < 10; ++i) check(cudaGraphLaunch(exec, s), "graph launch");
    check(cudaStreamSynchronize(s), "graph");
    std::vector<double> dev, host;
    for (int i = 0; i < 200; ++i) {
      dev.push_back(1000.0 * device_ms(s, [&] { check(cudaGraphLaunch(exec, s), "graph launch"); }) / 100);
      const auto t0 = Clock::now();
      check(cudaGraphLaunch(exec, s), "graph launch");
      host.push_back(us_since(t0));
      check(cudaStreamSynchronize(s), "graph");
    }
    cudaGraphExecDestroy(exec);
    c.graph_kernel_us = percentile(dev, 0.5);
    c.graph_launch_us = percentile(host, 0.5);
  }
  {  // event record + cross-stream wait (host cost)
    cudaEvent_t e;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "event");
    const int n = 2000;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      check(cudaEventRecord(e, s), "record");
      check(cudaStreamWaitEvent(other.s, e, 0), "wait event");
    }
    c.event_us = us_since(t0) / n;
    check(cudaDeviceSynchronize(), "events");
    cudaEventDestroy(e);
  }
  {  // sync + readback of the logits
    c.readback_bytes = std::max<size_t>(readback_bytes, 4);
    void *d = nullptr, *h = nullptr;
    check(cudaMalloc(&d, c.readback_bytes), "readback buffer");
    check(cudaMallocHost(&h, c.readback_bytes), "pinned readback buffer");
    std::vector<double> v;
    for (int i = 0; i < 300; ++i) {
      cuda::calib::launch_empty(s);
      const auto t0 = Clock::now();
      check(cudaStreamSynchronize(s), "sync");
      check(cudaMemcpyAsync(h, d, c.readback_bytes, cudaMemcpyDeviceToHost, s), "readback");
      check(cudaStreamSynchronize(s), "readback");
      v.push_back(us_since(t0));
    }
    c.readback_us = percentile(v, 0.5);
    cudaFree(d);
    cudaFreeHost(h);
  }
  c.read_gbps = measure_read_gbps(size_t(4) << 30, 10);
  {  // device-to-device copy
    const size_t bytes = size_t(2) << 30;
    void *a = nullptr, *b = nullptr;
    check(cudaMalloc(&a, bytes), "copy buffer");
    check(cudaMalloc(&b, bytes), "copy buffer");
    check(cudaMemset(a, 1, bytes), "fill");
    for (int i = 0; i < 6; ++i) {
      const double ms = device_ms(s, [&] { check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s), "copy"); });
      if (i > 0) c.copy_gbps = std::max(c.copy_gbps, 2.0 * double(bytes) / (ms * 1e-3) / 1e9);
    }
    cudaFree(a);
    cudaFree(b);
  }
  {  // f32 FMA peak
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    float* out = nullptr;
    check(cudaMalloc(&out, 16), "fma sink");
    const int blocks = sms * 8, iters = 20000;
    for (int i = 0; i < 6; ++i) {
      const double ms = device_ms(s, [&] { cuda::calib::launch_fma(out, blocks, iters, s); });
      check(cudaGetLastError(), "the fma kernel");
      if (i > 0) c.fp32_gflops = std::max(c.fp32_gflops, 16.0 * 256 * blocks * double(iters) / (ms * 1e-3) / 1e9);
    }
    cudaFree(out);
  }
  check(cudaGetLastError(), "calibration");
  return c;
}

}  // namespace rwkv::backends::cuda_calibrate
