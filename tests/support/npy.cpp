#include "tests/support/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace rwkv::test {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", path, what));
}

// A cursor over the header's Python dict literal. Only what np.save writes
// is accepted: string keys, and string, True/False or tuple-of-int values.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  void parse(NpyArray& out) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a quoted key");
      expect(':');
      if (key == "descr") {
        out.descr = parse_string("'descr' (a quoted dtype string)");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (parse_bool("'fortran_order'")) fail(path_, "field 'fortran_order' is True; only C-ordered arrays are supported");
        have_order = true;
      } else if (key == "shape") {
        out.shape = parse_int_tuple();
        have_shape = true;
      } else {
        fail(path_, fmt::format("unexpected header field '{}' (expected descr, fortran_order, shape)", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail(path_, fmt::format("header: expected ',' or '}}' at offset {}", pos_));
    }
    expect('}');
    if (!have_descr) fail(path_, "header has no field 'descr'");
    if (!have_order) fail(path_, "header has no field 'fortran_order'");
    if (!have_shape) fail(path_, "header has no field 'shape'");
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(path_, fmt::format("header: expected '{}' at offset {} in \"{}\"", c, pos_, s_));
    ++pos_;
  }
  std::string parse_string(const char* what) {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail(path_, fmt::format("header: expected {} at offset {}", what, pos_));
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail(path_, fmt::format("header: unterminated string for {}", what));
    std::string v = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return v;
  }
  bool parse_bool(const char* what) {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail(path_, fmt::format("header: field {} is not True or False", what));
  }
  std::vector<int64_t> parse_int_tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail(path_, fmt::format("header: field 'shape' holds a non-integer at offset {}", pos_));
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        v = v * 10 + (peek() - '0');
        if (v > (int64_t(1) << 40)) fail(path_, "header: field 'shape' has an implausibly large dimension");
        ++pos_;
      }
      dims.push_back(v);
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') fail(path_, fmt::format("header: field 'shape': expected ',' or ')' at offset {}", pos_));
    }
    expect(')');
    return dims;
  }

  const std::string& path_;
  const std::string& s_;
  size_t pos_ = 0;
};

size_t dtype_bytes(const std::string& path, const std::string& descr) {
  if (descr == "<f4") return 4;
  if (descr == "<f8") return 8;
  if (descr == "|u1" || descr == "<u1" || descr == ">u1") return 1;
  fail(path, fmt::format("field 'descr' is '{}'; expected '<f4' (little-endian float32), '<f8' (float64) or '|u1' (uint8)", descr));
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> NpyArray::f32() const {
  if (descr != "<f4") fail(path, fmt::format("field 'descr' is '{}', expected '<f4'", descr));
  std::vector<float> v(static_cast<size_t>(numel()));
  std::memcpy(v.data(), bytes.data(), v.size() * 4);  // x86-64 and aarch64 are little-endian
  return v;
}

std::vector<double> NpyArray::f64() const {
  if (descr != "<f8") fail(path, fmt::format("field 'descr' is '{}', expected '<f8'", descr));
  std::vector<double> v(static_cast<size_t>(numel()));
  std::memcpy(v.data(), bytes.data(), v.size() * 8);  // x86-64 and aarch64 are little-endian
  return v;
}

const std::vector<uint8_t>& NpyArray::u8() const {
  if (dtype_bytes(path, descr) != 1) fail(path, fmt::format("field 'descr' is '{}', expected '|u1'", descr));
  return bytes;
}

void NpyArray::require_shape(const std::vector<int64_t>& want) const {
  if (shape != want)
    fail(path, fmt::format("field 'shape' is ({}), expected ({})", fmt::join(shape, ", "), fmt::join(want, ", ")));
}

void parse_npy_header(const std::string& path, const std::string& header, NpyArray& out) {
  HeaderParser(path, header).parse(out);
  dtype_bytes(path, out.descr);
}

namespace {
std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open file");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

NpyArray read_npy(const std::string& path) { return parse_npy(path, read_file_bytes(path), false); }

NpyArray parse_npy(const std::string& path, std::span<const uint8_t> file, bool allow_trailing) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (file.size() < 10 || std::memcmp(file.data(), kMagic, 6) != 0) fail(path, "not a .npy file (bad magic)");
  const int major = file[6];
  size_t header_len, header_at;
  if (major == 1) {
    header_len = size_t(file[8]) | size_t(file[9]) << 8;
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) fail(path, "truncated header length");
    header_len = size_t(file[8]) | size_t(file[9]) << 8 | size_t(file[10]) << 16 | size_t(file[11]) << 24;
    header_at = 12;
  } else {
    fail(path, fmt::format("format version {}.{} is not supported (expected 1.0, 2.0 or 3.0)", major, int(file[7])));
  }
  if (file.size() < header_at + header_len) fail(path, "file ends inside the header");
  NpyArray out;
  out.path = path;
  const std::string header(reinterpret_cast<const char*>(file.data() + header_at), header_len);
  parse_npy_header(path, header, out);
  const size_t data_at = header_at + header_len;
  const size_t want = size_t(out.numel()) * dtype_bytes(path, out.descr);
  if (file.size() - data_at < want || (!allow_trailing && file.size() - data_at != want))
    fail(path, fmt::format("data holds {} bytes, expected {} for shape ({}) and descr '{}'", file.size() - data_at,
                           want, fmt::join(out.shape, ", "), out.descr));
  out.bytes.assign(file.begin() + std::ptrdiff_t(data_at), file.begin() + std::ptrdiff_t(data_at + want));
  return out;
}

// A zip local file header: signature PK\3\4, the compression method at byte
// 8, name and extra-field lengths at 26 and 28, the name at 30, then the data.
// A stored member's data is the .npy image itself; its length comes from the
// .npy header, so the (possibly deferred, zip64) size fields are not needed.
std::map<std::string, NpyArray> read_npz_stored(const std::string& path) {
  const std::vector<uint8_t> file = read_file_bytes(path);
  auto u16 = [&](size_t at) { return size_t(file[at]) | size_t(file[at + 1]) << 8; };
  std::map<std::string, NpyArray> out;
  size_t at = 0;
  while (at + 30 <= file.size() && file[at] == 'P' && file[at + 1] == 'K' && file[at + 2] == 3 &&
         file[at + 3] == 4) {
    const size_t method = u16(at + 8), name_len = u16(at + 26), extra_len = u16(at + 28);
    if (at + 30 + name_len + extra_len > file.size()) fail(path, "zip member header runs past the end");
    std::string name(reinterpret_cast<const char*>(file.data() + at + 30), name_len);
    if (method != 0)
      fail(path, fmt::format("member '{}' is compressed (method {}); only stored members are read", name, method));
    const size_t data_at = at + 30 + name_len + extra_len;
    NpyArray a = parse_npy(path + ":" + name, std::span(file).subspan(data_at), true);
    size_t image = a.bytes.size();
    // The image's own header length: find where the data started.
    const size_t header_len = file[data_at + 6] == 1 ? 10 + u16(data_at + 8)
                                                      : 12 + (u16(data_at + 8) | u16(data_at + 10) << 16);
    image += header_len;
    if (name.size() > 4 && name.ends_with(".npy")) name.resize(name.size() - 4);
    out.emplace(name, std::move(a));
    at = data_at + image;
    // Streamed members are followed by a data descriptor (optional signature
    // PK\7\8, CRC, sizes: 12 or 20 bytes after it); skip to the next header.
    while (at + 4 <= file.size() && !(file[at] == 'P' && file[at + 1] == 'K' &&
                                      ((file[at + 2] == 3 && file[at + 3] == 4) ||
                                       (file[at + 2] == 1 && file[at + 3] == 2))))
      ++at;
  }
  if (out.empty()) fail(path, "no stored zip members found");
  return out;
}

}  // namespace rwkv::test
