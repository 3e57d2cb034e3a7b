#include "reference/simd/dispatch.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace rwkv::simd {
namespace {

// F16C (CPUID leaf 1, ECX bit 29): Clang 14's __builtin_cpu_supports does not
// know the name, so read the bit directly.
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx >> 29) & 1u;
}

bool cpu_has(Level level) {
  switch (level) {
    case Level::scalar: return true;
    case Level::sse42: return __builtin_cpu_supports("sse4.2");
    case Level::avx2: return __builtin_cpu_supports("avx2") && cpu_has_f16c();
    case Level::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && cpu_has_f16c();
  }
  return false;
}

Level widest() {
  for (Level l : {Level::avx512, Level::avx2, Level::sse42})
    if (cpu_has(l)) return l;
  return Level::scalar;
}

Level automatic() {
  if (const char* env = std::getenv("RWKV_ORACLE_SIMD"); env && *env) {
    const Level l = parse_level(env);
    if (!cpu_has(l))
      throw std::invalid_argument("RWKV_ORACLE_SIMD=" + std::string(env) +
                                  ": this CPU cannot run that instruction set");
    return l;
  }
  return widest();
}

std::atomic<int> g_level{-1};  // -1: not chosen yet
std::atomic<bool> g_forced{false};

}  // namespace

std::string_view name(Level level) {
  switch (level) {
    case Level::scalar: return "scalar";
    case Level::sse42: return "sse4.2";
    case Level::avx2: return "avx2";
    case Level::avx512: return "avx512";
  }
  return "?";
}

Level parse_level(std::string_view text) {
  for (Level l : {Level::scalar, Level::sse42, Level::avx2, Level::avx512})
    if (text == name(l)) return l;
  throw std::invalid_argument("unknown SIMD level '" + std::string(text) +
                              "': expected one of scalar, sse4.2, avx2, avx512");
}

std::vector<Level> supported_levels() {
  std::vector<Level> out;
  for (Level l : {Level::scalar, Level::sse42, Level::avx2, Level::avx512})
    if (cpu_has(l)) out.push_back(l);
  return out;
}

bool is_supported(Level level) { return cpu_has(level); }

Level active() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l < 0) {
    l = int(automatic());
    g_level.store(l, std::memory_order_relaxed);
  }
  return Level(l);
}

void set_level(Level level) {
  if (!cpu_has(level))
    throw std::invalid_argument("SIMD level " + std::string(name(level)) +
                                " is not supported by this CPU");
  g_level.store(int(level));
  g_forced.store(true);
}

void reset_level() {
  g_level.store(-1);
  g_forced.store(false);
}

ScopedLevel::ScopedLevel(Level level) : previous_(active()), previous_forced_(g_forced.load()) {
  set_level(level);
}
ScopedLevel::~ScopedLevel() {
  if (previous_forced_)
    set_level(previous_);
  else
    reset_level();
}

}  // namespace rwkv::simd
