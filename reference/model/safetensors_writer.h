#pragma once
// A streaming writer of F16 (and F32) safetensors files (the layout web-rwkv loads):
// the header is written first from the list of names and shapes, then each
// tensor's data in the same order, one at a time, so a caller never holds
// more than one tensor. The file is written under a temporary name next to
// `path` and renamed into place by finish(), so a reader never sees half a
// file; an unfinished writer removes its temporary file.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "reference/model/safetensors.h"

namespace rwkv {

struct StEntry {
  std::string name;
  std::vector<int64_t> shape;  // as stored, last dimension contiguous
  StDType dtype = StDType::f16;  // F16 or F32 (BF16 is read, never written)
  int64_t numel() const;
};

// The header bytes: 8-byte little-endian length, then the JSON
// {"__metadata__":{"format":"pt"}, name: {dtype, shape, data_offsets}...}
// in `entries` order, padded with spaces to a multiple of 8.
std::string safetensors_header(const std::vector<StEntry>& entries);

class SafetensorsWriter {
 public:
  // Throws std::runtime_error if `path` exists and !force, or it cannot be created.
  SafetensorsWriter(std::string path, std::vector<StEntry> entries, bool force);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // The next tensor's f16 bits (an F16 entry) or f32 values (an F32 entry),
  // exactly numel() of them, in entry order.
  void write(std::span<const uint16_t> bits);
  void write(std::span<const float> values);
  // The entry write() expects next (throws when all are written).
  const StEntry& next() const;
  // Checks every tensor was written, flushes and renames into place.
  void finish();

 private:
  void write_raw(StDType dtype, const void* data, size_t n);

  std::string path_, tmp_;
  std::vector<StEntry> entries_;
  size_t written_ = 0;
  std::FILE* file_ = nullptr;
};

}  // namespace rwkv
