#include "reference/model/safetensors_writer.h"

#include <unistd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/util/file_into_place.h"

namespace rwkv {

int64_t StEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string safetensors_header(const std::vector<StEntry>& entries) {
  // Tensor names are plain ASCII model names; anything that would need JSON
  // escaping is refused rather than escaped.
  std::string json = R"({"__metadata__":{"format":"pt"})";
  uint64_t offset = 0;
  for (const StEntry& e : entries) {
    for (char c : e.name)
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
        throw std::invalid_argument(fmt::format("safetensors: tensor name '{}' needs escaping", e.name));
    if (e.dtype == StDType::bf16)
      throw std::invalid_argument(fmt::format("safetensors: tensor '{}': BF16 is not written", e.name));
    const uint64_t bytes = uint64_t(e.numel()) * st_dtype_size(e.dtype);
    json += fmt::format(R"(,"{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}})", e.name,
                        st_dtype_name(e.dtype), fmt::join(e.shape, ","), offset, offset + bytes);
    offset += bytes;
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + json;
}

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<StEntry> entries, bool force)
    : path_(std::move(path)), entries_(std::move(entries)) {
  if (!force && std::filesystem::exists(path_))
    throw std::runtime_error(fmt::format("{}: already exists (use --force to overwrite)", path_));
  // The pid keeps two concurrent writers of the same path apart.
  tmp_ = fmt::format("{}.tmp{}", path_, ::getpid());
  const std::string header = safetensors_header(entries_);
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_)
    throw std::runtime_error(fmt::format("{}: cannot create (temporary file {}): {}", path_, tmp_, std::strerror(errno)));
  if (std::fwrite(header.data(), 1, header.size(), file_) != header.size()) {
    // The destructor does not run for a constructor that throws: clean up here.
    std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp_.c_str());
    throw std::runtime_error(fmt::format("{}: writing the header failed", path_));
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

const StEntry& SafetensorsWriter::next() const {
  if (written_ >= entries_.size()) throw std::logic_error(fmt::format("{}: every tensor already written", path_));
  return entries_[written_];
}

void SafetensorsWriter::write_raw(StDType dtype, const void* data, size_t n) {
  const StEntry& e = next();
  if (e.dtype != dtype)
    throw std::logic_error(fmt::format("{}: tensor '{}' is {}, got {} values", path_, e.name, st_dtype_name(e.dtype),
                                       st_dtype_name(dtype)));
  if (int64_t(n) != e.numel())
    throw std::logic_error(fmt::format("{}: tensor '{}' needs {} values, got {}", path_, e.name, e.numel(), n));
  static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
  const size_t size = st_dtype_size(dtype);
  if (std::fwrite(data, size, n, file_) != n)
    throw std::runtime_error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  ++written_;
}

void SafetensorsWriter::write(std::span<const uint16_t> bits) { write_raw(StDType::f16, bits.data(), bits.size()); }
void SafetensorsWriter::write(std::span<const float> values) { write_raw(StDType::f32, values.data(), values.size()); }

void SafetensorsWriter::finish() {
  if (written_ != entries_.size())
    throw std::logic_error(fmt::format("{}: {} of {} tensors written", path_, written_, entries_.size()));
  close_into_place(file_, tmp_, path_);
}

}  // namespace rwkv
