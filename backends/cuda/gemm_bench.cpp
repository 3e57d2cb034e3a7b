// Prefill GEMM throughput (gemm_bench.h). Weights are seeded random values of
// each format (fp16 in [-1, 1]; Q4_K blocks of random codes and scales with
// d = 0.01, dmin = 0.005), activations random f16; the tensor cores' speed
// does not depend on the values, only on their being finite.
#include "backends/cuda/gemm_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "backends/cuda/cublas_gemm.h"
#include "reference/numeric/f16.h"
#include "reference/plan/model_config.h"
#include "reference/util/rng.h"

namespace rwkv::backends::cuda_gemm_bench {
namespace {

void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess)
    throw std::runtime_error(fmt::format("gemm bench: {}: {} ({})", what, cudaGetErrorName(e), cudaGetErrorString(e)));
}

// One device buffer, freed on scope exit.
struct DevMem {
  void* p = nullptr;
  explicit DevMem(size_t bytes, const std::string& what) { check(cudaMalloc(&p, bytes), "allocating " + what); }
  ~DevMem() { cudaFree(p); }
  DevMem(const DevMem&) = delete;
  DevMem& operator=(const DevMem&) = delete;
};

struct Timer {
  cudaEvent_t a = nullptr, b = nullptr;
  Timer() {
    check(cudaEventCreate(&a), "creating an event");
    check(cudaEventCreate(&b), "creating an event");
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
  // Mean device microseconds of `body` over `reps` runs, after `warm` untimed ones.
  template <class F> double us(cudaStream_t s, int warm, int reps, F&& body) {
    for (int i = 0; i < warm; ++i) body();
    check(cudaEventRecord(a, s), "recording an event");
    for (int i = 0; i < reps; ++i) body();
    check(cudaEventRecord(b, s), "recording an event");
    check(cudaEventSynchronize(b), "timing a GEMM");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b), "reading an event");
    return 1000.0 * double(ms) / reps;
  }
};

const cuda::CublasLibrary& library() {
  std::string why;
  const cuda::CublasLibrary* lib = cuda::cublas_library(&why);
  if (!lib) throw std::runtime_error("gemm bench: needs cuBLAS: " + why);
  return *lib;
}

void fill_f16(void* dst, size_t n, uint64_t seed, float scale) {
  Rng rng(seed);
  std::vector<uint16_t> h(n);
  for (uint16_t& v : h) v = f32_to_f16_bits((2.0f * rng.unit() - 1.0f) * scale);
  check(cudaMemcpy(dst, h.data(), n * 2, cudaMemcpyHostToDevice), "uploading f16 values");
}

void fill_q4k(void* dst, size_t blocks, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> b(blocks * 144);
  for (size_t i = 0; i < b.size(); i += 8) {
    const uint64_t r = rng.next_u64();
    std::memcpy(b.data() + i, &r, std::min<size_t>(8, b.size() - i));
  }
  const uint16_t d = f32_to_f16_bits(0.01f), dmin = f32_to_f16_bits(0.005f);
  for (size_t i = 0; i < blocks; ++i) {
    std::memcpy(b.data() + 144 * i, &d, 2);
    std::memcpy(b.data() + 144 * i + 2, &dmin, 2);
  }
  check(cudaMemcpy(dst, b.data(), b.size(), cudaMemcpyHostToDevice), "uploading Q4_K blocks");
}

struct Shape {
  std::string name;
  int64_t K, M;
  Activation act;
  bool f32_out;
};

std::vector<Shape> shapes_of(const plan::ModelConfig& c) {
  return {{"C x C", c.C, c.C, Activation::none, false},
          {"C x 4C (sqrelu)", c.C, c.F, Activation::squared_relu, false},
          {"4C x C", c.F, c.C, Activation::none, false},
          {"head (f32 out)", c.C, c.V, Activation::none, true}};
}

}  // namespace

Peak measure_peak(int64_t n) {
  cuda::CublasGemm g(library());
  const size_t elems = size_t(n) * size_t(n);
  DevMem a(elems * 2, "the peak GEMM's A"), b(elems * 2, "the peak GEMM's B"), c(elems * 2, "the peak GEMM's C");
  fill_f16(a.p, elems, 1, 1.0f);
  fill_f16(b.p, elems, 2, 1.0f);
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream");
  Timer t;
  const double us = t.us(s, 3, 10, [&] { g.gemm_f16(a.p, b.p, c.p, int(n), int(n), int(n), s); });
  cudaStreamDestroy(s);
  return Peak{2.0 * double(n) * double(n) * double(n) / (us * 1e-6) / 1e12, n};
}

std::vector<Row> sweep(const std::vector<std::string>& configs, const std::vector<int64_t>& tokens,
                       const std::vector<std::string>& formats, double peak_tflops) {
  for (const std::string& f : formats)
    if (f != "fp16" && f != "q4_k")
      throw std::invalid_argument(fmt::format("gemm bench: format {}: expected fp16 or q4_k", f));
  int64_t max_mk = 0, max_k = 0, max_m = 0, max_t = 0;
  for (const std::string& name : configs)
    for (const Shape& s : shapes_of(plan::preset(name))) {
      max_mk = std::max(max_mk, s.M * s.K);
      max_k = std::max(max_k, s.K);
      max_m = std::max(max_m, s.M);
    }
  for (int64_t T : tokens) {
    if (T < 32 || T % 32 != 0) throw std::invalid_argument(fmt::format("gemm bench: T = {}: expected a multiple of 32", T));
    max_t = std::max(max_t, T);
  }
  cuda::CublasGemm g(library());
  // One buffer of each kind, as large as the largest shape needs; each shape uses a prefix.
  DevMem w16(size_t(max_mk) * 2, "fp16 weights"), wq(size_t(max_mk) / 256 * 144, "Q4_K weights");
  DevMem x(size_t(max_k) * size_t(max_t) * 2, "activations"), y(size_t(max_m) * size_t(max_t) * 4, "outputs");
  fill_f16(w16.p, size_t(max_mk), 3, 1.0f);
  fill_q4k(wq.p, size_t(max_mk) / 256, 4);
  fill_f16(x.p, size_t(max_k) * size_t(max_t), 5, 1.0f);
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream");
  Timer t;
  std::vector<Row> rows;
  try {
    for (const std::string& name : configs) {
      const plan::ModelConfig c = plan::preset(name);
      for (const Shape& sh : shapes_of(c))
        for (const std::string& f : formats)
          for (int64_t T : tokens) {
            cuda::DevMatrix w;
            w.fmt = f == "fp16" ? cuda::Fmt::fp16 : cuda::Fmt::q4_k;
            w.K = sh.K;
            w.M = sh.M;
            w.data = static_cast<const uint8_t*>(f == "fp16" ? w16.p : wq.p);
            w.row_bytes = f == "fp16" ? 0 : sh.K / 256 * 144;
            cuda::Dev xd{x.p, true, sh.K, T, 1}, yd{y.p, !sh.f32_out, sh.M, T, 1};
            if (!cuda::CublasGemm::takes(w, xd, yd))
              throw std::logic_error(fmt::format("gemm bench: {} {} is not a shape the GEMM takes", name, sh.name));
            g.reserve(w, xd, yd, sh.act);
            Row r{name, sh.name, f, sh.K, sh.M, T};
            const double flop = 2.0 * double(sh.M) * double(sh.K) * double(T);
            // About 20 ms of repeats (at least 3), from one untimed estimate.
            const double est = t.us(s, 1, 1, [&] { g.run(w, xd, yd, sh.act, s, sh.name); });
            const int reps = int(std::clamp(20000.0 / std::max(est, 1.0), 3.0, 200.0));
            r.us = t.us(s, 1, reps, [&] { g.run(w, xd, yd, sh.act, s, sh.name); });
            if (w.fmt != cuda::Fmt::fp16) r.dequant_us = t.us(s, 1, reps, [&] { g.dequantise(w, yd, s, sh.name); });
            r.tflops = flop / (r.us * 1e-6) / 1e12;
            r.of_peak = peak_tflops > 0 ? r.tflops / peak_tflops : 0;
            rows.push_back(r);
          }
    }
  } catch (...) {
    cudaStreamDestroy(s);
    throw;
  }
  cudaStreamDestroy(s);
  return rows;
}

}  // namespace rwkv::backends::cuda_gemm_bench
