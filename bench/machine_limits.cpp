#include "bench/machine_limits.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace rwkv::bench {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }
bool has_avx2() { return __builtin_cpu_supports("avx2"); }

// Sums n 64-byte lines (integer adds: no FP latency chain in the way).
__attribute__((target("avx512f"))) uint64_t read_sum_avx512(const uint8_t* p, size_t lines) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 4 <= lines; i += 4) {
    a = _mm512_add_epi64(a, _mm512_load_si512(p + 64 * i));
    b = _mm512_add_epi64(b, _mm512_load_si512(p + 64 * i + 64));
    c = _mm512_add_epi64(c, _mm512_load_si512(p + 64 * i + 128));
    d = _mm512_add_epi64(d, _mm512_load_si512(p + 64 * i + 192));
  }
  for (; i < lines; ++i) a = _mm512_add_epi64(a, _mm512_load_si512(p + 64 * i));
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
  uint64_t s = 0;
  for (uint64_t v : t) s += v;
  return s;
}
__attribute__((target("avx2"))) uint64_t read_sum_avx2(const uint8_t* p, size_t lines) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i < lines; ++i) {
    const auto* q = reinterpret_cast<const __m256i*>(p + 64 * i);
    if (i & 1) {
      a = _mm256_add_epi64(a, _mm256_load_si256(q));
      b = _mm256_add_epi64(b, _mm256_load_si256(q + 1));
    } else {
      c = _mm256_add_epi64(c, _mm256_load_si256(q));
      d = _mm256_add_epi64(d, _mm256_load_si256(q + 1));
    }
  }
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  return t[0] + t[1] + t[2] + t[3];
}
uint64_t read_sum_sse2(const uint8_t* p, size_t lines) {
  __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
  for (size_t i = 0; i < lines; ++i) {
    const auto* q = reinterpret_cast<const __m128i*>(p + 64 * i);
    a = _mm_add_epi64(a, _mm_load_si128(q));
    b = _mm_add_epi64(b, _mm_load_si128(q + 1));
    c = _mm_add_epi64(c, _mm_load_si128(q + 2));
    d = _mm_add_epi64(d, _mm_load_si128(q + 3));
  }
  alignas(16) uint64_t t[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), _mm_add_epi64(_mm_add_epi64(a, b), _mm_add_epi64(c, d)));
  return t[0] + t[1];
}
uint64_t read_sum(const uint8_t* p, size_t lines) {
  if (has_avx512()) return read_sum_avx512(p, lines);
  if (has_avx2()) return read_sum_avx2(p, lines);
  return read_sum_sse2(p, lines);
}

// kChains independent chains a = a*m + c per thread (enough to cover the
// multiply and add latencies); returns flops done.
constexpr int kChains = 24;
__attribute__((target("avx512f"))) double mul_add_avx512(long steps, float seed) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(seed + float(j));
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (long s = 0; s < steps; ++s)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_add_ps(_mm512_mul_ps(acc[j], m), c);
  __m512 t = acc[0];
  for (int j = 1; j < kChains; ++j) t = _mm512_add_ps(t, acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, t);  // (not _mm512_reduce_add_ps: GCC 12's version warns)
  volatile float sink = lanes[0];
  (void)sink;
  return double(steps) * kChains * 16 * 2;
}
__attribute__((target("avx2"))) double mul_add_avx2(long steps, float seed) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(seed + float(j));
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (long s = 0; s < steps; ++s)
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_add_ps(_mm256_mul_ps(acc[j], m), c);
  alignas(32) float t[8];
  __m256 u = acc[0];
  for (int j = 1; j < 12; ++j) u = _mm256_add_ps(u, acc[j]);
  _mm256_store_ps(t, u);
  volatile float sink = t[0];
  (void)sink;
  return double(steps) * 12 * 8 * 2;
}
double mul_add_sse2(long steps, float seed) {
  __m128 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm_set1_ps(seed + float(j));
  const __m128 m = _mm_set1_ps(0.999999f), c = _mm_set1_ps(1e-6f);
  for (long s = 0; s < steps; ++s)
    for (int j = 0; j < 12; ++j) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], m), c);
  volatile float sink = _mm_cvtss_f32(acc[0]);
  (void)sink;
  return double(steps) * 12 * 4 * 2;
}
double mul_add(long steps, float seed) {
  if (has_avx512()) return mul_add_avx512(steps, seed);
  if (has_avx2()) return mul_add_avx2(steps, seed);
  return mul_add_sse2(steps, seed);
}

}  // namespace

std::string limits_simd() { return has_avx512() ? "avx512" : has_avx2() ? "avx2" : "sse2"; }

double measure_read_bandwidth(size_t bytes, int passes) {
  const size_t lines = bytes / 64;
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(64, lines * 64));
  std::unique_ptr<uint8_t, decltype(&std::free)> hold(buf, &std::free);
  const int threads = omp_get_max_threads();
#pragma omp parallel for schedule(static)
  for (int t = 0; t < threads; ++t) {  // first touch by the thread that will read the share
    const size_t lo = lines * size_t(t) / size_t(threads), hi = lines * size_t(t + 1) / size_t(threads);
    std::memset(buf + 64 * lo, int(t + 1), 64 * (hi - lo));
  }
  double best = 0;
  volatile uint64_t sink = 0;
  for (int p = 0; p < passes; ++p) {
    uint64_t total = 0;
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int t = 0; t < threads; ++t) {
      const size_t lo = lines * size_t(t) / size_t(threads), hi = lines * size_t(t + 1) / size_t(threads);
      total += read_sum(buf + 64 * lo, hi - lo);
    }
    const double s = seconds_since(t0);
    sink = sink + total;
    best = std::max(best, double(lines * 64) / s);
  }
  return best;
}

double measure_peak_flops(double seconds) {
  const int threads = omp_get_max_threads();
  long steps = 1 << 16;
  for (;;) {  // grow the step count until one run takes long enough to time
    double flops = 0;
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(static) reduction(+ : flops)
    for (int t = 0; t < threads; ++t) flops += mul_add(steps, 1.0f + float(t));
    const double s = seconds_since(t0);
    if (s >= seconds) return flops / s;
    steps *= s < seconds / 8 ? 8 : 2;
  }
}

double measure_file_write(const std::string& dir, size_t bytes, int passes) {
  const std::string path = dir + "/file-write-probe-" + std::to_string(::getpid()) + ".tmp";
  std::vector<unsigned char> block(size_t(1) << 20);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<unsigned char>(i * 131u);  // not all zero
  double best = 0;
  for (int p = 0; p < passes; ++p) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) throw std::runtime_error("file write probe: cannot create " + path);
    const auto t0 = Clock::now();
    bool ok = true;
    for (size_t at = 0; at < bytes && ok; at += block.size())
      ok = ::pwrite(fd, block.data(), block.size(), off_t(at)) == ssize_t(block.size());
    const double s = seconds_since(t0);
    ::close(fd);
    ::unlink(path.c_str());
    if (!ok) throw std::runtime_error("file write probe: writing " + path + " failed");
    best = std::max(best, double(bytes) / s);
  }
  return best;
}

const MachineLimits& machine_limits() {
  static const MachineLimits limits = [] {
    MachineLimits m;
    m.threads = omp_get_max_threads();
    m.simd = limits_simd();
    m.read_bytes = kBeyondCacheBytes;
    m.read_gbps = measure_read_bandwidth(m.read_bytes, 10) / 1e9;
    m.peak_gflops = measure_peak_flops(0.3) / 1e9;
    return m;
  }();
  return limits;
}

}  // namespace rwkv::bench
