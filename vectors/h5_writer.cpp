// H5Writer: deterministic, streaming creation of a golden file.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "vectors/h5_detail.h"
#include "vectors/write_queue.h"

namespace rwkv::vectors {
namespace {

using namespace detail;

// Chunks hold at most this many elements (256 KiB of f32): small enough that
// HDF5's 1 MiB per-dataset chunk cache holds one, large enough to compress.
constexpr uint64_t kChunkElements = uint64_t(1) << 16;
// Level 1: on activations (noise-like mantissas) and states, levels 1 and 4
// give the same size within 1% (0.91 and 0.85 of the raw bytes after the
// shuffle), and level 1 is the fastest.
constexpr unsigned kDeflateLevel = 1;
// Datasets of at most this many bytes are stored compact (inside their
// object header): a chunked dataset costs a chunk index of a few KiB, more
// than a small tensor (one token's activations) itself, and deflate gains
// nothing on a few hundred values.
// (A smaller chunk-index node size, H5Pset_istore_k, would need a superblock
// extension, whose object header HDF5 1.10 stamps with the time: no.)
constexpr uint64_t kCompactBytes = 16 * 1024;
// A row stack's chunks hold as many whole rows as fit in this many bytes (one
// row if it is wider): a writer holds up to one chunk per stack in memory
// (vectors/row_stacks.h), about 1,060 stacks for a 1.5b model, so 32 KiB
// keeps that near 34 MiB; deflate gains as much on 32 KiB as on 256 KiB.
constexpr uint64_t kRowChunkBytes = 32 * 1024;

// The chunk shape is a pure function of the dataset shape, so the same data
// always gives the same chunks: halve the slowest dimension that is still
// above 1 until a chunk fits kChunkElements.
std::vector<hsize_t> chunk_dims(const Dims& dims) {
  std::vector<hsize_t> c(dims.begin(), dims.end());
  for (hsize_t& d : c) d = std::max<hsize_t>(d, 1);  // chunks cannot be empty
  auto count = [&] {
    uint64_t n = 1;
    for (hsize_t d : c) n *= d;
    return n;
  };
  while (count() > kChunkElements) {
    for (hsize_t& d : c)
      if (d > 1) { d = (d + 1) / 2; break; }
  }
  return c;
}

// Object creation properties shared by groups and datasets: no access,
// modification, change or birth times (the only non-deterministic bytes HDF5
// would otherwise write).
void no_times(hid_t plist) { H5Pset_obj_track_times(plist, false); }

std::string temp_name_for(const std::string& path) {
  // Beside the target, so the final rename stays on one file system. The
  // process id keeps concurrent writers of the same target apart; the name
  // is not stored in the file, so it does not affect its bytes.
  return fmt::format("{}.partial-{}", path, ::getpid());
}

// Background mode holds at most this much copied tensor data in its queue.
constexpr size_t kQueueBytes = size_t(256) << 20;

}  // namespace

H5Writer::H5Writer(std::string path, Overwrite overwrite, Compression compression, Threading threading)
    : path_(std::move(path)), temp_(temp_name_for(path_)), overwrite_(overwrite), compression_(compression) {
  silence_hdf5_errors();
  if (overwrite_ == Overwrite::no && std::filesystem::exists(path_))
    throw H5Error(fmt::format("{}: already exists; refusing to overwrite it", path_));

  // Fixed format versions (1.8 objects, readable by every HDF5 since 1.8 and
  // by h5py): the layout must not change with the library's defaults.
  const Hid fapl = own_plist(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  const Hid fcpl = own_plist(H5Pcreate(H5P_FILE_CREATE));
  no_times(fcpl.get());  // the root group's own times
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  // EXCL: a stale temporary file of the same name is someone else's.
  const hid_t f = H5Fcreate(temp_.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get());
  if (f < 0) throw H5Error(fmt::format("{}: cannot create the temporary file {}", path_, temp_));
  file_ = Hid(f, &H5Fclose);
  open_ = true;
  if (threading == Threading::background) queue_ = std::make_unique<WriteQueue>(kQueueBytes);
}

// Queued jobs refer to the writer they were queued by: they all run before
// the move (an error among them stays in the queue, which moves along).
static WriteQueue* drained(WriteQueue* q) noexcept {
  if (q) try { q->drain(); } catch (...) {}
  return q;
}

H5Writer::H5Writer(H5Writer&& o) noexcept
    : path_((drained(o.queue_.get()), std::move(o.path_))), temp_(std::move(o.temp_)), overwrite_(o.overwrite_),
      compression_(o.compression_), file_(std::move(o.file_)), open_(o.open_), groups_(std::move(o.groups_)),
      last_path_(std::move(o.last_path_)), last_object_(std::move(o.last_object_)),
      parent_path_(std::move(o.parent_path_)), parent_(std::move(o.parent_)), compact_dcpl_(std::move(o.compact_dcpl_)),
      stacks_(std::move(o.stacks_)),
      queue_(std::move(o.queue_)) {
  o.open_ = false;
}

H5Writer::~H5Writer() { discard(); }

bool H5Writer::defer(std::function<void()> job, size_t bytes) {
  if (WriteQueue::in_job() || !queue_) return false;  // in that order: a job never reads queue_
  queue_->push(std::move(job), bytes);
  return true;
}

void H5Writer::discard() noexcept {
  queue_.reset();  // drops what has not run, joins the thread
  if (!open_) return;
  open_ = false;
  last_object_.reset();
  stacks_.clear();
  parent_.reset();
  compact_dcpl_.reset();
  file_.reset();
  std::remove(temp_.c_str());
}

void H5Writer::fail(const std::string& object, const std::string& what) const {
  throw H5Error(fmt::format("{}: {}: {}", path_, object, what));
}

void H5Writer::create_group(const std::string& path) {
  if (!open_) fail(path, "file is already closed");
  if (defer([this, path] { create_group(path); }, path.size())) return;
  const Hid gcpl = own_plist(H5Pcreate(H5P_GROUP_CREATE));
  no_times(gcpl.get());
  // Members are listed in the order they were written (steps 0, 1, 2, ...,
  // not "0", "1", "10", "2").
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  std::string so_far;
  for (const std::string& part : split_path(path)) {
    so_far += "/" + part;
    if (groups_.count(so_far)) continue;
    groups_.insert(so_far);
    if (H5Lexists(file_.get(), so_far.c_str(), H5P_DEFAULT) > 0) {
      const Hid obj = own_object(H5Oopen(file_.get(), so_far.c_str(), H5P_DEFAULT));
      if (!obj.valid() || H5Iget_type(obj.get()) != H5I_GROUP) fail(so_far, "exists and is not a group");
      continue;
    }
    const hid_t g = H5Gcreate2(file_.get(), so_far.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
    if (g < 0) fail(so_far, "cannot create group");
    H5Gclose(g);
  }
}

void H5Writer::write_raw(const std::string& path, H5Type type, const void* data, size_t n, const Dims& dims) {
  if (!open_) fail(path, "file is already closed");
  uint64_t numel = 1;
  for (uint64_t d : dims) numel *= d;
  if (numel != n)
    fail(path, fmt::format("{} elements given for shape {} ({} elements)", n, dims_str(dims), numel));
  if (!WriteQueue::in_job() && queue_) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::vector<unsigned char> copy(p, p + n * h5_type_size(type));
    const size_t bytes = copy.size();
    defer([this, path, type, copy = std::move(copy), n, dims] { write_raw(path, type, copy.data(), n, dims); },
          bytes + path.size());
    return;
  }
  const std::string leaf = enter_parent(path);
  last_object_.reset();
  last_path_.clear();

  const std::vector<hsize_t> hdims(dims.begin(), dims.end());
  const Hid space = own_space(dims.empty() ? H5Screate(H5S_SCALAR)
                                           : H5Screate_simple(int(hdims.size()), hdims.data(), nullptr));
  const uint64_t bytes = numel * h5_type_size(type);
  const bool compact = !dims.empty() && bytes <= kCompactBytes;
  if (compact && !compact_dcpl_.valid()) {
    compact_dcpl_ = own_plist(H5Pcreate(H5P_DATASET_CREATE));
    no_times(compact_dcpl_.get());
    H5Pset_layout(compact_dcpl_.get(), H5D_COMPACT);
  }
  Hid own_dcpl;
  if (!compact) {
    own_dcpl = own_plist(H5Pcreate(H5P_DATASET_CREATE));
    no_times(own_dcpl.get());
  }
  const Hid& dcpl = compact ? compact_dcpl_ : own_dcpl;
  if (!compact && !dims.empty()) set_chunks(dcpl.get(), chunk_dims(dims));
  const Hid ftype = file_type(type);
  Hid ds = create_dataset(path, leaf, ftype.get(), space.get(), dcpl.get(),
                          fmt::format("{} dataset of shape {}", h5_type_name(type), dims_str(dims)));
  // The memory type is the file type: HDF5 copies bytes, converts nothing
  // (our data is little-endian, as on every platform this project supports).
  if (n > 0 && H5Dwrite(ds.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(path, "write failed");
  last_path_ = path;
  last_object_ = std::move(ds);
}

void H5Writer::set_chunks(int64_t dcpl, const std::vector<hsize_t>& chunk) const {
  // Chunked, byte-shuffled, then deflated: shuffle groups the exponent
  // bytes of neighbouring floats together, which deflate handles well.
  H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
  if (compression_ == Compression::deflate) {
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, kDeflateLevel);
  }
}

Hid H5Writer::create_dataset(const std::string& path, const std::string& leaf, int64_t ftype, int64_t space,
                             int64_t dcpl, const std::string& what) {
  Hid ds(H5Dcreate2(parent_.get(), leaf.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), &H5Dclose);
  if (!ds.valid()) {
    // Asked only now, not before every dataset: a name lookup costs as much as a tenth of a small dataset.
    if (H5Lexists(parent_.get(), leaf.c_str(), H5P_DEFAULT) > 0) fail(path, "already exists");
    fail(path, "cannot create " + what);
  }
  return ds;
}

std::string H5Writer::enter_parent(const std::string& path) {
  const std::vector<std::string> parts = split_path(path);
  if (parts.empty()) fail(path, "a dataset needs a name");
  std::string parent(1, '/');  // "/a/b" for "/a/b/leaf", "/" for "/leaf"
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (i > 0) parent += '/';
    parent += parts[i];
  }
  if (parent != parent_path_ || !parent_.valid()) {
    parent_.reset();
    parent_path_.clear();
    if (parent != "/") create_group(parent);
    parent_ = own_object(H5Oopen(file_.get(), parent.c_str(), H5P_DEFAULT));
    if (!parent_.valid()) fail(parent, "cannot open group");
    parent_path_ = parent;
  }
  return parts.back();
}

uint64_t H5Writer::rows_per_chunk(H5Type type, uint64_t width) {
  return std::max<uint64_t>(1, kRowChunkBytes / (std::max<uint64_t>(width, 1) * h5_type_size(type)));
}

void H5Writer::create_row_stack(const std::string& path, H5Type type, uint64_t width) {
  if (!open_) fail(path, "file is already closed");
  if (width == 0) fail(path, "a row stack needs rows of at least one element");
  if (defer([this, path, type, width] { create_row_stack(path, type, width); }, path.size())) return;
  const std::string leaf = enter_parent(path);
  last_object_.reset();
  last_path_.clear();
  const hsize_t dims[2] = {0, width}, max_dims[2] = {H5S_UNLIMITED, width};
  const hsize_t chunk[2] = {rows_per_chunk(type, width), width};
  const Hid space = own_space(H5Screate_simple(2, dims, max_dims));
  const Hid dcpl = own_plist(H5Pcreate(H5P_DATASET_CREATE));
  no_times(dcpl.get());
  set_chunks(dcpl.get(), {chunk[0], chunk[1]});
  const Hid ftype = file_type(type);
  Hid ds = create_dataset(path, leaf, ftype.get(), space.get(), dcpl.get(),
                          fmt::format("a {} row stack of width {}", h5_type_name(type), width));
  last_path_ = path;
  last_object_ = std::move(ds);
}

int64_t H5Writer::open_stack(const std::string& path) {
  const auto it = stacks_.find(path);
  if (it != stacks_.end()) return it->second.get();
  // No chunk cache: every append writes whole chunks (vectors/row_stacks.h),
  // which go to the file at once; a cache would hold up to 1 MiB of chunks for
  // each of hundreds of open stacks.
  const Hid dapl = own_plist(H5Pcreate(H5P_DATASET_ACCESS));
  H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0);
  Hid ds(H5Dopen2(file_.get(), path.c_str(), dapl.get()), &H5Dclose);
  if (!ds.valid()) fail(path, "no such row stack to append to");
  const int64_t id = ds.get();
  stacks_.emplace(path, std::move(ds));
  return id;
}

void H5Writer::append_rows(const std::string& path, H5Type type, uint64_t width, const void* data, uint64_t rows) {
  if (!open_) fail(path, "file is already closed");
  if (rows == 0) return;
  if (!WriteQueue::in_job() && queue_) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::vector<unsigned char> copy(p, p + rows * width * h5_type_size(type));
    const size_t bytes = copy.size();
    defer([this, path, type, width, copy = std::move(copy), rows] { append_rows(path, type, width, copy.data(), rows); },
          bytes + path.size());
    return;
  }
  // Kept open until close(): opening a dataset and closing it again (which
  // rewrites its object header) for every chunk cost more than the write.
  const hid_t ds = open_stack(path);
  const Hid ftype = file_type(type);
  const Hid dtype = own_type(H5Dget_type(ds));
  if (H5Tequal(dtype.get(), ftype.get()) <= 0) fail(path, fmt::format("rows of {} appended to another type", h5_type_name(type)));
  Hid space = own_space(H5Dget_space(ds));
  hsize_t dims[2] = {0, 0};
  if (H5Sget_simple_extent_ndims(space.get()) != 2) fail(path, "not a row stack (rank is not 2)");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (dims[1] != width) fail(path, fmt::format("rows of {} elements appended to a stack of width {}", width, dims[1]));
  const hsize_t grown[2] = {dims[0] + rows, dims[1]};
  if (H5Dset_extent(ds, grown) < 0) fail(path, "cannot grow the row stack");
  space = own_space(H5Dget_space(ds));
  const hsize_t start[2] = {dims[0], 0}, count[2] = {rows, dims[1]};
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  const Hid mem = own_space(H5Screate_simple(2, count, nullptr));
  if (H5Dwrite(ds, ftype.get(), mem.get(), space.get(), H5P_DEFAULT, data) < 0)
    fail(path, fmt::format("appending {} rows failed", rows));
}

void H5Writer::write_f32(const std::string& p, std::span<const float> d, const Dims& dims) {
  write_raw(p, H5Type::f32, d.data(), d.size(), dims);
}
void H5Writer::write_f64(const std::string& p, std::span<const double> d, const Dims& dims) {
  write_raw(p, H5Type::f64, d.data(), d.size(), dims);
}
void H5Writer::write_i32(const std::string& p, std::span<const int32_t> d, const Dims& dims) {
  write_raw(p, H5Type::i32, d.data(), d.size(), dims);
}
void H5Writer::write_u32(const std::string& p, std::span<const uint32_t> d, const Dims& dims) {
  write_raw(p, H5Type::u32, d.data(), d.size(), dims);
}
void H5Writer::write_u64(const std::string& p, std::span<const uint64_t> d, const Dims& dims) {
  write_raw(p, H5Type::u64, d.data(), d.size(), dims);
}
void H5Writer::write_u8(const std::string& p, std::span<const uint8_t> d, const Dims& dims) {
  write_raw(p, H5Type::u8, d.data(), d.size(), dims);
}
void H5Writer::write_f16_bits(const std::string& p, std::span<const uint16_t> d, const Dims& dims) {
  write_raw(p, H5Type::f16, d.data(), d.size(), dims);
}
void H5Writer::write_f16(const std::string& p, std::span<const f16> d, const Dims& dims) {
  write_raw(p, H5Type::f16, d.data(), d.size(), dims);
}
void H5Writer::write_tensor(const std::string& p, const TensorView& t) {
  const H5Type type = t.dtype == DType::f16 ? H5Type::f16 : H5Type::f32;
  write_raw(p, type, t.data, size_t(t.numel()), numpy_dims(t.shape));
}

void H5Writer::link(const std::string& existing, const std::string& path) {
  if (!open_) fail(path, "file is already closed");
  if (defer([this, existing, path] { link(existing, path); }, existing.size() + path.size())) return;
  if (!path_exists(file_.get(), existing)) fail(path, fmt::format("cannot link to {}: no such object", existing));
  const std::vector<std::string> parts = split_path(path);
  if (parts.empty()) fail(path, "a link needs a name");
  std::string parent;
  for (size_t i = 0; i + 1 < parts.size(); ++i) parent += "/" + parts[i];
  if (!parent.empty()) create_group(parent);
  if (path_exists(file_.get(), path)) fail(path, "already exists");
  if (H5Lcreate_hard(file_.get(), existing.c_str(), file_.get(), path.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
    fail(path, fmt::format("cannot link to {}", existing));
}

void H5Writer::set_attr_raw(const std::string& object, const std::string& name, hid_t type, const void* value) {
  if (!open_) fail(object, "file is already closed");
  Hid opened;
  if (object != last_path_ || !last_object_.valid()) {
    opened = own_object(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
    if (!opened.valid()) fail(object, fmt::format("no such object to set attribute '{}' on", name));
  }
  const Hid& obj = opened.valid() ? opened : last_object_;
  const Hid space = own_space(H5Screate(H5S_SCALAR));
  const Hid attr = own_attr(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) {  // as for datasets: why, asked only on failure
    if (H5Aexists(obj.get(), name.c_str()) > 0) fail(object, fmt::format("attribute '{}' already set", name));
    fail(object, fmt::format("cannot create attribute '{}'", name));
  }
  if (H5Awrite(attr.get(), type, value) < 0) fail(object, fmt::format("cannot write attribute '{}'", name));
}

void H5Writer::set_attr(const std::string& object, const std::string& name, const std::string& value) {
  if (!open_) fail(object, "file is already closed");
  if (defer([this, object, name, value] { set_attr(object, name, value); }, object.size() + value.size())) return;
  const Hid type = own_type(H5Tcopy(H5T_C_S1));
  // Fixed length, padded with NULs (HDF5 does not allow a size of 0).
  H5Tset_size(type.get(), std::max<size_t>(value.size(), 1));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  std::string buf = value;
  buf.resize(std::max<size_t>(value.size(), 1), '\0');
  set_attr_raw(object, name, type.get(), buf.data());
}
void H5Writer::set_attr(const std::string& object, const std::string& name, double value) {
  if (!open_) fail(object, "file is already closed");
  if (defer([this, object, name, value] { set_attr(object, name, value); }, object.size())) return;
  set_attr_raw(object, name, H5T_IEEE_F64LE, &value);
}
void H5Writer::set_attr(const std::string& object, const std::string& name, int64_t value) {
  if (!open_) fail(object, "file is already closed");
  if (defer([this, object, name, value] { set_attr(object, name, value); }, object.size())) return;
  set_attr_raw(object, name, H5T_STD_I64LE, &value);
}
void H5Writer::set_attr(const std::string& object, const std::string& name, uint64_t value) {
  if (!open_) fail(object, "file is already closed");
  if (defer([this, object, name, value] { set_attr(object, name, value); }, object.size())) return;
  set_attr_raw(object, name, H5T_STD_U64LE, &value);
}

void H5Writer::wait() {
  if (!WriteQueue::in_job() && queue_) queue_->drain();
}

void H5Writer::close() {
  if (!open_) throw H5Error(fmt::format("{}: already closed", path_));
  if (queue_) {
    try {
      queue_->drain();
    } catch (...) {
      discard();
      throw;
    }
    queue_.reset();
  }
  last_object_.reset();  // the file closes only when no object in it is open
  stacks_.clear();
  parent_.reset();
  compact_dcpl_.reset();
  if (H5Fflush(file_.get(), H5F_SCOPE_LOCAL) < 0) {
    discard();
    throw H5Error(fmt::format("{}: flushing {} failed", path_, temp_));
  }
  // H5Fclose only really closes once no object in the file is open; every
  // handle here is scoped, so the file is complete on disk after this.
  const hid_t f = file_.release();
  open_ = false;
  if (H5Fclose(f) < 0) {
    std::remove(temp_.c_str());
    throw H5Error(fmt::format("{}: closing {} failed", path_, temp_));
  }
  if (overwrite_ == Overwrite::yes) {
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      std::remove(temp_.c_str());
      throw H5Error(fmt::format("{}: cannot move {} into place: {}", path_, temp_, std::strerror(err)));
    }
    return;
  }
  // link() fails if the target exists, so a file that appeared after we
  // started is never replaced (rename() would replace it silently).
  const int rc = ::link(temp_.c_str(), path_.c_str());
  const int err = errno;
  std::remove(temp_.c_str());
  if (rc != 0)
    throw H5Error(fmt::format("{}: cannot move {} into place: {}", path_, temp_,
                              err == EEXIST ? "the file appeared meanwhile; refusing to overwrite it"
                                            : std::strerror(err)));
}

}  // namespace rwkv::vectors
