// H5Reader: strict reading of golden files (no type conversion, shapes
// checked, errors that name file, path and expectation).
#include <filesystem>

#include <fmt/format.h>

#include "vectors/h5_detail.h"

namespace rwkv::vectors {

using namespace detail;

uint64_t DatasetInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

H5Reader::H5Reader(std::string path) : path_(std::move(path)) {
  silence_hdf5_errors();
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) throw H5Error(fmt::format("{}: no such file", path_));
  if (H5Fis_hdf5(path_.c_str()) <= 0) throw H5Error(fmt::format("{}: not an HDF5 file", path_));
  const hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw H5Error(fmt::format("{}: cannot open as HDF5", path_));
  file_ = Hid(f, &H5Fclose);
}

void H5Reader::fail(const std::string& object, const std::string& what) const {
  throw H5Error(fmt::format("{}: {}: {}", path_, object, what));
}

bool H5Reader::exists(const std::string& path) const { return path_exists(file_.get(), path); }

namespace {
H5I_type_t object_kind(hid_t file, const std::string& path) {
  if (!path_exists(file, path)) return H5I_BADID;
  const Hid obj = own_object(H5Oopen(file, path.c_str(), H5P_DEFAULT));
  return obj.valid() ? H5Iget_type(obj.get()) : H5I_BADID;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}
}  // namespace

bool H5Reader::is_group(const std::string& path) const { return object_kind(file_.get(), path) == H5I_GROUP; }
bool H5Reader::is_dataset(const std::string& path) const { return object_kind(file_.get(), path) == H5I_DATASET; }

std::vector<std::string> H5Reader::members(const std::string& group) const {
  if (!is_group(group)) fail(group, exists(group) ? "expected a group, found another kind of object" : "no such group");
  const Hid g(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT), &H5Gclose);
  // Creation order only where the group indexes it (files from other tools
  // may not); name order otherwise.
  const Hid gcpl = own_plist(H5Gget_create_plist(g.get()));
  unsigned flags = 0;
  H5Pget_link_creation_order(gcpl.get(), &flags);
  const H5_index_t index = (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  hsize_t at = 0;
  if (H5Literate(g.get(), index, H5_ITER_INC, &at, &collect_name, &names) < 0) fail(group, "cannot list members");
  return names;
}

DatasetInfo H5Reader::info(const std::string& path) const {
  if (!is_dataset(path))
    fail(path, exists(path) ? "expected a dataset, found a group" : "no such dataset");
  const Hid ds(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), &H5Dclose);
  const Hid type = own_type(H5Dget_type(ds.get()));
  std::string found;
  const std::optional<H5Type> t = classify(type.get(), found);
  if (!t) fail(path, fmt::format("dataset has an unsupported element type ({})", found));
  const Hid space = own_space(H5Dget_space(ds.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> d(size_t(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return DatasetInfo{*t, Dims(d.begin(), d.end())};
}

void H5Reader::read_raw(const std::string& path, H5Type type, const std::optional<Dims>& dims, void* out,
                        size_t capacity) const {
  const DatasetInfo got = info(path);
  if (got.type != type || (dims && got.dims != *dims))
    fail(path, fmt::format("expected {} with shape {}, found {} with shape {}", h5_type_name(type),
                           dims ? dims_str(*dims) : std::string("(any)"), h5_type_name(got.type), dims_str(got.dims)));
  if (got.numel() != capacity) fail(path, "internal error: buffer size does not match the dataset");
  if (capacity == 0) return;
  const Hid ds(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), &H5Dclose);
  const Hid mtype = file_type(type);  // same as the file's: no conversion
  if (H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    fail(path, "read failed (corrupt data or a missing filter)");
}

template <class T>
std::vector<T> H5Reader::read_as(const std::string& path, H5Type type, const std::optional<Dims>& dims) const {
  // Size the buffer from the file; read_raw checks type and shape first.
  const DatasetInfo got = info(path);
  std::vector<T> out(got.type == type && (!dims || got.dims == *dims) ? size_t(got.numel()) : 0);
  read_raw(path, type, dims, out.data(), out.size());
  return out;
}

std::vector<float> H5Reader::read_f32(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<float>(p, H5Type::f32, d);
}
std::vector<double> H5Reader::read_f64(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<double>(p, H5Type::f64, d);
}
std::vector<int32_t> H5Reader::read_i32(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<int32_t>(p, H5Type::i32, d);
}
std::vector<uint32_t> H5Reader::read_u32(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<uint32_t>(p, H5Type::u32, d);
}
std::vector<uint64_t> H5Reader::read_u64(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<uint64_t>(p, H5Type::u64, d);
}
std::vector<uint8_t> H5Reader::read_u8(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<uint8_t>(p, H5Type::u8, d);
}
std::vector<uint16_t> H5Reader::read_f16_bits(const std::string& p, const std::optional<Dims>& d) const {
  return read_as<uint16_t>(p, H5Type::f16, d);
}
std::vector<float> H5Reader::read_f16_as_f32(const std::string& p, const std::optional<Dims>& d) const {
  const std::vector<uint16_t> bits = read_f16_bits(p, d);
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = f16_bits_to_f32(bits[i]);
  return out;
}

void H5Reader::read_rows_raw(const std::string& path, H5Type type, uint64_t first, uint64_t count, void* out,
                             size_t capacity) const {
  const DatasetInfo got = info(path);
  if (got.type != type) fail(path, fmt::format("expected {}, found {}", h5_type_name(type), h5_type_name(got.type)));
  if (got.dims.size() < 2) fail(path, fmt::format("expected rows (rank 2 or more), found shape {}", dims_str(got.dims)));
  if (first + count > got.dims[0])
    fail(path, fmt::format("rows {} to {} asked, the dataset has {} (shape {})", first, first + count,
                           got.dims[0], dims_str(got.dims)));
  const uint64_t row = got.numel() / std::max<uint64_t>(got.dims[0], 1);
  if (count * row != capacity) fail(path, "internal error: buffer size does not match the rows");
  if (capacity == 0) return;
  const Hid ds(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), &H5Dclose);
  const Hid space = own_space(H5Dget_space(ds.get()));
  std::vector<hsize_t> start(got.dims.size(), 0), n(got.dims.begin(), got.dims.end());
  start[0] = first;
  n[0] = count;
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, n.data(), nullptr);
  const Hid mem = own_space(H5Screate_simple(int(n.size()), n.data(), nullptr));
  const Hid mtype = file_type(type);
  if (H5Dread(ds.get(), mtype.get(), mem.get(), space.get(), H5P_DEFAULT, out) < 0)
    fail(path, "read failed (corrupt data or a missing filter)");
}

template <class T>
std::vector<T> H5Reader::read_rows_as(const std::string& path, H5Type type, uint64_t first, uint64_t count) const {
  const DatasetInfo got = info(path);
  const uint64_t row = got.dims.empty() || got.dims[0] == 0 ? 0 : got.numel() / got.dims[0];
  std::vector<T> out(got.type == type ? size_t(count * row) : 0);
  read_rows_raw(path, type, first, count, out.data(), out.size());
  return out;
}

std::vector<uint16_t> H5Reader::read_f16_rows(const std::string& p, uint64_t first, uint64_t count) const {
  return read_rows_as<uint16_t>(p, H5Type::f16, first, count);
}
std::vector<float> H5Reader::read_f32_rows(const std::string& p, uint64_t first, uint64_t count) const {
  return read_rows_as<float>(p, H5Type::f32, first, count);
}
std::vector<double> H5Reader::read_f64_rows(const std::string& p, uint64_t first, uint64_t count) const {
  return read_rows_as<double>(p, H5Type::f64, first, count);
}

std::vector<uint8_t> H5Reader::read_bytes(const std::string& path) const {
  const DatasetInfo got = info(path);
  std::vector<uint8_t> out(size_t(got.numel()) * h5_type_size(got.type));
  read_raw(path, got.type, got.dims, out.data(), size_t(got.numel()));
  return out;
}

Hid H5Reader::open_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) fail(object, fmt::format("no such object (looking for attribute '{}')", name));
  const Hid obj = own_object(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
  if (!obj.valid() || H5Aexists(obj.get(), name.c_str()) <= 0) fail(object, fmt::format("no attribute '{}'", name));
  Hid attr = own_attr(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) fail(object, fmt::format("cannot open attribute '{}'", name));
  return attr;
}

bool H5Reader::has_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  const Hid obj = own_object(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
  return obj.valid() && H5Aexists(obj.get(), name.c_str()) > 0;
}

namespace {
herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5Reader::attr_names(const std::string& object) const {
  if (!exists(object)) fail(object, "no such object (listing its attributes)");
  const Hid obj = own_object(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
  std::vector<std::string> names;
  hsize_t at = 0;
  if (!obj.valid() || H5Aiterate2(obj.get(), H5_INDEX_NAME, H5_ITER_INC, &at, &collect_attr_name, &names) < 0)
    fail(object, "cannot list attributes");
  return names;
}

namespace {
bool is_scalar(hid_t attr) {
  const Hid space = own_space(H5Aget_space(attr));
  return H5Sget_simple_extent_npoints(space.get()) == 1;
}
}  // namespace

std::string H5Reader::attr_string(const std::string& object, const std::string& name) const {
  const Hid attr = open_attr(object, name);
  const Hid type = own_type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING || !is_scalar(attr.get()))
    fail(object, fmt::format("attribute '{}': expected a string", name));
  if (H5Tis_variable_str(type.get()) > 0) {
    // Variable-length, as h5py writes str attributes: HDF5 allocates the
    // buffer, we copy and free it.
    char* p = nullptr;
    if (H5Aread(attr.get(), type.get(), &p) < 0) fail(object, fmt::format("attribute '{}': read failed", name));
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  std::string s(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), s.data()) < 0) fail(object, fmt::format("attribute '{}': read failed", name));
  s.erase(s.find_last_not_of('\0') + 1);  // NULLPAD / NULLTERM padding
  return s;
}

H5Reader::AttrKind H5Reader::attr_kind(const std::string& object, const std::string& name) const {
  const Hid attr = open_attr(object, name);
  const Hid type = own_type(H5Aget_type(attr.get()));
  if (!is_scalar(attr.get())) return AttrKind::other;
  if (H5Tget_class(type.get()) == H5T_STRING) return AttrKind::string;
  if (H5Tequal(type.get(), H5T_IEEE_F64LE) > 0) return AttrKind::f64;
  if (H5Tequal(type.get(), H5T_STD_I64LE) > 0) return AttrKind::i64;
  if (H5Tequal(type.get(), H5T_STD_U64LE) > 0) return AttrKind::u64;
  return AttrKind::other;
}

template <class T>
T H5Reader::attr_scalar(const std::string& object, const std::string& name, hid_t want_type, const char* want) const {
  const Hid attr = open_attr(object, name);
  const Hid type = own_type(H5Aget_type(attr.get()));
  if (H5Tequal(type.get(), want_type) <= 0 || !is_scalar(attr.get()))
    fail(object, fmt::format("attribute '{}': expected a scalar {}", name, want));
  T v{};
  if (H5Aread(attr.get(), want_type, &v) < 0) fail(object, fmt::format("attribute '{}': read failed", name));
  return v;
}

double H5Reader::attr_f64(const std::string& o, const std::string& n) const {
  return attr_scalar<double>(o, n, H5T_IEEE_F64LE, "f64");
}
int64_t H5Reader::attr_i64(const std::string& o, const std::string& n) const {
  return attr_scalar<int64_t>(o, n, H5T_STD_I64LE, "i64");
}
uint64_t H5Reader::attr_u64(const std::string& o, const std::string& n) const {
  return attr_scalar<uint64_t>(o, n, H5T_STD_U64LE, "u64");
}

}  // namespace rwkv::vectors
