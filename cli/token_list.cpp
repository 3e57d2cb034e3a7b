#include "cli/token_list.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::cli {

std::vector<uint32_t> parse_token_list(const std::string& text, const std::string& source) {
  std::vector<uint32_t> ids;
  size_t i = 0;
  auto is_sep = [](char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); };
  while (i < text.size()) {
    if (is_sep(text[i])) { ++i; continue; }
    size_t end = i;
    while (end < text.size() && !is_sep(text[end])) ++end;
    const std::string item = text.substr(i, end - i);
    uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || ptr != item.data() + item.size() || v > UINT32_MAX)
      throw std::invalid_argument(fmt::format("{}: item {} ('{}') is not a token id: expected an integer in [0, {}]",
                                              source, ids.size(), item, UINT32_MAX));
    ids.push_back(uint32_t(v));
    i = end;
  }
  if (ids.empty()) throw std::invalid_argument(fmt::format("{}: the token list is empty", source));
  return ids;
}

std::vector<uint32_t> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read tokens file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_token_list(text.str(), path);
}

}  // namespace rwkv::cli
