// time_mix_v7 throughput: tokens/s and state traffic at C = 2048 and 4096
// (N = 64), T = 1 and 32 tokens per call, f16 activations (web-rwkv's default).
//
// Counters:
//   tokens/s        stacked tokens through the recurrence per second
//   state_B/s       logical state traffic: per token the kernel loads the
//                   head's N x N block twice (sa, then the update) and stores it
//                   once, as web-rwkv does: 12*N*C bytes per token. Our loop
//                   runs head by head, so these hit L1/L2 after the first load.
//   dram_B/s        compulsory traffic: the layer's N*C state floats read once
//                   and written once per call (8*N*C bytes per call, whatever
//                   T); only "cold" runs, which cycle through enough layer
//                   states (128 MiB) to miss the caches, pay it from memory.
// Jobs under 2^20 state multiply-adds (T*C*N) run on one thread whatever the
// thread count (time_mix.cpp), so threads:2 differs only at T = 32.
//   dram_frac_bw    dram_B/s as a fraction of the read bandwidth measured in
//                   the same run (bench/machine_limits.h); meaningful for cold
//                   runs only.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "bench/machine_limits.h"
#include "reference/kernels/time_mix.h"
#include "reference/kernels/time_mix_inputs.h"

namespace {

using namespace rwkv;

// Args: C, T, threads, cold (0: one layer state, cache-warm; 1: cycle 128 MiB of states).
void BM_TimeMixV7(benchmark::State& st) {
  const int64_t C = st.range(0), T = st.range(1), threads = st.range(2), cold = st.range(3);
  const int64_t N = 64;
  const double read_bytes_per_s = bench::machine_limits().read_gbps * 1e9;  // measured before the timed loop
  TimeMixInputs in = make_time_mix_inputs(1, DType::f16, C, N, {{0, uint32_t(T)}});
  const int64_t layer_floats = C * (N + 2);
  const int64_t layers = cold ? std::max<int64_t>(1, (int64_t(128) << 20) / (layer_floats * 4)) : 1;
  std::vector<float> states = make_time_mix_state(2, C, N, layers, 0.3f);
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(int(threads));
  int64_t layer = 0;
  for (auto _ : st) {
    const LayerState ls{states.data() + layer * layer_floats, C, N, 1};
    time_mix_v7(ls, in.r.view(), in.z.view(), in.n.view(), in.x.view(), in.cursors, N);
    benchmark::ClobberMemory();
    layer = layer + 1 == layers ? 0 : layer + 1;
  }
  omp_set_num_threads(threads_before);
  const double iters = double(st.iterations());
  st.counters["tokens/s"] = benchmark::Counter(iters * double(T), benchmark::Counter::kIsRate);
  st.counters["state_B/s"] = benchmark::Counter(iters * double(T) * 12.0 * double(N * C), benchmark::Counter::kIsRate);
  st.counters["dram_B/s"] = benchmark::Counter(iters * 8.0 * double(N * C), benchmark::Counter::kIsRate);
  // A rate of (bytes / bandwidth) per second is the fraction of bandwidth used.
  st.counters["dram_frac_bw"] = benchmark::Counter(iters * 8.0 * double(N * C) / read_bytes_per_s, benchmark::Counter::kIsRate);
  st.counters["layers"] = double(layers);
}

template <int64_t Threads> void time_mix_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "T", "threads", "cold"});
  for (int64_t C : {2048, 4096})
    for (int64_t T : {1, 32})
      for (int64_t cold : {0, 1}) b->Args({C, T, Threads, cold});
}

// One thread: rates from CPU time, which a busy shared machine does not
// inflate. Several threads: rates from real time (the work is on other threads).
BENCHMARK(BM_TimeMixV7)->Apply(time_mix_args<1>);
BENCHMARK(BM_TimeMixV7)->Apply(time_mix_args<2>)->UseRealTime();

}  // namespace
