#include "reference/model/safetensors.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace rwkv {
namespace {

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file, what));
}

bool parse_dtype(const std::string& s, StDType* out) {
  if (s == "F16") *out = StDType::f16;
  else if (s == "BF16") *out = StDType::bf16;
  else if (s == "F32") *out = StDType::f32;
  else return false;
  return true;
}

}  // namespace

const char* st_dtype_name(StDType t) {
  switch (t) {
    case StDType::f16: return "F16";
    case StDType::bf16: return "BF16";
    case StDType::f32: return "F32";
  }
  return "?";
}

size_t st_dtype_size(StDType t) { return t == StDType::f32 ? 4 : 2; }

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensor::shape_str() const { return fmt::format("({})", fmt::join(shape, ", ")); }

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto file = MappedFile::open(path);
  return parse(path, file->data(), file->size(), file);
}

SafetensorsFile SafetensorsFile::parse(const std::string& label, const uint8_t* data, size_t size,
                                       std::shared_ptr<const void> owner) {
  SafetensorsFile st;
  st.path_ = label;
  st.owner_ = std::move(owner);
  if (size < 8) bad(label, fmt::format("truncated: {} bytes, a safetensors file starts with an 8-byte header length", size));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | data[i];
  if (header_len > size - 8)
    bad(label, fmt::format("header length field says {} bytes but only {} follow it (truncated or not safetensors)",
                           header_len, size - 8));
  const char* hbegin = reinterpret_cast<const char*>(data + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbegin, hbegin + header_len);
  } catch (const nlohmann::json::exception& e) {
    bad(label, fmt::format("header is not valid JSON: {}", e.what()));
  }
  if (!header.is_object()) bad(label, "header is not a JSON object of tensors");
  const uint8_t* body = data + 8 + header_len;
  const uint64_t body_size = size - 8 - header_len;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) bad(label, "__metadata__ is not an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string()) bad(label, fmt::format("__metadata__.{} is not a string", m.key()));
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("tensor '{}'", name);
    if (!e.is_object()) bad(label, where + ": entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) bad(label, where + ": field 'dtype' missing or not a string");
    if (!e.contains("shape") || !e["shape"].is_array()) bad(label, where + ": field 'shape' missing or not an array");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      bad(label, where + ": field 'data_offsets' must be an array [begin, end]");
    StTensor t;
    t.name = name;
    const std::string dt = e["dtype"].get<std::string>();
    if (!parse_dtype(dt, &t.dtype))
      bad(label, fmt::format("{}: unknown dtype '{}': expected F16, BF16 or F32", where, dt));
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) bad(label, where + ": 'shape' holds something other than a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t(1) << 40) || (v != 0 && numel > (uint64_t(1) << 40) / v))
        bad(label, fmt::format("{}: shape dimension {} is implausibly large", where, v));
      numel *= v;
      t.shape.push_back(int64_t(v));
    }
    for (const auto& o : e["data_offsets"])
      if (!o.is_number_unsigned()) bad(label, where + ": 'data_offsets' holds something other than a non-negative integer");
    const uint64_t begin = e["data_offsets"][0].get<uint64_t>();
    const uint64_t end = e["data_offsets"][1].get<uint64_t>();
    if (begin > end) bad(label, fmt::format("{}: data_offsets [{}, {}] end before they begin", where, begin, end));
    if (end > body_size)
      bad(label, fmt::format("{}: data_offsets [{}, {}] run past the end of the data ({} bytes; file truncated?)", where,
                             begin, end, body_size));
    const uint64_t want = numel * st_dtype_size(t.dtype);
    if (end - begin != want)
      bad(label, fmt::format("{}: {} bytes at data_offsets [{}, {}], but shape {} of {} needs {}", where, end - begin,
                             begin, end, t.shape_str(), dt, want));
    t.data = body + begin;
    t.bytes = size_t(end - begin);
    st.tensors_.emplace(name, std::move(t));
  }
  // Tensors must not overlap (the format requires a dense, ordered data section).
  std::vector<const StTensor*> by_offset;
  for (const auto& [n, t] : st.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const StTensor* a, const StTensor* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->data + by_offset[i - 1]->bytes > by_offset[i]->data)
      bad(label, fmt::format("tensors '{}' and '{}' overlap in the data section", by_offset[i - 1]->name,
                             by_offset[i]->name));
  return st;
}

const StTensor& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad(path_, fmt::format("tensor '{}' is missing", name));
  return it->second;
}

const StTensor& SafetensorsFile::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const StTensor& t = get(name);
  if (t.shape != shape)
    bad(path_, fmt::format("tensor '{}' has shape {}, expected ({})", name, t.shape_str(), fmt::join(shape, ", ")));
  return t;
}

}  // namespace rwkv
