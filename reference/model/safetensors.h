#pragma once
// A reader of safetensors files (the format web-rwkv loads): an 8-byte
// little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets}, then the data. Memory-mapped; tensors point
// into the map. Every inconsistency is an error naming the file, the tensor,
// the field and what was expected.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reference/model/mapped_file.h"

namespace rwkv {

enum class StDType : uint8_t { f16, bf16, f32 };
const char* st_dtype_name(StDType t);
size_t st_dtype_size(StDType t);

struct StTensor {
  std::string name;
  StDType dtype = StDType::f16;
  std::vector<int64_t> shape;  // as stored (PyTorch order: last dimension contiguous)
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  int64_t numel() const;
  std::string shape_str() const;
};

class SafetensorsFile {
 public:
  // Opens and validates the whole header; throws std::runtime_error on any problem.
  static SafetensorsFile open(const std::string& path);
  // Parses an image in memory (the fuzzer uses this); `label` names it in
  // errors; `owner` keeps the bytes alive.
  static SafetensorsFile parse(const std::string& label, const uint8_t* data, size_t size,
                               std::shared_ptr<const void> owner);

  const std::string& path() const { return path_; }
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor `name`; throws naming the file and the tensor if it is missing.
  const StTensor& get(const std::string& name) const;
  // The tensor `name`, checked to have exactly `shape`; throws otherwise.
  const StTensor& get(const std::string& name, const std::vector<int64_t>& shape) const;
  // Keeps the bytes alive for tensors handed out.
  std::shared_ptr<const void> owner() const { return owner_; }

 private:
  std::string path_;
  std::shared_ptr<const void> owner_;
  std::map<std::string, StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace rwkv
