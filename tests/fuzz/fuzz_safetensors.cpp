// libFuzzer target: the safetensors reader must either parse an image or throw
// std::runtime_error; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "reference/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto st = rwkv::SafetensorsFile::parse("fuzz.st", data, size, nullptr);
    // Touch every tensor's bytes so an out-of-range pointer is caught by ASan.
    volatile uint8_t sink = 0;
    for (const auto& [name, t] : st.tensors())
      for (size_t i = 0; i < t.bytes; i += 64) sink = sink ^ t.data[i];
    (void)sink;
  } catch (const std::runtime_error&) {
  }
  return 0;
}
