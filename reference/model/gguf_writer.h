#pragma once
// A streaming writer of GGUF v3 files, for models of any size: the header
// (key-values, tensor infos and every offset) is computed up front from the
// list of tensors, then each tensor's bytes are written in turn, in pieces of
// any size, so a caller never holds more than the piece it is writing. The
// file is written under a temporary name beside `path` and renamed into place
// by finish(); an unfinished writer removes its temporary file, so a failed
// run never leaves a half file under the final name.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "reference/model/gguf.h"

namespace rwkv {

class GgufStreamWriter {
 public:
  // Throws std::runtime_error if `path` exists and !force, or it cannot be
  // created; std::invalid_argument for a tensor the header cannot describe.
  GgufStreamWriter(std::string path, const std::vector<GgufKv>& kv, std::vector<GgufTensorInfo> tensors, bool force,
                   uint32_t alignment = 32);
  ~GgufStreamWriter();
  GgufStreamWriter(const GgufStreamWriter&) = delete;
  GgufStreamWriter& operator=(const GgufStreamWriter&) = delete;

  // The tensor whose bytes write() expects next (throws when all are written).
  const GgufTensorInfo& next() const;
  // Bytes still expected for next().
  uint64_t remaining() const;
  // The next bytes of the current tensor; a piece may not run past its end.
  // When a tensor is complete its padding is written and the next begins.
  void write(std::span<const uint8_t> bytes);
  // Checks every tensor was written, flushes and renames into place.
  void finish();
  // Size of the finished file (header, data and padding).
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  void put(const void* p, size_t n);
  std::string path_, tmp_;
  std::vector<GgufTensorInfo> tensors_;
  uint32_t alignment_;
  size_t index_ = 0;     // tensor being written
  uint64_t written_ = 0; // bytes of it written so far
  uint64_t file_bytes_ = 0;
  std::FILE* file_ = nullptr;
};

}  // namespace rwkv
