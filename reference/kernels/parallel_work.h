#pragma once
// When a kernel splits its work across OpenMP threads. Waking the team costs
// microseconds on an idle machine and up to a scheduler time slice (ms) when
// another process holds a core, so jobs smaller than these stay on the calling
// thread. Threads change no bits, only speed (reference/README.md rule 5).
#include <cstdint>

namespace rwkv {

inline constexpr int64_t kParallelMinElements = int64_t(1) << 16;  // element-wise and normalisation work
inline constexpr int64_t kParallelMinMacs = int64_t(1) << 18;      // multiply-adds of a matmul

}  // namespace rwkv
