// harness::compare_tensors throughput: how fast the harness compares a
// candidate tensor with the reference's, beside the machine's read bandwidth
// measured in the same run (machine_limits.h). The goal: >= 1 GB/s on 2 cores.
//
//   BM_CompareTensors/<dtype>/<threads>   two 64 MiB tensors (reference and
//       candidate, each 64 MiB: 32 Mi f16 or 16 Mi f32 values), the candidate
//       the reference plus a few ulps of noise and some exact elements.
// Counters: data_GBps = bytes of both tensors per second; frac_bw = data_GBps
// over the read bandwidth (all threads); read_GBps repeated on every row.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <memory>
#include <vector>

#include "backends/harness/metrics.h"
#include "bench/machine_limits.h"
#include "reference/util/rng.h"

namespace {

using namespace rwkv;

constexpr size_t kBytes = size_t(64) << 20;  // per tensor

struct Pair {
  DType dtype;
  Tensor ref, cand;
};

const Pair& pair_of(DType t) {
  static std::unique_ptr<Pair> current;
  if (current && current->dtype == t) return *current;
  current.reset();
  auto p = std::make_unique<Pair>();
  p->dtype = t;
  const int64_t n = int64_t(kBytes / dtype_size(t));
  p->ref = Tensor(t, Shape(n));
  p->cand = Tensor(t, Shape(n));
  Rng rng(7);
  const TensorView r = p->ref.view(), c = p->cand.view();
  for (int64_t i = 0; i < n; ++i) {
    const float v = rng.normal();
    const float noise = rng.uniform(-2, 2);
    r.set(i, v);
    // A few ulps off in most elements (f16: ~5e-4 relative; f32: ~2e-7).
    c.set(i, i % 4 == 0 ? v : v * (1 + noise * (t == DType::f16 ? 5e-4f : 2e-7f)));
  }
  current = std::move(p);
  return *current;
}

void BM_CompareTensors(benchmark::State& state) {
  const DType t = state.range(0) == 16 ? DType::f16 : DType::f32;
  const int threads = int(state.range(1));
  const Pair& p = pair_of(t);
  const harness::Tolerance tol{1e-4, 1};
  const double read = bench::machine_limits().read_gbps;
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  int64_t beyond = 0;
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const harness::TensorMetrics m =
        harness::compare_tensors(const_cast<Tensor&>(p.ref).view(), const_cast<Tensor&>(p.cand).view(), tol);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    beyond = m.beyond;
    benchmark::DoNotOptimize(m);
  }
  omp_set_num_threads(before);
  const double gbps = 2.0 * double(kBytes) * double(state.iterations()) / seconds / 1e9;
  state.counters["data_GBps"] = gbps;
  state.counters["frac_bw"] = gbps / read;
  state.counters["read_GBps"] = read;
  state.counters["beyond"] = double(beyond);
  state.SetLabel(std::string(dtype_name(t)) + ", 2 x 64 MiB");
}

BENCHMARK(BM_CompareTensors)
    ->ArgNames({"dtype", "threads"})
    ->Args({16, 2})
    ->Args({32, 2})
    ->Args({16, 1})
    ->Args({32, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
