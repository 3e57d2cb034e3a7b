#pragma once
// Which SIMD variant of the kernels runs. Chosen at run time from what the CPU
// offers (the widest), or forced: by set_level() (tests), by the environment
// variable RWKV_ORACLE_SIMD=scalar|sse4.2|avx2|avx512, or by the CLI's --simd.
// Every variant gives the same bits; forcing exists to prove that.
#include <string>
#include <string_view>
#include <vector>

namespace rwkv::simd {

enum class Level { scalar = 0, sse42 = 1, avx2 = 2, avx512 = 3 };

std::string_view name(Level level);
// Parses "scalar", "sse4.2", "avx2", "avx512"; throws std::invalid_argument
// naming the accepted values otherwise.
Level parse_level(std::string_view text);
// Levels this CPU can run, narrowest first (scalar is always there).
std::vector<Level> supported_levels();
bool is_supported(Level level);
// The level kernels use now.
Level active();
// Forces a level; throws std::invalid_argument if the CPU cannot run it.
void set_level(Level level);
// Back to automatic choice (the environment variable, else the widest).
void reset_level();

// RAII helper for tests: forces a level for one scope.
class ScopedLevel {
 public:
  explicit ScopedLevel(Level level);
  ~ScopedLevel();
  ScopedLevel(const ScopedLevel&) = delete;
  ScopedLevel& operator=(const ScopedLevel&) = delete;

 private:
  Level previous_;
  bool previous_forced_;
};

}  // namespace rwkv::simd

// Declare one function in all four variant namespaces:
//   RWKV_SIMD_DECLARE(void layer_norm_rows(const float* x, ...));
#define RWKV_SIMD_DECLARE(...)              \
  namespace rwkv::simd_scalar { __VA_ARGS__; } \
  namespace rwkv::simd_sse42 { __VA_ARGS__; }  \
  namespace rwkv::simd_avx2 { __VA_ARGS__; }   \
  namespace rwkv::simd_avx512 { __VA_ARGS__; }

// Call the active variant of a function declared with RWKV_SIMD_DECLARE:
//   RWKV_SIMD_CALL(layer_norm_rows, x, ...);
#define RWKV_SIMD_CALL(fn, ...)                                               \
  do {                                                                        \
    switch (::rwkv::simd::active()) {                                         \
      case ::rwkv::simd::Level::avx512: ::rwkv::simd_avx512::fn(__VA_ARGS__); break; \
      case ::rwkv::simd::Level::avx2: ::rwkv::simd_avx2::fn(__VA_ARGS__); break;     \
      case ::rwkv::simd::Level::sse42: ::rwkv::simd_sse42::fn(__VA_ARGS__); break;   \
      default: ::rwkv::simd_scalar::fn(__VA_ARGS__); break;                   \
    }                                                                         \
  } while (0)
