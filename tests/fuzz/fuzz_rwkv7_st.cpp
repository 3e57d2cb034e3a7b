// libFuzzer target: the RWKV-7 safetensors model loader (config detection,
// shape checks, extra tensors, conversions) must load an image or throw
// std::runtime_error; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "reference/model/rwkv7_weights.h"
#include "reference/model/safetensors.h"
#include "tests/fuzz/model_image.h"
#include "tests/fuzz/touch_weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> img = rwkv::fuzz::model_image(data, size);
  try {
    const auto st = rwkv::SafetensorsFile::parse("fuzz.st", img.data(), img.size(), nullptr);
    rwkv::fuzz::touch(rwkv::rwkv7_from_safetensors(st));
  } catch (const std::runtime_error&) {
  }
  return 0;
}
