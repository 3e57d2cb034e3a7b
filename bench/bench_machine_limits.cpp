// The machine's limits as benchmarks of their own (machine_limits.h), so that
// every run of rwkv_bench prints them beside the kernels' figures.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "bench/machine_limits.h"

namespace {

void BM_ReadBandwidth(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0)) << 20;
  double best = 0;
  for (auto _ : state) best = std::max(best, rwkv::bench::measure_read_bandwidth(bytes, 1));
  state.counters["read_GBps"] = best / 1e9;
  state.SetLabel(rwkv::bench::limits_simd() + ", all threads, best pass");
}

void BM_PeakMulAdd(benchmark::State& state) {
  double best = 0;
  for (auto _ : state) best = std::max(best, rwkv::bench::measure_peak_flops(0.1));
  state.counters["peak_GFLOPs"] = best / 1e9;
  state.SetLabel(rwkv::bench::limits_simd() + " mul+add, unfused, all threads");
}

BENCHMARK(BM_ReadBandwidth)->ArgName("MiB")->Arg(1024)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_PeakMulAdd)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
