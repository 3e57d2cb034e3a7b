#include "reference/model/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/util/file_into_place.h"

namespace rwkv {

GgufStreamWriter::GgufStreamWriter(std::string path, const std::vector<GgufKv>& kv,
                                   std::vector<GgufTensorInfo> tensors, bool force, uint32_t alignment)
    : path_(std::move(path)), tensors_(std::move(tensors)), alignment_(alignment) {
  const std::vector<uint8_t> header = gguf_header(kv, tensors_, alignment_);  // validates before touching disk
  if (!force && std::filesystem::exists(path_))
    throw std::runtime_error(fmt::format("{}: already exists (use --force to overwrite)", path_));
  // The pid keeps two concurrent writers of the same path apart.
  tmp_ = fmt::format("{}.tmp{}", path_, ::getpid());
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (!file_)
    throw std::runtime_error(fmt::format("{}: cannot create (temporary file {}): {}", path_, tmp_, std::strerror(errno)));
  try {
    put(header.data(), header.size());
  } catch (...) {
    // The destructor does not run for a constructor that throws: clean up here.
    std::fclose(file_);
    file_ = nullptr;
    std::remove(tmp_.c_str());
    throw;
  }
}

GgufStreamWriter::~GgufStreamWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void GgufStreamWriter::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, file_) != n)
    throw std::runtime_error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  file_bytes_ += n;
}

const GgufTensorInfo& GgufStreamWriter::next() const {
  if (index_ >= tensors_.size()) throw std::logic_error(fmt::format("{}: every tensor already written", path_));
  return tensors_[index_];
}

uint64_t GgufStreamWriter::remaining() const { return next().bytes() - written_; }

void GgufStreamWriter::write(std::span<const uint8_t> bytes) {
  const GgufTensorInfo& t = next();
  if (bytes.size() > t.bytes() - written_)
    throw std::logic_error(fmt::format("{}: tensor '{}' takes {} bytes; {} more given after {}", path_, t.name,
                                       t.bytes(), bytes.size(), written_));
  put(bytes.data(), bytes.size());
  written_ += bytes.size();
  if (written_ == t.bytes()) {
    static const uint8_t zeros[64] = {};
    uint64_t pad = (alignment_ - t.bytes() % alignment_) % alignment_;
    while (pad > 0) {
      const size_t n = size_t(std::min<uint64_t>(pad, sizeof zeros));
      put(zeros, n);
      pad -= n;
    }
    ++index_;
    written_ = 0;
  }
}

void GgufStreamWriter::finish() {
  // A tensor of zero bytes cannot exist (every dimension is >= 1), so the
  // index alone says whether everything was written.
  if (index_ != tensors_.size())
    throw std::logic_error(fmt::format("{}: {} of {} tensors written", path_, index_, tensors_.size()));
  close_into_place(file_, tmp_, path_);
}

}  // namespace rwkv
