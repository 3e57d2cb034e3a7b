// load_rwkv7: one entry point for both model formats, chosen by the file's
// first bytes rather than its name.
#include <cstring>

#include "reference/model/mapped_file.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/model/safetensors.h"

namespace rwkv {

Rwkv7Weights load_rwkv7(const std::string& path) {
  auto file = MappedFile::open(path);
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0)
    return rwkv7_from_gguf(GgufFile::parse(path, file->data(), file->size(), file));
  return rwkv7_from_safetensors(SafetensorsFile::parse(path, file->data(), file->size(), file));
}

}  // namespace rwkv
