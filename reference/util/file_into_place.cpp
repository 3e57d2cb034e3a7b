#include "reference/util/file_into_place.h"

#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv {

void close_into_place(std::FILE*& file, const std::string& tmp, const std::string& path) {
  const int rc = std::fclose(file);
  file = nullptr;
  if (rc != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: close failed", path));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot rename into place: {}", path, ec.message()));
  }
}

}  // namespace rwkv
