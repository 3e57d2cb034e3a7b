#pragma once
// Golden-tensor storage: a small RAII layer over the HDF5 C API.
//
// H5Writer writes one file, one tensor at a time, straight to disk (nothing of
// a run is buffered here beyond the bounded queue of background mode, so
// memory stays bounded however long the run). The
// file is built under a temporary name beside the target and only moved into
// place by close(); an abandoned or failed writer removes its temporary file,
// so a golden file that exists is a complete one. An existing target is never
// replaced unless Overwrite::yes was asked for.
//
// Files are deterministic: the same calls with the same data give the same
// bytes on any machine and thread count (no timestamps, fixed format version,
// chunk shapes a pure function of the dataset shape, creation order recorded
// as written). See vectors/SCHEMA.md.
//
// H5Reader reads such files back with strict checks: a missing file, a missing
// path, a dtype or shape other than the expected one all throw H5Error naming
// the file, the path and what was expected. No reader converts between types:
// a f64 dataset read as f32 is an error, not a silent rounding.
//
// Shapes are HDF5/numpy order, slowest dimension first; numpy_dims() maps the
// kernels' Shape ([d0, d1, d2], d0 fastest) to it.
//
// Typical use (the forward pass writes each op output as it is produced):
//   H5Writer w("run.h5");
//   w.set_attr("/", "schema", "rwkv-oracle-golden/1");
//   w.write_i32("/inputs/tokens", tokens, {tokens.size()});
//   w.write_tensor("/steps/0/layers/0/att.02.xa", xa);      // parents created
//   w.set_attr("/steps/0/layers/0/att.02.xa", "max_abs_err_f64", err);
//   w.close();                                              // now run.h5 exists
//   H5Reader r("run.h5");
//   std::vector<uint16_t> h = r.read_f16_bits("/steps/0/layers/0/att.02.xa", Dims{1, T, C});
//
// The HDF5 library used here is not thread-safe: use one file object from one
// thread at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/numeric/f16.h"
#include "reference/tensor.h"

namespace rwkv::vectors {

using Dims = std::vector<uint64_t>;

// Element types a golden file holds. f16 is IEEE binary16, stored as a
// user-defined HDF5 float type that h5py and numpy read as float16.
enum class H5Type { f16, f32, f64, i32, u32, u64, u8 };
const char* h5_type_name(H5Type t);
size_t h5_type_size(H5Type t);  // bytes per element

class H5Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// [d0, d1, d2] (d0 fastest) -> {d2, d1, d0} (slowest first).
inline Dims numpy_dims(const Shape& s) { return {uint64_t(s[2]), uint64_t(s[1]), uint64_t(s[0])}; }
std::string dims_str(const Dims& d);

// An owned hid_t, closed with the function that matches its kind.
class Hid {
 public:
  using Closer = int (*)(int64_t);
  Hid() = default;
  Hid(int64_t id, Closer close) : id_(id), close_(close) {}
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { reset(); }
  int64_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  // Gives up ownership without closing (for closes whose result matters).
  int64_t release() { const int64_t id = id_; id_ = -1; return id; }

 private:
  int64_t id_ = -1;
  Closer close_ = nullptr;
};

enum class Overwrite { no, yes };
// deflate: datasets above the compact size are chunked, shuffled and deflated
// (level 1); none: chunked only. On tensors of a forward pass deflate saves
// about 10% (activations) to 15% (states) and costs more time than the
// forward pass itself (vectors/SCHEMA.md).
enum class Compression { deflate, none };
// background: every call is copied and handed to one writer thread
// (vectors/write_queue.h), which makes the same HDF5 calls in the same order
// (so the same bytes) while the caller computes on; close() waits for it.
// Errors surface at a later call or at close(). While such a writer is open,
// nothing else in the process may call HDF5 (the library is not
// thread-safe). inline: each call is made before it returns.
enum class Threading { inline_calls, background };

class WriteQueue;

class H5Writer {
 public:
  // Starts `path` (as a temporary file beside it). Throws H5Error if `path`
  // exists and overwrite is no, or the file cannot be created.
  explicit H5Writer(std::string path, Overwrite overwrite = Overwrite::no,
                    Compression compression = Compression::deflate,
                    Threading threading = Threading::inline_calls);
  H5Writer(H5Writer&&) noexcept;
  H5Writer& operator=(H5Writer&&) = delete;
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;
  // Without close(): the temporary file is deleted and `path` left untouched.
  ~H5Writer();

  // Creates the group `path` ("/a/b/c") and any missing parents. Existing
  // groups are fine.
  void create_group(const std::string& path);

  // Writes a new dataset at `path` (parents created as needed) with shape
  // `dims`; data.size() must equal the product of dims. An existing dataset
  // at `path` is an error. Rank 0 (dims {}) is a scalar of one element.
  void write_f32(const std::string& path, std::span<const float> data, const Dims& dims);
  void write_f64(const std::string& path, std::span<const double> data, const Dims& dims);
  void write_i32(const std::string& path, std::span<const int32_t> data, const Dims& dims);
  void write_u32(const std::string& path, std::span<const uint32_t> data, const Dims& dims);
  void write_u64(const std::string& path, std::span<const uint64_t> data, const Dims& dims);
  void write_u8(const std::string& path, std::span<const uint8_t> data, const Dims& dims);
  // Half data as bit patterns. Rounding from f32 is ours (f32_to_f16_bits),
  // never HDF5's: its conversion does not round to nearest even.
  void write_f16_bits(const std::string& path, std::span<const uint16_t> data, const Dims& dims);
  void write_f16(const std::string& path, std::span<const f16> data, const Dims& dims);
  // A kernel tensor as it is: f16 or f32 by its dtype, dims numpy_dims(shape).
  void write_tensor(const std::string& path, const TensorView& t);

  // A dataset that grows by rows (schema 2 stacks every step's rows of an op
  // output in one): shape {0, width} at first, unlimited rows, chunked in
  // rows_per_chunk(type, width) rows (a pure function of type and width),
  // shuffled and deflated as other chunked datasets.
  void create_row_stack(const std::string& path, H5Type type, uint64_t width);
  // Appends `rows` rows of `width` elements of `type` (the stack's) to the
  // row stack at `path`. Writers that append whole chunks (vectors/row_stacks.h)
  // keep deflate from recompressing a chunk for every row.
  void append_rows(const std::string& path, H5Type type, uint64_t width, const void* data, uint64_t rows);
  static uint64_t rows_per_chunk(H5Type type, uint64_t width);

  // A second name `path` (parents created as needed) for the existing dataset
  // or group `existing`: an HDF5 hard link, so identical data is stored once.
  // Readers (h5py included) see an ordinary dataset; attributes belong to the
  // object, so they are shared too.
  void link(const std::string& existing, const std::string& path);

  // Attributes on the group or dataset at `object` ("/" for the root).
  // Strings are stored as fixed-length UTF-8 (no global heap, so no stale
  // bytes); h5py returns them as numpy.bytes_.
  void set_attr(const std::string& object, const std::string& name, const std::string& value);
  void set_attr(const std::string& object, const std::string& name, const char* value) {
    set_attr(object, name, std::string(value));
  }
  void set_attr(const std::string& object, const std::string& name, double value);
  void set_attr(const std::string& object, const std::string& name, int64_t value);
  void set_attr(const std::string& object, const std::string& name, uint64_t value);

  // Background mode: returns once every call so far has been made; rethrows
  // the first error of one. Inline mode: nothing to wait for.
  void wait();

  // Flushes, closes and moves the file into place (atomically; without
  // Overwrite::yes it fails rather than replace a file that appeared since).
  void close();

  const std::string& path() const { return path_; }

 private:
  void write_raw(const std::string& path, H5Type type, const void* data, size_t n, const Dims& dims);
  // Opens (or creates) the parent group of `path` as parent_; returns the leaf name.
  std::string enter_parent(const std::string& path);
  int64_t open_stack(const std::string& path);
  // Chunk shape, shuffle and deflate (as compression_ says) on a dataset
  // creation property list.
  void set_chunks(int64_t dcpl, const std::vector<unsigned long long>& chunk) const;
  // H5Dcreate2 under parent_, or an H5Error naming `path` ("already exists", or
  // "cannot create " + what).
  Hid create_dataset(const std::string& path, const std::string& leaf, int64_t ftype, int64_t space, int64_t dcpl,
                     const std::string& what);
  void set_attr_raw(const std::string& object, const std::string& name, int64_t type, const void* value);
  [[noreturn]] void fail(const std::string& object, const std::string& what) const;
  void discard() noexcept;
  // Background mode, called from the caller's thread: queues `job` (holding
  // `bytes` of copied data) and returns true. False where calls run inline
  // (inline mode, or on the writer thread itself).
  bool defer(std::function<void()> job, size_t bytes);

  std::string path_;
  std::string temp_;
  Overwrite overwrite_;
  Compression compression_ = Compression::deflate;
  Hid file_;
  bool open_ = false;
  // Speed for files of many small tensors: groups known to exist (so a path's
  // parents are not walked and reopened for every dataset) and the dataset
  // written last, kept open for the attributes that follow it.
  std::set<std::string> groups_;
  std::string last_path_;
  Hid last_object_;
  // The parent group of the last dataset, kept open: a dataset named relative
  // to it skips HDF5's walk from the root (a sixth of the cost of a small
  // dataset); and the creation properties every compact dataset shares.
  std::string parent_path_;
  Hid parent_;
  Hid compact_dcpl_;
  // Row stacks appended to, kept open until close() (open_stack()).
  std::map<std::string, Hid> stacks_;
  std::unique_ptr<WriteQueue> queue_;  // background mode only
};

struct DatasetInfo {
  H5Type type;
  Dims dims;
  uint64_t numel() const;
};

class H5Reader {
 public:
  explicit H5Reader(std::string path);

  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  // Names of the members of a group: in creation order for groups that track
  // it (all groups this writer makes), else in name order.
  std::vector<std::string> members(const std::string& group) const;
  // Type and shape of a dataset; throws if it is missing or of a type not in
  // H5Type.
  DatasetInfo info(const std::string& path) const;

  // Reads a dataset that must have exactly this type and, when given, this
  // shape.
  std::vector<float> read_f32(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<double> read_f64(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<int32_t> read_i32(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<uint32_t> read_u32(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<uint64_t> read_u64(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<uint8_t> read_u8(const std::string& path, const std::optional<Dims>& dims = {}) const;
  std::vector<uint16_t> read_f16_bits(const std::string& path, const std::optional<Dims>& dims = {}) const;
  // f16 data widened exactly with f16_bits_to_f32.
  std::vector<float> read_f16_as_f32(const std::string& path, const std::optional<Dims>& dims = {}) const;

  // Rows [first, first + count) of a dataset of rank 2 or more (a schema 2
  // row stack): type must match; throws if the rows are not all there.
  std::vector<uint16_t> read_f16_rows(const std::string& path, uint64_t first, uint64_t count) const;
  std::vector<float> read_f32_rows(const std::string& path, uint64_t first, uint64_t count) const;
  std::vector<double> read_f64_rows(const std::string& path, uint64_t first, uint64_t count) const;

  // The dataset's elements as stored (little-endian bytes), whatever its type.
  std::vector<uint8_t> read_bytes(const std::string& path) const;

  bool has_attr(const std::string& object, const std::string& name) const;
  // Names of the attributes of `object`, in name order.
  std::vector<std::string> attr_names(const std::string& object) const;
  // What an attribute holds, as the readers below read it; `other` for any
  // other type or a non-scalar.
  enum class AttrKind { string, f64, i64, u64, other };
  AttrKind attr_kind(const std::string& object, const std::string& name) const;
  // Fixed-length (ours) or variable-length (h5py's default) strings.
  std::string attr_string(const std::string& object, const std::string& name) const;
  double attr_f64(const std::string& object, const std::string& name) const;
  int64_t attr_i64(const std::string& object, const std::string& name) const;
  uint64_t attr_u64(const std::string& object, const std::string& name) const;

  const std::string& path() const { return path_; }

 private:
  void read_raw(const std::string& path, H5Type type, const std::optional<Dims>& dims, void* out,
                size_t capacity) const;
  void read_rows_raw(const std::string& path, H5Type type, uint64_t first, uint64_t count, void* out,
                     size_t capacity) const;
  template <class T>
  std::vector<T> read_rows_as(const std::string& path, H5Type type, uint64_t first, uint64_t count) const;
  template <class T>
  std::vector<T> read_as(const std::string& path, H5Type type, const std::optional<Dims>& dims) const;
  Hid open_attr(const std::string& object, const std::string& name) const;
  template <class T> T attr_scalar(const std::string& object, const std::string& name, int64_t type,
                                   const char* want) const;
  [[noreturn]] void fail(const std::string& object, const std::string& what) const;

  std::string path_;
  Hid file_;
};

}  // namespace rwkv::vectors
