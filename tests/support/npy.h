#pragma once
// A reader for NumPy .npy files (format versions 1.0, 2.0 and 3.0) as the
// known-answer vectors in ../shared/vectors use them: little-endian float32
// ('<f4'), float64 ('<f8') or uint8 ('|u1'), C order. Anything else throws std::runtime_error
// naming the file and the field that did not fit.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace rwkv::test {

struct NpyArray {
  std::string path;
  std::string descr;           // '<f4' or '|u1'
  std::vector<int64_t> shape;  // C order
  std::vector<uint8_t> bytes;  // the raw little-endian data

  int64_t numel() const;
  // Typed copies; throw if descr is not the matching dtype.
  std::vector<float> f32() const;
  std::vector<double> f64() const;
  const std::vector<uint8_t>& u8() const;
  // Throws naming the file unless shape == want.
  void require_shape(const std::vector<int64_t>& want) const;
};

NpyArray read_npy(const std::string& path);
// Parses a .npy image in memory; `path` labels errors. With allow_trailing,
// bytes after the data are ignored (a member inside a zip).
NpyArray parse_npy(const std::string& path, std::span<const uint8_t> image, bool allow_trailing);
// The arrays of an .npz whose members are stored (not deflated), keyed by
// member name without ".npy" (np.savez writes stored members).
std::map<std::string, NpyArray> read_npz_stored(const std::string& path);

// Parses the header dictionary, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (36, 256), }".
// Exposed for tests of the reader itself.
void parse_npy_header(const std::string& path, const std::string& header, NpyArray& out);

}  // namespace rwkv::test
