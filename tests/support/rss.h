#pragma once
// The process's resident memory, for tests that a long stream of writes keeps
// memory flat.
#include <unistd.h>

#include <cstdint>
#include <fstream>

namespace rwkv::test {

inline uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * uint64_t(::sysconf(_SC_PAGESIZE));
}

}  // namespace rwkv::test
