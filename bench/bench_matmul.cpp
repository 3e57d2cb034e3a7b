// matmul_vec and matmul_mat throughput, as fractions of the machine's read
// bandwidth and peak mul+add rate measured in the same run (machine_limits.h).
//
//   BM_MatmulVec/<format>/C/cold   T = 1, weights read once per call; cold = 1
//       rotates through copies of the matrix totalling >= 1 GiB, so every
//       call streams its weights from memory (the figure to compare with the
//       bandwidth); cold = 0 reuses one matrix (cache-resident if it fits).
//   BM_MatmulMat/<format>/C/T      compute-bound prefill shapes.
// Counters: weight_GBps (weight bytes, data + meta, per second), GFLOPs
// (2*K*M*T per call), frac_bw = weight_GBps / read bandwidth, frac_peak =
// GFLOPs / peak; read_GBps and peak_GFLOPs themselves are repeated on every row
// (bench_machine_limits.cpp reports them as benchmarks of their own too).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/machine_limits.h"
#include "reference/kernels/matmul.h"
#include "reference/kernels/random_weights.h"
#include "reference/util/rng.h"

namespace {

using namespace rwkv;
using Clock = std::chrono::steady_clock;

size_t weight_bytes(const Matrix& w) { return w.data_bytes + w.meta_count * sizeof(f16); }

// One matrix, or enough copies of it to exceed every cache, kept for as long
// as the benchmark asks for the same set (Google Benchmark calls each case
// several times).
struct WeightSet {
  WeightFormat format{};
  int64_t C = 0;
  bool cold = false;
  std::vector<Matrix> mats;
};

const WeightSet& weight_set(WeightFormat f, int64_t C, bool cold) {
  static std::unique_ptr<WeightSet> current;
  if (current && current->format == f && current->C == C && current->cold == cold) return *current;
  current.reset();  // free the previous set first
  auto set = std::make_unique<WeightSet>();
  set->format = f, set->C = C, set->cold = cold;
  const Matrix base = random_matrix(f, C, C, 2024 + uint64_t(f));
  const size_t copies = cold ? bench::kBeyondCacheBytes / weight_bytes(base) + 1 : 1;
  struct Copies {
    std::vector<uint8_t> data;
    std::vector<f16> meta;
  };
  auto store = std::make_shared<Copies>();
  store->data.resize(copies * base.data_bytes);
  store->meta.resize(copies * base.meta_count);
  for (size_t i = 0; i < copies; ++i) {
    std::memcpy(&store->data[i * base.data_bytes], base.data, base.data_bytes);
    if (base.meta_count) std::memcpy(&store->meta[i * base.meta_count], base.meta, base.meta_count * sizeof(f16));
    Matrix m = base;
    m.data = &store->data[i * base.data_bytes];
    m.meta = base.meta_count ? &store->meta[i * base.meta_count] : nullptr;
    m.owner = store;
    set->mats.push_back(m);
  }
  current = std::move(set);
  return *current;
}

Tensor random_activations(int64_t K, int64_t T) {
  Tensor x(DType::f16, Shape(K, T, 1));
  Rng rng(7);
  for (int64_t i = 0; i < K * T; ++i) x.view().set(i, rng.normal());
  return x;
}

void report(benchmark::State& state, double seconds, size_t bytes_per_call, double flops_per_call) {
  const bench::MachineLimits& lim = bench::machine_limits();
  const double calls = double(state.iterations());
  const double gbps = calls * double(bytes_per_call) / seconds / 1e9;
  const double gflops = calls * flops_per_call / seconds / 1e9;
  state.counters["weight_GBps"] = gbps;
  state.counters["GFLOPs"] = gflops;
  state.counters["frac_bw"] = gbps / lim.read_gbps;
  state.counters["frac_peak"] = gflops / lim.peak_gflops;
  state.counters["read_GBps"] = lim.read_gbps;
  state.counters["peak_GFLOPs"] = lim.peak_gflops;
  state.counters["threads"] = lim.threads;
}

void BM_MatmulVec(benchmark::State& state) {
  const auto f = WeightFormat(state.range(0));
  const int64_t C = state.range(1);
  const bool cold = state.range(2) != 0;
  bench::machine_limits();  // measured before the timed loop
  const WeightSet& set = weight_set(f, C, cold);
  Tensor x = random_activations(C, 1);
  Tensor y(DType::f16, Shape(C, 1, 1));
  size_t i = 0;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    matmul_vec(set.mats[i], x.view(), y.view(), Activation::none);
    i = i + 1 == set.mats.size() ? 0 : i + 1;
    benchmark::DoNotOptimize(y.bytes.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  report(state, s, weight_bytes(set.mats[0]), 2.0 * double(C) * double(C));
  state.SetLabel(std::string(format_name(f)) + (cold ? " cold" : " hot"));
}

void BM_MatmulMat(benchmark::State& state) {
  const auto f = WeightFormat(state.range(0));
  const int64_t C = state.range(1), T = state.range(2);
  bench::machine_limits();
  const WeightSet& set = weight_set(f, C, false);
  Tensor x = random_activations(C, T);
  Tensor y(DType::f16, Shape(C, T, 1));
  const auto t0 = Clock::now();
  for (auto _ : state) {
    matmul_mat(set.mats[0], x.view(), y.view(), Activation::none);
    benchmark::DoNotOptimize(y.bytes.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  report(state, s, weight_bytes(set.mats[0]), 2.0 * double(C) * double(C) * double(T));
  state.SetLabel(std::string(format_name(f)));
}

constexpr int64_t kFp16 = int64_t(WeightFormat::fp16), kQ4K = int64_t(WeightFormat::q4_k),
                  kQ6K = int64_t(WeightFormat::q6_k);  // q6_k: the head of llama.cpp's Q4_K mixes

BENCHMARK(BM_MatmulVec)
    ->ArgNames({"fmt", "C", "cold"})
    ->ArgsProduct({{kFp16, kQ4K, kQ6K}, {2048, 4096}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_MatmulMat)
    ->ArgNames({"fmt", "C", "T"})
    ->ArgsProduct({{kFp16, kQ4K}, {2048, 4096}, {64}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();


// A 1.5b decode step's FFN value matrix (K = 8192, M = 2048) on the squared
// ReLU output it sees in the model (about half exactly zero), with and without
// web-rwkv's sparse-input skip: same bits, different cost.
void BM_MatmulVecSparse(benchmark::State& state) {
  const auto f = WeightFormat(state.range(0));
  const bool sparse = state.range(1) != 0;
  const int64_t K = 8192, M = 2048;
  bench::machine_limits();
  const Matrix w = random_matrix(f, K, M, 77);
  Tensor x(DType::f16, Shape(K, 1, 1));
  Rng rng(9);
  for (int64_t i = 0; i < K; ++i) {
    const float v = rng.normal();
    x.view().set(i, v > 0 ? v * v : 0.0f);
  }
  Tensor y(DType::f16, Shape(M, 1, 1));
  const auto t0 = Clock::now();
  for (auto _ : state) {
    matmul_vec(w, x.view(), y.view(), Activation::none, sparse);
    benchmark::DoNotOptimize(y.bytes.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  report(state, s, weight_bytes(w), 2.0 * double(K) * double(M));
  state.SetLabel(std::string(format_name(f)) + (sparse ? " sparse" : " dense"));
}
BENCHMARK(BM_MatmulVecSparse)
    ->ArgNames({"fmt", "sparse"})
    ->ArgsProduct({{kFp16, kQ4K}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// A LoRA matrix of a decode step (1.5b's w2: K = 64, M = 2048): few
// multiply-adds per output, so the per-output tree and store dominate.
void BM_MatmulVecNarrow(benchmark::State& state) {
  const int64_t K = state.range(0), M = 2048;
  bench::machine_limits();
  const Matrix w = random_matrix(WeightFormat::fp16, K, M, 78);
  Tensor x = random_activations(K, 1);
  Tensor y(DType::f16, Shape(M, 1, 1));
  const auto t0 = Clock::now();
  for (auto _ : state) {
    matmul_vec(w, x.view(), y.view(), Activation::none);
    benchmark::DoNotOptimize(y.bytes.data());
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  report(state, s, weight_bytes(w), 2.0 * double(K) * double(M));
  state.counters["ns_per_output"] = s / double(state.iterations()) / double(M) * 1e9;
}
BENCHMARK(BM_MatmulVecNarrow)->ArgName("K")->Arg(32)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
