#include "vectors/h5_compare.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "vectors/h5_file.h"

namespace rwkv::vectors {
namespace {

using Kind = H5Reader::AttrKind;

size_t element_size(H5Type t) {
  switch (t) {
    case H5Type::u8: return 1;
    case H5Type::f16: return 2;
    case H5Type::f32:
    case H5Type::i32:
    case H5Type::u32: return 4;
    case H5Type::f64:
    case H5Type::u64: return 8;
  }
  return 1;
}

// Element bytes as a hex number (little-endian), plus its value for floats.
std::string element_text(H5Type t, const uint8_t* p) {
  uint64_t bits = 0;
  std::memcpy(&bits, p, element_size(t));
  const std::string hex = fmt::format("0x{:0{}x}", bits, 2 * element_size(t));
  if (t == H5Type::f16) return fmt::format("{} ({})", hex, f16_bits_to_f32(uint16_t(bits)));
  if (t == H5Type::f32) {
    float f;
    std::memcpy(&f, p, 4);
    return fmt::format("{} ({:.9g})", hex, f);
  }
  if (t == H5Type::f64) {
    double d;
    std::memcpy(&d, p, 8);
    return fmt::format("{} ({:.17g})", hex, d);
  }
  return fmt::format("{}", bits);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::string: return "string";
    case Kind::f64: return "f64";
    case Kind::i64: return "i64";
    case Kind::u64: return "u64";
    case Kind::other: return "other";
  }
  return "?";
}

class Walker {
 public:
  Walker(const std::string& a, const std::string& b, const std::vector<std::string>& ignore)
      : a_(a), b_(b), ignore_(ignore) {}

  std::optional<std::string> object(const std::string& path) {
    const bool ga = a_.is_group(path), gb = b_.is_group(path);
    if (ga != gb)
      return fmt::format("{}: a {} in A, a {} in B", path, ga ? "group" : "dataset", gb ? "group" : "dataset");
    if (auto d = attributes(path)) return d;
    return ga ? group(path) : dataset(path);
  }

 private:
  std::optional<std::string> attributes(const std::string& path) {
    const std::vector<std::string> na = a_.attr_names(path), nb = b_.attr_names(path);
    for (const std::string& n : na)
      if (std::find(nb.begin(), nb.end(), n) == nb.end()) return fmt::format("{}: attribute '{}' only in A", path, n);
    for (const std::string& n : nb)
      if (std::find(na.begin(), na.end(), n) == na.end()) return fmt::format("{}: attribute '{}' only in B", path, n);
    for (const std::string& n : na) {
      if (std::find(ignore_.begin(), ignore_.end(), path + "@" + n) != ignore_.end()) continue;
      const Kind ka = a_.attr_kind(path, n), kb = b_.attr_kind(path, n);
      if (ka != kb) return fmt::format("{}: attribute '{}' is {} in A, {} in B", path, n, kind_name(ka), kind_name(kb));
      std::string va, vb;
      switch (ka) {
        case Kind::string: va = a_.attr_string(path, n), vb = b_.attr_string(path, n); break;
        case Kind::f64: {
          const double x = a_.attr_f64(path, n), y = b_.attr_f64(path, n);
          uint64_t bx, by;
          std::memcpy(&bx, &x, 8);
          std::memcpy(&by, &y, 8);
          va = fmt::format("{:.17g} (0x{:016x})", x, bx), vb = fmt::format("{:.17g} (0x{:016x})", y, by);
          break;
        }
        case Kind::i64: va = fmt::format("{}", a_.attr_i64(path, n)), vb = fmt::format("{}", b_.attr_i64(path, n)); break;
        case Kind::u64: va = fmt::format("{}", a_.attr_u64(path, n)), vb = fmt::format("{}", b_.attr_u64(path, n)); break;
        case Kind::other: break;  // not ours to read; equal enough if both are "other"
      }
      if (va != vb) return fmt::format("{}: attribute '{}' differs: '{}' in A, '{}' in B", path, n, va, vb);
    }
    return std::nullopt;
  }

  std::optional<std::string> group(const std::string& path) {
    const std::vector<std::string> ma = a_.members(path), mb = b_.members(path);
    const std::string prefix = path == "/" ? "/" : path + "/";
    for (size_t i = 0; i < std::max(ma.size(), mb.size()); ++i) {
      if (i >= ma.size()) return fmt::format("{}{}: only in B", prefix, mb[i]);
      if (i >= mb.size()) return fmt::format("{}{}: only in A", prefix, ma[i]);
      if (ma[i] != mb[i]) {
        auto has = [](const std::vector<std::string>& v, const std::string& n) {
          return std::find(v.begin(), v.end(), n) != v.end();
        };
        if (!has(ma, mb[i])) return fmt::format("{}{}: only in B", prefix, mb[i]);
        if (!has(mb, ma[i])) return fmt::format("{}{}: only in A", prefix, ma[i]);
        return fmt::format("{}: members in another order: '{}' in A where B has '{}'", path, ma[i], mb[i]);
      }
      if (auto d = object(prefix + ma[i])) return d;
    }
    return std::nullopt;
  }

  std::optional<std::string> dataset(const std::string& path) {
    const DatasetInfo ia = a_.info(path), ib = b_.info(path);
    if (ia.type != ib.type || ia.dims != ib.dims)
      return fmt::format("{}: {} {} in A, {} {} in B", path, h5_type_name(ia.type), dims_str(ia.dims),
                         h5_type_name(ib.type), dims_str(ib.dims));
    const std::vector<uint8_t> da = a_.read_bytes(path), db = b_.read_bytes(path);
    const size_t es = element_size(ia.type);
    for (size_t i = 0; i < da.size(); i += es)
      if (std::memcmp(da.data() + i, db.data() + i, es) != 0)
        return fmt::format("{}: element {} differs: {} in A, {} in B", path, i / es,
                           element_text(ia.type, da.data() + i), element_text(ia.type, db.data() + i));
    return std::nullopt;
  }

  H5Reader a_, b_;
  std::vector<std::string> ignore_;
};

}  // namespace

std::optional<std::string> first_difference(const std::string& a, const std::string& b,
                                            const std::vector<std::string>& ignore_attributes) {
  Walker w(a, b, ignore_attributes);
  return w.object("/");
}

}  // namespace rwkv::vectors
