#pragma once
// The model-loader fuzzers read an input as the beginning of a model file
// (header, key-values, tensor infos) followed by zeros up to kModelImageBytes:
// the loaders' logic lives in the header, the tensor bytes only need to exist.
// This keeps every corpus entry a few kilobytes while the model it describes
// loads completely. fuzz_regression_test.cpp replays the corpus the same way.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace rwkv::fuzz {

constexpr size_t kModelImageBytes = size_t(1) << 20;

inline std::vector<uint8_t> model_image(const uint8_t* data, size_t size) {
  std::vector<uint8_t> img(size < kModelImageBytes ? kModelImageBytes : size, 0);
  if (size) std::memcpy(img.data(), data, size);
  return img;
}

}  // namespace rwkv::fuzz
