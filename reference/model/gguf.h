#pragma once
// GGUF v3 (llama.cpp's model format): reader (memory-mapped; tensors point into
// the map) and writer. Layout: magic "GGUF", version, tensor count, key-value
// count, the key-values, the tensor infos (name, dims in ggml ne order, ggml
// type, offset), padding to `general.alignment` (default 32), the data.
// Every inconsistency is an error naming the file, the key or tensor, and what
// was expected.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace rwkv {

// The ggml tensor types this project reads and writes (ggml.h numbering).
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q8_0 = 8, q4_k = 12, q6_k = 14, bf16 = 30 };
const char* ggml_type_name(GgmlType t);
// Bytes for `n` elements of type t (n must be a multiple of the block size).
uint64_t ggml_type_bytes(GgmlType t, uint64_t n);
int64_t ggml_block_size(GgmlType t);

enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9, u64 = 10,
  i64 = 11, f64 = 12
};

struct GgufValue;
using GgufArray = std::vector<GgufValue>;
struct GgufValue {
  GgufValueType type = GgufValueType::u32;
  GgufValueType elem = GgufValueType::u32;  // arrays: element type
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;

  static GgufValue u32(uint32_t x) { return {GgufValueType::u32, GgufValueType::u32, uint64_t(x)}; }
  static GgufValue u64(uint64_t x) { return {GgufValueType::u64, GgufValueType::u32, x}; }
  static GgufValue i32(int32_t x) { return {GgufValueType::i32, GgufValueType::u32, int64_t(x)}; }
  static GgufValue f32(float x) { return {GgufValueType::f32, GgufValueType::u32, double(x)}; }
  static GgufValue boolean(bool x) { return {GgufValueType::boolean, GgufValueType::u32, x}; }
  static GgufValue str(std::string s) { return {GgufValueType::string, GgufValueType::u32, std::move(s)}; }
  static GgufValue array(GgufValueType elem, GgufArray items) {
    return {GgufValueType::array, elem, std::make_shared<GgufArray>(std::move(items))};
  }
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] contiguous
  GgmlType type = GgmlType::f32;
  uint64_t offset = 0;      // within the data section
  size_t index = 0;         // position among the tensor infos
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;
  int64_t numel() const;
  std::string shape_str() const;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  static GgufFile parse(const std::string& label, const uint8_t* data, size_t size, std::shared_ptr<const void> owner);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::map<std::string, GgufTensor>& tensors() const { return tensors_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const GgufTensor& get(const std::string& name) const;
  const GgufTensor& get(const std::string& name, const std::vector<int64_t>& ne) const;
  // Typed metadata access; throw naming the key if missing or of another type.
  uint64_t get_uint(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::shared_ptr<const void> owner() const { return owner_; }

 private:
  std::string path_;
  std::shared_ptr<const void> owner_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::map<std::string, GgufTensor> tensors_;
};

using GgufKv = std::pair<std::string, GgufValue>;

// A tensor as the header describes it (the data comes separately).
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order
  GgmlType type = GgmlType::f32;
  uint64_t numel() const;
  uint64_t bytes() const { return ggml_type_bytes(type, numel()); }
};

// Everything before the data section: magic, version, counts, the key-values
// in order (general.alignment added when `alignment` is not the default 32
// and the caller gave none), the tensor infos with offsets (each tensor's
// bytes padded to `alignment`, in order), zero padding up to the data start.
// Throws std::invalid_argument naming the tensor for an empty shape, a row
// length that is not a multiple of the type's block, or a nested array.
std::vector<uint8_t> gguf_header(const std::vector<GgufKv>& kv, const std::vector<GgufTensorInfo>& tensors,
                                 uint32_t alignment = 32);

// Writes a GGUF v3 file from memory (tests and small files; models use the
// streaming GgufStreamWriter in gguf_writer.h). Key-values and tensors are
// written in insertion order; data is aligned to `alignment`. The file is
// written to a temporary name and renamed into place, so a failed write never
// leaves a half file under the final name.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}
  void add_kv(const std::string& key, GgufValue value);
  // ne in ggml order; bytes must match ggml_type_bytes(type, numel).
  void add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type, std::vector<uint8_t> bytes);
  void write(const std::string& path) const;
  std::vector<uint8_t> serialize() const;

 private:
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  struct Pending {
    std::string name;
    std::vector<int64_t> ne;
    GgmlType type;
    std::vector<uint8_t> bytes;
  };
  std::vector<Pending> tensors_;
};

}  // namespace rwkv
