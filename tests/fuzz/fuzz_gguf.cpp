// libFuzzer target: the GGUF reader must either parse an image or throw
// std::runtime_error; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "reference/model/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto g = rwkv::GgufFile::parse("fuzz.gguf", data, size, nullptr);
    volatile uint8_t sink = 0;
    for (const auto& [name, t] : g.tensors())
      for (uint64_t i = 0; i < t.bytes; i += 64) sink = sink ^ t.data[i];
    (void)sink;
  } catch (const std::runtime_error&) {
  }
  return 0;
}
