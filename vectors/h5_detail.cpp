#include "vectors/h5_detail.h"

#include <mutex>

#include <fmt/format.h>

namespace rwkv::vectors {

const char* h5_type_name(H5Type t) {
  switch (t) {
    case H5Type::f16: return "f16";
    case H5Type::f32: return "f32";
    case H5Type::f64: return "f64";
    case H5Type::i32: return "i32";
    case H5Type::u32: return "u32";
    case H5Type::u64: return "u64";
    case H5Type::u8: return "u8";
  }
  return "?";
}

size_t h5_type_size(H5Type t) {
  switch (t) {
    case H5Type::u8: return 1;
    case H5Type::f16: return 2;
    case H5Type::f32:
    case H5Type::i32:
    case H5Type::u32: return 4;
    case H5Type::f64:
    case H5Type::u64: return 8;
  }
  return 0;
}

std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", d[i]);
  return s + "]";
}

Hid& Hid::operator=(Hid&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
  }
  return *this;
}

void Hid::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = -1;
}

namespace detail {

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
// IEEE binary16, little-endian: sign bit 15, exponent bits 10..14 (bias 15),
// mantissa bits 0..9. Built from the f32 type by narrowing its fields, the
// same definition h5py uses for numpy.float16. Fields are set before the
// precision and size shrink, because each call checks the others still fit.
hid_t make_f16() {
  const hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  if (t < 0 || H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 ||
      H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0)
    throw H5Error("HDF5: cannot build the float16 type");
  return t;
}
}  // namespace

Hid file_type(H5Type t) {
  switch (t) {
    case H5Type::f16: return own_type(make_f16());
    case H5Type::f32: return own_type(H5Tcopy(H5T_IEEE_F32LE));
    case H5Type::f64: return own_type(H5Tcopy(H5T_IEEE_F64LE));
    case H5Type::i32: return own_type(H5Tcopy(H5T_STD_I32LE));
    case H5Type::u32: return own_type(H5Tcopy(H5T_STD_U32LE));
    case H5Type::u64: return own_type(H5Tcopy(H5T_STD_U64LE));
    case H5Type::u8: return own_type(H5Tcopy(H5T_STD_U8LE));
  }
  throw H5Error("HDF5: unknown element type");
}

std::optional<H5Type> classify(hid_t type, std::string& found) {
  // Exact type equality (class, size, byte order, sign, bit fields): a
  // big-endian or differently laid out type is reported, never converted.
  for (H5Type t : {H5Type::f16, H5Type::f32, H5Type::f64, H5Type::i32, H5Type::u32, H5Type::u64, H5Type::u8}) {
    const Hid want = file_type(t);
    if (H5Tequal(type, want.get()) > 0) return t;
  }
  const char* cls = "other";
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: cls = H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned integer" : "signed integer"; break;
    case H5T_FLOAT: cls = "float"; break;
    case H5T_STRING: cls = "string"; break;
    default: break;
  }
  found = fmt::format("{} of {} bytes{}", cls, H5Tget_size(type),
                      H5Tget_order(type) == H5T_ORDER_BE ? ", big-endian" : "");
  return std::nullopt;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (at <= path.size()) {
    const size_t slash = path.find('/', at);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > at) parts.push_back(path.substr(at, end - at));
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  return parts;
}

bool path_exists(hid_t file, const std::string& path) {
  // H5Lexists on "/a/b" fails (rather than says no) when "/a" is missing, so
  // walk it one component at a time.
  std::string so_far;
  for (const std::string& part : split_path(path)) {
    so_far += "/" + part;
    if (H5Lexists(file, so_far.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(file, so_far.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

}  // namespace detail
}  // namespace rwkv::vectors
