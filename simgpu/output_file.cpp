#include "simgpu/output_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

void write_text_file(const std::string& path, const std::string& text, bool force) {
  namespace fs = std::filesystem;
  if (!force && fs::exists(path)) throw std::runtime_error(fmt::format("{} already exists (use --force to overwrite)", path));
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("{}: cannot open for writing", tmp));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: write failed", path));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot rename the finished file into place: {}", path, ec.message()));
  }
}

}  // namespace rwkv::simgpu
