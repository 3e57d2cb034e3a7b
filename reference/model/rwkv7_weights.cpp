#include "reference/model/rwkv7_weights.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reference/formats/blocks.h"
#include "reference/model/safetensors.h"

namespace rwkv {

const WeightVector& Rwkv7Weights::vector(const std::string& name) const {
  auto it = vectors.find(name);
  if (it == vectors.end()) throw std::invalid_argument(fmt::format("{}: no weight vector '{}'", path, name));
  return it->second;
}

const Matrix& Rwkv7Weights::matrix(const std::string& name) const {
  auto it = matrices.find(name);
  if (it == matrices.end()) throw std::invalid_argument(fmt::format("{}: no weight matrix '{}'", path, name));
  return it->second;
}

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file, what));
}

int64_t dim(const SafetensorsFile& f, const std::string& name, size_t axis, size_t rank) {
  const StTensor& t = f.get(name);
  if (t.shape.size() != rank)
    fail(f.path(), fmt::format("tensor '{}' has shape {}, expected {} dimensions", name, t.shape_str(), rank));
  return t.shape[axis];
}

// The block index of a "blocks.<l>." name, or -1 if it has none. Indices
// beyond 6 digits are not a model: refused before any arithmetic on them.
int64_t block_index(const std::string& file, const std::string& name) {
  if (name.rfind("blocks.", 0) != 0) return -1;
  size_t i = 7;
  int64_t v = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    if (i - 7 >= 6) fail(file, fmt::format("tensor '{}': block index is implausibly large", name));
    v = v * 10 + (name[i] - '0');
    ++i;
  }
  if (i == 7 || i == name.size() || name[i] != '.') return -1;
  return v;
}

// Spec 7.1: L from the block indices, C and V from emb.weight, F from
// ffn.key, the head count from r_k, the ranks from w1/a1/g1 and v1 of block 1
// (block 0's v1 is unused; a one-layer model falls back to it).
plan::ModelConfig detect_config(const SafetensorsFile& f) {
  plan::ModelConfig c;
  c.name = "detected";
  int64_t max_block = -1;
  for (const auto& [name, t] : f.tensors()) max_block = std::max(max_block, block_index(f.path(), name));
  if (max_block < 0) fail(f.path(), "no 'blocks.*' tensors: not an RWKV model");
  for (const char* n : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "w1", "w2", "a0", "a1", "a2", "g1", "g2",
                        "r_k", "k_k", "k_a"})
    if (!f.has(fmt::format("blocks.0.att.{}", n)))
      fail(f.path(), fmt::format("tensor 'blocks.0.att.{}' is missing: not an RWKV-7 (x070) model", n));
  c.L = max_block + 1;
  c.V = dim(f, "emb.weight", 0, 2);
  c.C = dim(f, "emb.weight", 1, 2);
  c.F = dim(f, "blocks.0.ffn.key.weight", 0, 2);
  c.N = dim(f, "blocks.0.att.r_k", 1, 2);
  c.Dw = dim(f, "blocks.0.att.w1", 0, 2);
  c.Da = dim(f, "blocks.0.att.a1", 0, 2);
  c.Dg = dim(f, "blocks.0.att.g1", 0, 2);
  c.Dv = dim(f, c.L > 1 ? "blocks.1.att.v1" : "blocks.0.att.v1", 0, 2);
  if (dim(f, "blocks.0.att.r_k", 0, 2) * c.N != c.C)
    fail(f.path(), fmt::format("tensor 'blocks.0.att.r_k' has shape {}, expected (H, N) with H*N = C = {}",
                               f.get("blocks.0.att.r_k").shape_str(), c.C));
  try {
    plan::validate(c);
  } catch (const std::invalid_argument& e) {
    fail(f.path(), fmt::format("the dimensions read from the tensor shapes are unusable: {}", e.what()));
  }
  return c;
}

class Loader {
 public:
  Loader(const SafetensorsFile& f, Rwkv7Weights& w) : f_(f), w_(w) {}

  // The tensor's elements as f16: a view of the file if it is F16 and
  // 2-byte aligned, else a converted copy.
  const f16* halves(const StTensor& t) {
    if (t.dtype == StDType::f16 && reinterpret_cast<uintptr_t>(t.data) % alignof(f16) == 0)
      return reinterpret_cast<const f16*>(t.data);
    auto store = std::make_shared<std::vector<f16>>(size_t(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      float v;
      if (t.dtype == StDType::f16) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        v = f16_bits_to_f32(h);
      } else if (t.dtype == StDType::bf16) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        v = bits_to_f32(uint32_t(h) << 16);
      } else {
        std::memcpy(&v, t.data + 4 * i, 4);
      }
      (*store)[size_t(i)] = to_f16(v);
    }
    if (t.dtype != StDType::f16)
      w_.notes.push_back(fmt::format("{}: {} converted to F16 (round to nearest even); web-rwkv requires F16",
                                     t.name, st_dtype_name(t.dtype)));
    w_.converted.push_back(store);
    return store->data();
  }

  const StTensor& get(const std::string& name, const std::vector<int64_t>& shape) {
    if (!f_.has(name))
      fail(f_.path(), fmt::format("tensor '{}' is missing (expected shape ({}))", name, fmt::join(shape, ", ")));
    used_.insert(name);
    return f_.get(name, shape);  // throws naming file, tensor and both shapes
  }

  // A tensor the format allows but nothing reads: shape-checked if present.
  void allow(const std::string& name, const std::vector<int64_t>& shape) {
    if (f_.has(name)) get(name, shape);
  }

  // Every tensor of the file must have been asked for.
  void refuse_extras() const {
    std::vector<std::string> extra;
    for (const auto& [name, t] : f_.tensors())
      if (!used_.count(name)) extra.push_back(name);
    if (!extra.empty())
      fail(f_.path(), fmt::format("{} unexpected tensor{} {}: not part of an RWKV-7 model with these dimensions "
                                  "(L = {} layers from the highest block index)",
                                  extra.size(), extra.size() == 1 ? "" : "s", name_list(extra), w_.config.L));
  }

  // A vector tensor stored with `stored` shape, exposed as `shape`.
  void vec(const std::string& name, const std::vector<int64_t>& stored, Shape shape) {
    const StTensor& t = get(name, stored);
    w_.vectors[name] = WeightVector{halves(t), shape};
  }

  // A Linear (rows, cols) = (out, in): Matrix [K = cols, M = rows].
  void mat(const std::string& name, int64_t rows, int64_t cols) {
    const StTensor& t = get(name, {rows, cols});
    Matrix m;
    m.format = WeightFormat::fp16;
    m.K = cols;
    m.M = rows;
    m.data = reinterpret_cast<const uint8_t*>(halves(t));
    m.data_bytes = size_t(rows * cols) * 2;
    m.owner = w_.owner;
    blocks::validate_matrix(m, name.c_str());
    w_.matrices[name] = m;
  }

 private:
  const SafetensorsFile& f_;
  Rwkv7Weights& w_;
  std::set<std::string> used_;
};

}  // namespace

std::string name_list(const std::vector<std::string>& names, size_t max) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > max) out += fmt::format(" and {} more", names.size() - max);
  return out;
}

Rwkv7Weights load_rwkv7_safetensors(const std::string& path) { return rwkv7_from_safetensors(SafetensorsFile::open(path)); }

Rwkv7Weights rwkv7_from_safetensors(const SafetensorsFile& f) {
  Rwkv7Weights w;
  w.path = f.path();
  w.format = "st";
  w.owner = f.owner();
  w.config = detect_config(f);
  const plan::ModelConfig& c = w.config;
  Loader ld(f, w);
  const int64_t C = c.C;
  ld.vec("emb.weight", {c.V, C}, Shape(C, c.V));
  ld.mat("head.weight", c.V, C);
  ld.vec("blocks.0.ln0.weight", {C}, Shape(C));
  ld.vec("blocks.0.ln0.bias", {C}, Shape(C));
  ld.vec("ln_out.weight", {C}, Shape(C));
  ld.vec("ln_out.bias", {C}, Shape(C));
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string b = fmt::format("blocks.{}.", l);
    for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.ln_x.weight", "att.ln_x.bias"})
      ld.vec(b + n, {C}, Shape(C));
    std::vector<std::string> mixes = {"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g",
                                      "att.w0",  "att.a0",  "att.k_k", "att.k_a", "ffn.x_k"};
    if (l > 0) mixes.push_back("att.v0");  // layer 0's v0/v1/v2 are never read (allowed below)
    for (const std::string& n : mixes) ld.vec(b + n, {1, 1, C}, Shape(C));
    ld.vec(b + "att.r_k", {c.H(), c.N}, Shape(C));
    for (const char* n : {"receptance", "key", "value", "output"}) ld.mat(b + "att." + n + ".weight", C, C);
    ld.mat(b + "att.w1", c.Dw, C);
    ld.mat(b + "att.w2", C, c.Dw);
    ld.mat(b + "att.a1", c.Da, C);
    ld.mat(b + "att.a2", C, c.Da);
    ld.mat(b + "att.g1", c.Dg, C);
    ld.mat(b + "att.g2", C, c.Dg);
    if (l > 0) {
      ld.mat(b + "att.v1", c.Dv, C);
      ld.mat(b + "att.v2", C, c.Dv);
    } else {
      ld.allow(b + "att.v0", {1, 1, C});
      ld.allow(b + "att.v1", {c.Dv, C});
      ld.allow(b + "att.v2", {C, c.Dv});
    }
    ld.mat(b + "ffn.key.weight", c.F, C);
    ld.mat(b + "ffn.value.weight", C, c.F);
  }
  ld.refuse_extras();
  return w;
}

}  // namespace rwkv
