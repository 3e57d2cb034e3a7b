#include "reference/model/gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/model/mapped_file.h"

namespace rwkv {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxCount = uint64_t(1) << 32;

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file, what));
}

// A bounds-checked little-endian cursor over the file image.
class Reader {
 public:
  Reader(const std::string& label, const uint8_t* p, size_t n) : label_(label), p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }
  template <class T> T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > n_ - pos_) bad(label_, fmt::format("{}: string length {} runs past the end of the file at byte {}", what, len, pos_));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += size_t(len);
    return s;
  }

 private:
  void need(size_t k, const char* what) {
    if (k > n_ - pos_) bad(label_, fmt::format("truncated: {} needs {} bytes at byte {}, file has {}", what, k, pos_, n_));
  }
  const std::string& label_;
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

GgufValue read_scalar(Reader& r, GgufValueType t, const std::string& label, const std::string& key) {
  const char* what = "metadata value";
  switch (t) {
    case GgufValueType::u8: return {t, t, uint64_t(r.read<uint8_t>(what))};
    case GgufValueType::u16: return {t, t, uint64_t(r.read<uint16_t>(what))};
    case GgufValueType::u32: return {t, t, uint64_t(r.read<uint32_t>(what))};
    case GgufValueType::u64: return {t, t, r.read<uint64_t>(what)};
    case GgufValueType::i8: return {t, t, int64_t(r.read<int8_t>(what))};
    case GgufValueType::i16: return {t, t, int64_t(r.read<int16_t>(what))};
    case GgufValueType::i32: return {t, t, int64_t(r.read<int32_t>(what))};
    case GgufValueType::i64: return {t, t, r.read<int64_t>(what)};
    case GgufValueType::f32: return {t, t, double(r.read<float>(what))};
    case GgufValueType::f64: return {t, t, r.read<double>(what)};
    case GgufValueType::boolean: {
      const uint8_t b = r.read<uint8_t>(what);
      if (b > 1) bad(label, fmt::format("key '{}': boolean value {} is neither 0 nor 1", key, b));
      return {t, t, b == 1};
    }
    case GgufValueType::string: return {t, t, r.read_string(what)};
    case GgufValueType::array: break;
  }
  bad(label, fmt::format("key '{}': unknown value type {}", key, uint32_t(t)));
}

GgufValue read_value(Reader& r, GgufValueType t, const std::string& label, const std::string& key) {
  if (t != GgufValueType::array) return read_scalar(r, t, label, key);
  const auto elem = GgufValueType(r.read<uint32_t>("array element type"));
  if (elem == GgufValueType::array) bad(label, fmt::format("key '{}': nested arrays are not supported", key));
  if (uint32_t(elem) > uint32_t(GgufValueType::f64)) bad(label, fmt::format("key '{}': unknown array element type {}", key, uint32_t(elem)));
  const uint64_t count = r.read<uint64_t>("array length");
  if (count > kMaxCount) bad(label, fmt::format("key '{}': array length {} is implausibly large", key, count));
  GgufArray items;
  // Every element takes at least one byte: a count beyond what remains is a
  // truncated file, found while reading; never reserve more than that.
  items.reserve(size_t(std::min<uint64_t>(count, r.remaining())));
  for (uint64_t i = 0; i < count; ++i) items.push_back(read_scalar(r, elem, label, key));
  return GgufValue::array(elem, std::move(items));
}

bool known_type(uint32_t t) {
  for (GgmlType k : {GgmlType::f32, GgmlType::f16, GgmlType::q8_0, GgmlType::q4_k, GgmlType::q6_k, GgmlType::bf16})
    if (uint32_t(k) == t) return true;
  return false;
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::f32: return "F32";
    case GgmlType::f16: return "F16";
    case GgmlType::q8_0: return "Q8_0";
    case GgmlType::q4_k: return "Q4_K";
    case GgmlType::q6_k: return "Q6_K";
    case GgmlType::bf16: return "BF16";
  }
  return "?";
}

int64_t ggml_block_size(GgmlType t) {
  switch (t) {
    case GgmlType::q8_0: return 32;
    case GgmlType::q4_k:
    case GgmlType::q6_k: return 256;
    default: return 1;
  }
}

uint64_t ggml_type_bytes(GgmlType t, uint64_t n) {
  switch (t) {
    case GgmlType::f32: return n * 4;
    case GgmlType::f16:
    case GgmlType::bf16: return n * 2;
    case GgmlType::q8_0: return n / 32 * 34;
    case GgmlType::q4_k: return n / 256 * 144;
    case GgmlType::q6_k: return n / 256 * 210;
  }
  return 0;
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::string GgufTensor::shape_str() const { return fmt::format("{{{}}}", fmt::join(ne, ", ")); }

GgufFile GgufFile::open(const std::string& path) {
  auto file = MappedFile::open(path);
  return parse(path, file->data(), file->size(), file);
}

GgufFile GgufFile::parse(const std::string& label, const uint8_t* data, size_t size, std::shared_ptr<const void> owner) {
  GgufFile g;
  g.path_ = label;
  g.owner_ = std::move(owner);
  Reader r(label, data, size);
  const uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kMagic) bad(label, fmt::format("not a GGUF file: magic is 0x{:08x}, expected 0x{:08x} (\"GGUF\")", magic, kMagic));
  g.version_ = r.read<uint32_t>("version");
  if (g.version_ != 3) bad(label, fmt::format("GGUF version {} is not supported: expected 3", g.version_));
  const uint64_t n_tensors = r.read<uint64_t>("tensor count");
  const uint64_t n_kv = r.read<uint64_t>("key-value count");
  if (n_tensors > kMaxCount || n_kv > kMaxCount)
    bad(label, fmt::format("implausible counts: {} tensors, {} key-values", n_tensors, n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = r.read_string("metadata key");
    const auto type = GgufValueType(r.read<uint32_t>("metadata value type"));
    if (uint32_t(type) > uint32_t(GgufValueType::f64))
      bad(label, fmt::format("key '{}': unknown value type {}", key, uint32_t(type)));
    GgufValue v = read_value(r, type, label, key);
    if (g.kv_.count(key)) bad(label, fmt::format("key '{}' appears twice", key));
    g.kv_.emplace(key, std::move(v));
  }
  if (auto it = g.kv_.find("general.alignment"); it != g.kv_.end()) {
    if (it->second.type != GgufValueType::u32) bad(label, "key 'general.alignment' must be a u32");
    const uint64_t a = std::get<uint64_t>(it->second.v);
    if (a == 0 || (a & (a - 1)) || a > 65536) bad(label, fmt::format("general.alignment = {} is not a power of two up to 65536", a));
    g.alignment_ = uint32_t(a);
  }
  std::vector<GgufTensor> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.read_string("tensor name");
    const uint32_t n_dims = r.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > 4) bad(label, fmt::format("tensor '{}': {} dimensions, expected 1 to 4", t.name, n_dims));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t v = r.read<uint64_t>("tensor dimension");
      if (v == 0 || v > (uint64_t(1) << 40) || numel > (uint64_t(1) << 40) / v)
        bad(label, fmt::format("tensor '{}': dimension {} = {} is zero or implausibly large", t.name, d, v));
      numel *= v;
      t.ne.push_back(int64_t(v));
    }
    const uint32_t type = r.read<uint32_t>("tensor type");
    if (!known_type(type))
      bad(label, fmt::format("tensor '{}': ggml type {} is not supported: expected F32, F16, BF16, Q8_0, Q4_K or Q6_K",
                             t.name, type));
    t.type = GgmlType(type);
    if (t.ne[0] % ggml_block_size(t.type))
      bad(label, fmt::format("tensor '{}': row length ne[0] = {} is not a multiple of {}'s block size {}", t.name, t.ne[0],
                             ggml_type_name(t.type), ggml_block_size(t.type)));
    t.offset = r.read<uint64_t>("tensor offset");
    if (t.offset % g.alignment_)
      bad(label, fmt::format("tensor '{}': offset {} is not a multiple of the alignment {}", t.name, t.offset, g.alignment_));
    t.bytes = ggml_type_bytes(t.type, numel);
    t.index = size_t(i);
    infos.push_back(std::move(t));
  }
  const uint64_t data_start = (uint64_t(r.pos()) + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (data_start > size) bad(label, fmt::format("truncated: the data section would start at byte {}, file has {}", data_start, size));
  const uint64_t data_size = size - data_start;
  for (GgufTensor& t : infos) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      bad(label, fmt::format("tensor '{}' ({} {}): bytes [{}, {}) run past the end of the data section ({} bytes; truncated?)",
                             t.name, ggml_type_name(t.type), t.shape_str(), t.offset, t.offset + t.bytes, data_size));
    t.data = data + data_start + t.offset;
    if (g.tensors_.count(t.name)) bad(label, fmt::format("tensor '{}' appears twice", t.name));
    g.tensors_.emplace(t.name, t);
  }
  return g;
}

const GgufTensor& GgufFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad(path_, fmt::format("tensor '{}' is missing", name));
  return it->second;
}

const GgufTensor& GgufFile::get(const std::string& name, const std::vector<int64_t>& ne) const {
  const GgufTensor& t = get(name);
  if (t.ne != ne) bad(path_, fmt::format("tensor '{}' has ne {}, expected {{{}}}", name, t.shape_str(), fmt::join(ne, ", ")));
  return t;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) bad(path_, fmt::format("metadata key '{}' is missing", key));
  if (const auto* u = std::get_if<uint64_t>(&it->second.v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&it->second.v); i && *i >= 0) return uint64_t(*i);
  bad(path_, fmt::format("metadata key '{}' is not a non-negative integer", key));
}

double GgufFile::get_float(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) bad(path_, fmt::format("metadata key '{}' is missing", key));
  if (const auto* d = std::get_if<double>(&it->second.v)) return *d;
  bad(path_, fmt::format("metadata key '{}' is not a float", key));
}

std::string GgufFile::get_string(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) bad(path_, fmt::format("metadata key '{}' is missing", key));
  if (const auto* s = std::get_if<std::string>(&it->second.v)) return *s;
  bad(path_, fmt::format("metadata key '{}' is not a string", key));
}

// ---- writer ----

namespace {

template <class T> void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void put_scalar(std::vector<uint8_t>& out, GgufValueType t, const GgufValue& v) {
  switch (t) {
    case GgufValueType::u8: put<uint8_t>(out, uint8_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::u16: put<uint16_t>(out, uint16_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::u32: put<uint32_t>(out, uint32_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::u64: put<uint64_t>(out, std::get<uint64_t>(v.v)); break;
    case GgufValueType::i8: put<int8_t>(out, int8_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::i16: put<int16_t>(out, int16_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::i32: put<int32_t>(out, int32_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::i64: put<int64_t>(out, std::get<int64_t>(v.v)); break;
    case GgufValueType::f32: put<float>(out, float(std::get<double>(v.v))); break;
    case GgufValueType::f64: put<double>(out, std::get<double>(v.v)); break;
    case GgufValueType::boolean: put<uint8_t>(out, std::get<bool>(v.v) ? 1 : 0); break;
    case GgufValueType::string: put_string(out, std::get<std::string>(v.v)); break;
    case GgufValueType::array: throw std::logic_error("GGUF writer: nested arrays are not supported");
  }
}

}  // namespace

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : ne) n *= uint64_t(d);
  return n;
}

std::vector<uint8_t> gguf_header(const std::vector<GgufKv>& kv, const std::vector<GgufTensorInfo>& tensors,
                                 uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)))
    throw std::invalid_argument(fmt::format("GGUF writer: alignment {} is not a power of two", alignment));
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  const bool has_alignment = std::any_of(kv.begin(), kv.end(), [](const GgufKv& e) { return e.first == "general.alignment"; });
  const bool add_alignment = !has_alignment && alignment != 32;
  put<uint64_t>(out, kv.size() + (add_alignment ? 1 : 0));
  for (const auto& [key, v] : kv) {
    put_string(out, key);
    put<uint32_t>(out, uint32_t(v.type));
    if (v.type == GgufValueType::array) {
      const auto& items = *std::get<std::shared_ptr<GgufArray>>(v.v);
      put<uint32_t>(out, uint32_t(v.elem));
      put<uint64_t>(out, items.size());
      for (const GgufValue& item : items) put_scalar(out, v.elem, item);
    } else {
      put_scalar(out, v.type, v);
    }
  }
  if (add_alignment) {
    put_string(out, "general.alignment");
    put<uint32_t>(out, uint32_t(GgufValueType::u32));
    put<uint32_t>(out, alignment);
  }
  uint64_t offset = 0;
  for (const GgufTensorInfo& t : tensors) {
    const bool positive = std::all_of(t.ne.begin(), t.ne.end(), [](int64_t d) { return d >= 1; });
    if (t.ne.empty() || t.ne.size() > 4 || !positive || t.ne[0] % ggml_block_size(t.type))
      throw std::invalid_argument(fmt::format(
          "GGUF writer: tensor '{}' {{{}}}: expected 1 to 4 positive dimensions with ne[0] a multiple of {} ({})", t.name,
          fmt::join(t.ne, ", "), ggml_block_size(t.type), ggml_type_name(t.type)));
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes() + alignment - 1) / alignment * alignment;
  }
  out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
  return out;
}

void GgufWriter::add_kv(const std::string& key, GgufValue value) { kv_.emplace_back(key, std::move(value)); }

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type, std::vector<uint8_t> bytes) {
  uint64_t numel = 1;
  for (int64_t d : ne) numel *= uint64_t(d);
  if (ne.empty() || ne[0] % ggml_block_size(type))
    throw std::invalid_argument(fmt::format("GGUF writer: tensor '{}': ne[0] must be a multiple of {}", name, ggml_block_size(type)));
  if (bytes.size() != ggml_type_bytes(type, numel))
    throw std::invalid_argument(fmt::format("GGUF writer: tensor '{}' ({}): {} bytes given, {} expected", name,
                                            ggml_type_name(type), bytes.size(), ggml_type_bytes(type, numel)));
  tensors_.push_back({name, std::move(ne), type, std::move(bytes)});
}

std::vector<uint8_t> GgufWriter::serialize() const {
  std::vector<GgufTensorInfo> infos;
  for (const Pending& t : tensors_) infos.push_back({t.name, t.ne, t.type});
  std::vector<uint8_t> out = gguf_header(kv_, infos, alignment_);
  for (const Pending& t : tensors_) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = serialize();
  const std::string tmp = path + ".partial";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(fmt::format("{}: cannot create", tmp));
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!f) throw std::runtime_error(fmt::format("{}: write failed", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(fmt::format("{}: cannot rename into place", path));
}

}  // namespace rwkv
