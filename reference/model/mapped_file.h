#pragma once
// A read-only memory map of a whole file: model files are never copied whole.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rwkv {

class MappedFile {
 public:
  // Maps `path`; throws std::runtime_error naming the file and the system error.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace rwkv
