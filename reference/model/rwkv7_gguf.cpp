#include "reference/model/rwkv7_gguf.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reference/formats/blocks.h"
#include "reference/formats/ggml_quant.h"
#include "reference/model/gguf_writer.h"

namespace rwkv {

// ---- types ----

GgufModelType parse_gguf_model_type(std::string_view s) {
  for (GgufModelType t : {GgufModelType::f16, GgufModelType::q4_k, GgufModelType::q6_k, GgufModelType::q8_0})
    if (s == gguf_model_type_name(t)) return t;
  throw std::invalid_argument(fmt::format("unknown GGUF model type '{}': expected f16, q4_k, q6_k or q8_0", s));
}

const char* gguf_model_type_name(GgufModelType t) {
  switch (t) {
    case GgufModelType::f16: return "f16";
    case GgufModelType::q4_k: return "q4_k";
    case GgufModelType::q6_k: return "q6_k";
    case GgufModelType::q8_0: return "q8_0";
  }
  return "?";
}

uint32_t llama_file_type(GgufModelType t) {
  switch (t) {
    case GgufModelType::f16: return 1;    // LLAMA_FTYPE_MOSTLY_F16
    case GgufModelType::q4_k: return 15;  // LLAMA_FTYPE_MOSTLY_Q4_K_M (llama-quantize's "Q4_K")
    case GgufModelType::q6_k: return 18;  // LLAMA_FTYPE_MOSTLY_Q6_K
    case GgufModelType::q8_0: return 7;   // LLAMA_FTYPE_MOSTLY_Q8_0
  }
  return 0;
}

namespace {

bool is_quantized(GgmlType t) { return t == GgmlType::q4_k || t == GgmlType::q6_k || t == GgmlType::q8_0; }

GgmlType ggml_of(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp16: return GgmlType::f16;
    case WeightFormat::q4_k: return GgmlType::q4_k;
    case WeightFormat::q6_k: return GgmlType::q6_k;
    case WeightFormat::q8_0: return GgmlType::q8_0;
    default: break;
  }
  throw std::invalid_argument(fmt::format("GGUF: weight format {} has no ggml type", format_name(f)));
}

WeightFormat format_of(GgmlType t) {
  switch (t) {
    case GgmlType::f16: return WeightFormat::fp16;
    case GgmlType::q4_k: return WeightFormat::q4_k;
    case GgmlType::q6_k: return WeightFormat::q6_k;
    case GgmlType::q8_0: return WeightFormat::q8_0;
    default: break;
  }
  throw std::logic_error("format_of: not a matrix format");
}

GgmlType default_quant(GgufModelType t) {
  switch (t) {
    case GgufModelType::q4_k: return GgmlType::q4_k;
    case GgufModelType::q6_k: return GgmlType::q6_k;
    case GgufModelType::q8_0: return GgmlType::q8_0;
    case GgufModelType::f16: break;
  }
  return GgmlType::f16;
}

// llama-quantize's type for a tensor it quantises (llama_tensor_get_type_impl
// and tensor_type_fallback in src/llama-quant.cpp, for RWKV-7's tensor names,
// which fall in no category but token_embd and output). `note` explains a
// fallback.
GgmlType quantised_type(GgufModelType t, bool is_output, int64_t ne0, std::string* note) {
  GgmlType want = default_quant(t);
  if (is_output) {
    // The output matrix gets Q6_K unless the mix is Q8_0 or its rows are not
    // whole blocks of the mix's type, then Q8_0.
    if (ne0 % ggml_block_size(want) != 0 || want == GgmlType::q8_0) want = GgmlType::q8_0;
    else want = GgmlType::q6_k;
  }
  if (ne0 % ggml_block_size(want) == 0) return want;
  // Rows that are not whole blocks: llama.cpp falls back Q6_K -> Q8_0 and
  // Q4_K -> Q5_0, then F16 if rows are not whole 32-blocks either; it has no
  // fallback for Q8_0 (an error). We write no Q5_0: Q4_K falls back to Q8_0,
  // and Q8_0 to F16 (documented deviations).
  GgmlType fb = ne0 % 32 == 0 ? GgmlType::q8_0 : GgmlType::f16;
  if (want == GgmlType::q8_0) fb = GgmlType::f16;
  *note = fmt::format("row length {} is not a multiple of {}'s block of {}: written as {}{}", ne0,
                      ggml_type_name(want), ggml_block_size(want), ggml_type_name(fb),
                      want == GgmlType::q4_k    ? " (llama-quantize would write Q5_0, which we do not write)"
                      : want == GgmlType::q8_0 ? " (llama-quantize refuses this shape)"
                                               : "");
  return fb;
}

std::string shape_of(const std::vector<int64_t>& ne) { return fmt::format("{{{}}}", fmt::join(ne, ", ")); }

// ne equal up to trailing 1s (ggml pads every shape to 4 dimensions with 1s).
bool same_ne(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    if ((i < a.size() ? a[i] : 1) != (i < b.size() ? b[i] : 1)) return false;
  return true;
}

}  // namespace

// ---- the table ----

std::vector<Rwkv7GgufTensor> rwkv7_gguf_layout(const plan::ModelConfig& c, GgufModelType type) {
  plan::validate(c);
  using S = Rwkv7GgufTensor::Source;
  const int64_t C = c.C;
  std::vector<Rwkv7GgufTensor> out;
  // The converter writes every 1-D tensor, bias and norm F32.
  auto vec = [&](std::string name, std::string st) {
    out.push_back({std::move(name), {C}, GgmlType::f32, S::vector, {std::move(st)}, false, ""});
  };
  // A matrix llama-quantize never quantises: `keep` is the converter's type.
  auto small = [&](std::string name, std::string st, int64_t K, int64_t M, GgmlType keep, bool placeholder = false) {
    out.push_back({std::move(name), {K, M}, keep, S::matrix, {std::move(st)}, placeholder, ""});
  };
  // A matrix llama-quantize quantises.
  auto big = [&](std::string name, std::string st, int64_t K, int64_t M, S source = S::matrix) {
    Rwkv7GgufTensor t{std::move(name), {K, M}, GgmlType::f16, source, {std::move(st)}, false, ""};
    if (type != GgufModelType::f16) t.type = quantised_type(type, t.name == "output.weight", K, &t.note);
    out.push_back(std::move(t));
  };
  big("token_embd.weight", "emb.weight", C, c.V, S::embedding);
  vec("token_embd_norm.weight", "blocks.0.ln0.weight");
  vec("token_embd_norm.bias", "blocks.0.ln0.bias");
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string g = fmt::format("blk.{}.", l), b = fmt::format("blocks.{}.", l), a = b + "att.";
    vec(g + "attn_norm.weight", b + "ln1.weight");
    vec(g + "attn_norm.bias", b + "ln1.bias");
    vec(g + "attn_norm_2.weight", b + "ln2.weight");
    vec(g + "attn_norm_2.bias", b + "ln2.bias");
    vec(g + "time_mix_w0.weight", a + "w0");
    // The converter forces time_mix_w1/w2 to F32; a1/a2/v1/v2/g1/g2 stay F16.
    small(g + "time_mix_w1.weight", a + "w1", C, c.Dw, GgmlType::f32);
    small(g + "time_mix_w2.weight", a + "w2", c.Dw, C, GgmlType::f32);
    vec(g + "time_mix_a0.weight", a + "a0");
    small(g + "time_mix_a1.weight", a + "a1", C, c.Da, GgmlType::f16);
    small(g + "time_mix_a2.weight", a + "a2", c.Da, C, GgmlType::f16);
    if (l == 0) {  // unused by the graph; llama.cpp wants them with the a-LoRA's rank
      out.push_back({g + "time_mix_v0.weight", {C}, GgmlType::f32, S::vector, {a + "a0"}, true, ""});
      small(g + "time_mix_v1.weight", a + "a1", C, c.Da, GgmlType::f16, true);
      small(g + "time_mix_v2.weight", a + "a2", c.Da, C, GgmlType::f16, true);
    } else {
      vec(g + "time_mix_v0.weight", a + "v0");
      small(g + "time_mix_v1.weight", a + "v1", C, c.Dv, GgmlType::f16);
      small(g + "time_mix_v2.weight", a + "v2", c.Dv, C, GgmlType::f16);
    }
    small(g + "time_mix_g1.weight", a + "g1", C, c.Dg, GgmlType::f16);
    small(g + "time_mix_g2.weight", a + "g2", c.Dg, C, GgmlType::f16);
    out.push_back({g + "time_mix_lerp_fused.weight", {C, 1, 1, 6}, GgmlType::f32, S::lerp_fused,
                   {a + "x_r", a + "x_w", a + "x_k", a + "x_v", a + "x_a", a + "x_g"}, false, ""});
    vec(g + "time_mix_k_k.weight", a + "k_k");
    vec(g + "time_mix_k_a.weight", a + "k_a");
    vec(g + "time_mix_r_k.weight", a + "r_k");  // (H, N) flattened head-major
    big(g + "time_mix_key.weight", a + "key.weight", C, C);
    big(g + "time_mix_value.weight", a + "value.weight", C, C);
    big(g + "time_mix_receptance.weight", a + "receptance.weight", C, C);
    vec(g + "time_mix_ln.weight", a + "ln_x.weight");
    vec(g + "time_mix_ln.bias", a + "ln_x.bias");
    big(g + "time_mix_output.weight", a + "output.weight", C, C);
    vec(g + "channel_mix_lerp_k.weight", b + "ffn.x_k");  // llama.cpp: {C, 1, 1}; the converter squeezes it to {C}
    big(g + "channel_mix_key.weight", b + "ffn.key.weight", C, c.F);
    big(g + "channel_mix_value.weight", b + "ffn.value.weight", c.F, C);
  }
  vec("output_norm.weight", "ln_out.weight");
  vec("output_norm.bias", "ln_out.bias");
  big("output.weight", "head.weight", C, c.V);
  return out;
}

// ---- vocabulary and metadata ----

namespace {

// As llama_unescape_rwkv_token (src/llama-vocab.cpp) reads it: \t \n \r, a
// backslash doubled, \xNN with lowercase hex; other printable ASCII as itself.
std::string rwkv_escape_byte(uint8_t b) {
  switch (b) {
    case '\\': return "\\\\";
    case '\t': return "\\t";
    case '\n': return "\\n";
    case '\r': return "\\r";
    default: break;
  }
  if (b >= 0x20 && b < 0x7f) return std::string(1, char(b));
  return fmt::format("\\x{:02x}", b);
}

}  // namespace

SyntheticVocab synthetic_rwkv_vocab(int64_t V) {
  SyntheticVocab v;
  v.tokens.reserve(size_t(V));
  v.types.reserve(size_t(V));
  for (int64_t i = 0; i < V; ++i) {
    if (i == 0) {
      v.tokens.push_back("<s>");
      v.types.push_back(3);  // CONTROL
    } else if (i <= 256) {
      v.tokens.push_back(rwkv_escape_byte(uint8_t(i - 1)));
      v.types.push_back(1);  // NORMAL
    } else {
      v.tokens.push_back(fmt::format("[PAD{}]", i));
      v.types.push_back(5);  // UNUSED
    }
  }
  return v;
}

std::vector<GgufKv> rwkv7_gguf_metadata(const plan::ModelConfig& c, GgufModelType type, const std::string& name) {
  plan::validate(c);
  auto u32 = [](int64_t x) { return GgufValue::u32(uint32_t(x)); };
  std::vector<GgufKv> kv = {
      {"general.architecture", GgufValue::str("rwkv7")},
      {"general.type", GgufValue::str("model")},
      {"general.name", GgufValue::str(name.empty() ? "rwkv7" : name)},
      {"general.file_type", GgufValue::u32(llama_file_type(type))},
      {"general.quantization_version", GgufValue::u32(2)},  // GGML_QNT_VERSION
      {"rwkv7.context_length", GgufValue::u32(1048576)},     // "RWKV isn't context limited" (converter)
      {"rwkv7.embedding_length", u32(c.C)},
      {"rwkv7.block_count", u32(c.L)},
      {"rwkv7.attention.layer_norm_epsilon", GgufValue::f32(1e-5f)},
      {"rwkv7.wkv.head_size", u32(c.N)},
      {"rwkv7.attention.decay_lora_rank", u32(c.Dw)},
      {"rwkv7.attention.iclr_lora_rank", u32(c.Da)},
      {"rwkv7.attention.value_residual_mix_lora_rank", u32(c.Dv)},
      {"rwkv7.attention.gate_lora_rank", u32(c.Dg)},
      {"rwkv7.feed_forward_length", u32(c.F)},
      {"rwkv7.attention.head_count", GgufValue::u32(0)},  // "required by llama.cpp, unused" (converter)
      {"rwkv7.token_shift_count", GgufValue::u32(2)},     // llama.cpp's default, asserted by its rwkv7 graph
  };
  const SyntheticVocab vocab = synthetic_rwkv_vocab(c.V);
  GgufArray tokens, types;
  tokens.reserve(vocab.tokens.size());
  types.reserve(vocab.types.size());
  for (const std::string& t : vocab.tokens) tokens.push_back(GgufValue::str(t));
  for (int32_t t : vocab.types) types.push_back(GgufValue::i32(t));
  kv.emplace_back("tokenizer.ggml.model", GgufValue::str("rwkv"));
  kv.emplace_back("tokenizer.ggml.tokens", GgufValue::array(GgufValueType::string, std::move(tokens)));
  kv.emplace_back("tokenizer.ggml.token_type", GgufValue::array(GgufValueType::i32, std::move(types)));
  kv.emplace_back("tokenizer.ggml.bos_token_id", GgufValue::u32(0));
  kv.emplace_back("tokenizer.ggml.eos_token_id", GgufValue::u32(0));
  return kv;
}

// ---- loading ----

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file, what));
}

const char* value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8: return "u8";
    case GgufValueType::i8: return "i8";
    case GgufValueType::u16: return "u16";
    case GgufValueType::i16: return "i16";
    case GgufValueType::u32: return "u32";
    case GgufValueType::i32: return "i32";
    case GgufValueType::f32: return "f32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::u64: return "u64";
    case GgufValueType::i64: return "i64";
    case GgufValueType::f64: return "f64";
  }
  return "?";
}

// llama.cpp reads these keys with exact types (GGUFMeta checks the stored
// type), so a u64 block_count does not load there; neither does it here.
const GgufValue* find_key(const GgufFile& f, const std::string& key, GgufValueType want, bool required,
                          const char* meaning) {
  auto it = f.metadata().find(key);
  if (it == f.metadata().end()) {
    if (required) fail(f.path(), fmt::format("metadata key '{}' ({}) is missing", key, meaning));
    return nullptr;
  }
  if (it->second.type != want)
    fail(f.path(), fmt::format("metadata key '{}' ({}) is {}, expected {} (the type llama.cpp reads)", key, meaning,
                               value_type_name(it->second.type), value_type_name(want)));
  return &it->second;
}

int64_t need_count(const GgufFile& f, const std::string& key, const char* meaning, uint64_t max) {
  const uint64_t v = std::get<uint64_t>(find_key(f, key, GgufValueType::u32, true, meaning)->v);
  if (v == 0 || v > max)
    fail(f.path(), fmt::format("metadata key '{}' ({}) = {}, expected 1 to {}", key, meaning, v, max));
  return int64_t(v);
}

std::string config_str(const plan::ModelConfig& c) {
  return fmt::format("L {}, C {}, N {}, V {}, F {}, LoRA ranks decay {} iclr {} value {} gate {}", c.L, c.C, c.N, c.V,
                     c.F, c.Dw, c.Da, c.Dv, c.Dg);
}

// The config from llama.cpp's rwkv7 keys (load_arch_hparams), V from the
// token embedding and the vocabulary.
plan::ModelConfig config_from_metadata(const GgufFile& f) {
  const GgufValue* arch = find_key(f, "general.architecture", GgufValueType::string, true, "the model architecture");
  if (std::get<std::string>(arch->v) != "rwkv7")
    fail(f.path(), fmt::format("general.architecture is '{}', expected 'rwkv7' (llama.cpp's RWKV-7)",
                               std::get<std::string>(arch->v)));
  plan::ModelConfig c;
  c.name = "detected";
  constexpr uint64_t kMaxDim = uint64_t(1) << 24;
  // Each layer has 28 tensors: a block count above the tensor count is no model.
  c.L = need_count(f, "rwkv7.block_count", "layer count", std::max<uint64_t>(1, f.tensors().size()));
  c.C = need_count(f, "rwkv7.embedding_length", "width C", kMaxDim);
  c.N = need_count(f, "rwkv7.wkv.head_size", "head size N", kMaxDim);
  c.F = need_count(f, "rwkv7.feed_forward_length", "FFN width F", kMaxDim);
  c.Dw = need_count(f, "rwkv7.attention.decay_lora_rank", "decay LoRA rank", kMaxDim);
  c.Da = need_count(f, "rwkv7.attention.iclr_lora_rank", "in-context learning rate LoRA rank", kMaxDim);
  c.Dv = need_count(f, "rwkv7.attention.value_residual_mix_lora_rank", "value residual LoRA rank", kMaxDim);
  // Optional in llama.cpp (0 there means no gate, which RWKV-7 always has).
  c.Dg = need_count(f, "rwkv7.attention.gate_lora_rank", "gate LoRA rank", kMaxDim);
  if (const GgufValue* ts = find_key(f, "rwkv7.token_shift_count", GgufValueType::u32, false, "token shift count"))
    if (std::get<uint64_t>(ts->v) != 2)
      fail(f.path(), fmt::format("metadata key 'rwkv7.token_shift_count' = {}, expected 2 (llama.cpp's rwkv7 asserts it)",
                                 std::get<uint64_t>(ts->v)));
  if (!f.has("token_embd.weight"))
    fail(f.path(), fmt::format("tensor 'token_embd.weight' is missing (expected ne {{{}, V}})", c.C));
  const GgufTensor& emb = f.get("token_embd.weight");
  if (emb.ne.size() < 2 || !same_ne(emb.ne, {emb.ne[0], emb.ne[1]}))
    fail(f.path(), fmt::format("tensor 'token_embd.weight' has ne {}, expected {{{}, V}}", emb.shape_str(), c.C));
  c.V = emb.ne[1];
  const GgufValue* tokens =
      find_key(f, "tokenizer.ggml.tokens", GgufValueType::array, true, "the vocabulary, which llama.cpp requires");
  const auto& list = *std::get<std::shared_ptr<GgufArray>>(tokens->v);
  if (tokens->elem != GgufValueType::string)
    fail(f.path(), fmt::format("metadata key 'tokenizer.ggml.tokens' is an array of {}, expected strings",
                               value_type_name(tokens->elem)));
  if (int64_t(list.size()) != c.V)
    fail(f.path(), fmt::format("metadata key 'tokenizer.ggml.tokens' holds {} tokens, but token_embd.weight has "
                               "V = {} rows (llama.cpp requires them equal)",
                               list.size(), c.V));
  try {
    plan::validate(c);
  } catch (const std::invalid_argument& e) {
    fail(f.path(), fmt::format("the dimensions in the metadata are unusable ({}): {}", config_str(c), e.what()));
  }
  return c;
}

// Tensor names grouped as "blk.*.time_mix_w1.weight (layers 0-23)" for notes.
std::string compact_names(const std::vector<std::string>& names) {
  std::map<std::string, std::vector<int64_t>> layers;  // pattern -> layer indices
  std::vector<std::string> order;
  for (const std::string& n : names) {
    std::string pattern = n;
    int64_t layer = -1;
    if (n.rfind("blk.", 0) == 0) {
      const size_t dot = n.find('.', 4);
      if (dot != std::string::npos) {
        layer = std::atoll(n.substr(4, dot - 4).c_str());
        pattern = "blk.*" + n.substr(dot);
      }
    }
    if (!layers.count(pattern)) order.push_back(pattern);
    layers[pattern].push_back(layer);
  }
  std::vector<std::string> parts;
  for (const std::string& p : order) {
    const std::vector<int64_t>& ls = layers[p];
    if (ls.size() == 1 && ls[0] < 0) {
      parts.push_back(p);
      continue;
    }
    std::vector<std::string> ranges;
    for (size_t i = 0; i < ls.size();) {
      size_t j = i;
      while (j + 1 < ls.size() && ls[j + 1] == ls[j] + 1) ++j;
      ranges.push_back(i == j ? fmt::format("{}", ls[i]) : fmt::format("{}-{}", ls[i], ls[j]));
      i = j + 1;
    }
    parts.push_back(fmt::format("{} (layer{} {})", p, ls.size() == 1 ? "" : "s", fmt::join(ranges, ", ")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

class GgufLoader {
 public:
  GgufLoader(const GgufFile& f, Rwkv7Weights& w) : f_(f), w_(w) {}

  void load(const std::vector<Rwkv7GgufTensor>& layout) {
    for (const Rwkv7GgufTensor& e : layout) {
      if (!f_.has(e.name)) {
        if (e.placeholder) continue;  // llama.cpp wants it; nothing reads it
        fail(f_.path(), fmt::format("tensor '{}' (web-rwkv {}) is missing (expected ne {})", e.name,
                                    fmt::join(e.st, ", "), shape_of(e.ne)));
      }
      const GgufTensor& t = f_.get(e.name);
      used_.insert(e.name);
      if (!same_ne(t.ne, e.ne))
        fail(f_.path(), fmt::format("tensor '{}' has ne {}, expected {} from the metadata ({})", e.name, t.shape_str(),
                                    shape_of(e.ne), config_str(w_.config)));
      if (e.placeholder) continue;
      switch (e.source) {
        case Rwkv7GgufTensor::Source::vector: vector(e, t); break;
        case Rwkv7GgufTensor::Source::lerp_fused: lerp_fused(e, t); break;
        case Rwkv7GgufTensor::Source::matrix: matrix(e, t); break;
        case Rwkv7GgufTensor::Source::embedding: embedding(e, t); break;
      }
    }
    std::vector<std::string> extra;
    for (const auto& [name, t] : f_.tensors())
      if (!used_.count(name)) extra.push_back(name);
    if (!extra.empty())
      fail(f_.path(), fmt::format("{} unexpected tensor{} {}: not part of llama.cpp's rwkv7 model ({})", extra.size(),
                                  extra.size() == 1 ? "" : "s", name_list(extra), config_str(w_.config)));
    for (const auto& [what, names] : converted_)
      w_.notes.push_back(fmt::format("{}: {}", what, compact_names(names)));
  }

 private:
  // A Matrix view of a ggml tensor of a matrix format (ne[0] = K).
  Matrix view(const GgufTensor& t, WeightFormat fmt) const {
    Matrix m;
    m.format = fmt;
    m.K = t.ne[0];
    m.M = t.numel() / t.ne[0];
    m.data = t.data;
    m.data_bytes = size_t(t.bytes);
    m.owner = w_.owner;
    return m;
  }

  // The tensor's values as f16: a view of the map if it is F16 and 2-byte
  // aligned, else a decoded copy (noted under `what` unless it was F16).
  const f16* halves(const GgufTensor& t, const char* what) {
    if (t.type == GgmlType::f16 && reinterpret_cast<uintptr_t>(t.data) % alignof(f16) == 0)
      return reinterpret_cast<const f16*>(t.data);
    const int64_t n = t.numel();
    auto store = std::make_shared<std::vector<f16>>(size_t(n));
    f16* out = store->data();
    switch (t.type) {
      case GgmlType::f16:
        std::memcpy(out, t.data, size_t(n) * 2);
        break;
      case GgmlType::bf16:
        for (int64_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, t.data + 2 * i, 2);
          out[i] = to_f16(bits_to_f32(uint32_t(h) << 16));
        }
        break;
      case GgmlType::f32:
        for (int64_t i = 0; i < n; ++i) {
          float v;
          std::memcpy(&v, t.data + 4 * i, 4);
          out[i] = to_f16(v);
        }
        break;
      case GgmlType::q4_k:
      case GgmlType::q6_k:
      case GgmlType::q8_0: {
        const Matrix m = view(t, format_of(t.type));
        std::vector<float> row(size_t(m.K));
        for (int64_t r = 0; r < m.M; ++r) {
          blocks::dequantize_row(m, r, row.data());
          for (int64_t k = 0; k < m.K; ++k) out[r * m.K + k] = to_f16(row[size_t(k)]);
        }
        break;
      }
    }
    if (t.type != GgmlType::f16)
      converted_[fmt::format("{} {} converted to F16 (round to nearest even)", ggml_type_name(t.type), what)]
          .push_back(t.name);
    w_.converted.push_back(store);
    return out;
  }

  void need_float(const GgufTensor& t, const char* kind) const {
    if (t.type != GgmlType::f32 && t.type != GgmlType::f16 && t.type != GgmlType::bf16)
      fail(f_.path(), fmt::format("tensor '{}' is {}, expected F32, F16 or BF16 for a {}", t.name,
                                  ggml_type_name(t.type), kind));
  }

  void vector(const Rwkv7GgufTensor& e, const GgufTensor& t) {
    need_float(t, "weight vector");
    w_.vectors[e.st[0]] = WeightVector{halves(t, "vectors"), Shape(w_.config.C)};
  }

  void lerp_fused(const Rwkv7GgufTensor& e, const GgufTensor& t) {
    need_float(t, "weight vector");
    const f16* all = halves(t, "vectors");
    for (size_t slot = 0; slot < e.st.size(); ++slot)
      w_.vectors[e.st[slot]] = WeightVector{all + int64_t(slot) * w_.config.C, Shape(w_.config.C)};
  }

  void matrix(const Rwkv7GgufTensor& e, const GgufTensor& t) {
    Matrix m;
    if (is_quantized(t.type) ||
        (t.type == GgmlType::f16 && reinterpret_cast<uintptr_t>(t.data) % alignof(f16) == 0)) {
      m = view(t, format_of(t.type));
    } else {
      m = view(t, WeightFormat::fp16);
      m.data = reinterpret_cast<const uint8_t*>(halves(t, "matrices"));
      m.data_bytes = size_t(t.numel()) * 2;
    }
    try {
      blocks::validate_matrix(m, e.name.c_str());
    } catch (const std::invalid_argument& ex) {
      fail(f_.path(), ex.what());
    }
    w_.matrices[e.st[0]] = m;
  }

  void embedding(const Rwkv7GgufTensor& e, const GgufTensor& t) {
    // The executor gathers f16 rows: a quantised embedding is decoded once.
    w_.vectors[e.st[0]] = WeightVector{halves(t, "token embedding"), Shape(w_.config.C, w_.config.V)};
    if (is_quantized(t.type)) w_.originals[e.st[0]] = view(t, format_of(t.type));
  }

  const GgufFile& f_;
  Rwkv7Weights& w_;
  std::set<std::string> used_;
  std::map<std::string, std::vector<std::string>> converted_;  // note -> tensors
};

}  // namespace

Rwkv7Weights load_rwkv7_gguf(const std::string& path) { return rwkv7_from_gguf(GgufFile::open(path)); }

Rwkv7Weights rwkv7_from_gguf(const GgufFile& f) {
  Rwkv7Weights w;
  w.path = f.path();
  w.format = "gguf";
  w.owner = f.owner();
  w.config = config_from_metadata(f);
  if (auto it = f.metadata().find("rwkv7.attention.layer_norm_epsilon"); it != f.metadata().end()) {
    const double eps = it->second.type == GgufValueType::f32 ? std::get<double>(it->second.v) : -1;
    if (eps != double(1e-5f))
      w.notes.push_back(fmt::format("rwkv7.attention.layer_norm_epsilon is {} ({}); the executor uses 1e-5 as "
                                    "web-rwkv does",
                                    eps, value_type_name(it->second.type)));
  }
  GgufLoader(f, w).load(rwkv7_gguf_layout(w.config, GgufModelType::f16));
  return w;
}

// ---- export ----

namespace {

// Writes the bytes of one layout entry in pieces of about kPiece bytes.
class TensorEmitter {
 public:
  static constexpr size_t kPiece = size_t(4) << 20;

  TensorEmitter(const Rwkv7Weights& w, GgufStreamWriter& out, std::vector<std::string>& notes)
      : w_(w), out_(out), notes_(notes) {}

  void emit(const Rwkv7GgufTensor& e) {
    using S = Rwkv7GgufTensor::Source;
    switch (e.source) {
      case S::vector: vectors(e, {e.st[0]}); return;
      case S::lerp_fused: vectors(e, e.st); return;
      case S::matrix: matrix(e, w_.matrix(e.st[0])); return;
      case S::embedding: embedding(e); return;
    }
  }

  // Throws before anything is written if `e` cannot be produced from `w`.
  static void check(const Rwkv7Weights& w, const Rwkv7GgufTensor& e) {
    using S = Rwkv7GgufTensor::Source;
    if (e.source == S::vector || e.source == S::lerp_fused) {
      for (const std::string& n : e.st)
        if (w.vector(n).shape.numel() != w.config.C)
          throw std::invalid_argument(fmt::format("{}: weight vector '{}' has {} values, expected C = {}", w.path, n,
                                                  w.vector(n).shape.numel(), w.config.C));
      return;
    }
    if (e.source == S::embedding) {
      if (w.vector(e.st[0]).shape != Shape(w.config.C, w.config.V))
        throw std::invalid_argument(fmt::format("{}: emb.weight is not [C, V] = [{}, {}]", w.path, w.config.C, w.config.V));
      auto it = w.originals.find(e.st[0]);
      if (it != w.originals.end()) requantize_check(w, e, it->second.format);
      return;
    }
    const Matrix& m = w.matrix(e.st[0]);
    if (m.K != e.ne[0] || m.M != e.ne[1])
      throw std::invalid_argument(fmt::format("{}: matrix '{}' is [K = {}, M = {}], expected [{}, {}] for '{}'", w.path,
                                              e.st[0], m.K, m.M, e.ne[0], e.ne[1], e.name));
    if (m.format != WeightFormat::fp16 && m.format != WeightFormat::q4_k && m.format != WeightFormat::q6_k &&
        m.format != WeightFormat::q8_0)
      throw std::invalid_argument(fmt::format("{}: matrix '{}' is {}, which GGUF cannot hold", w.path, e.st[0],
                                              format_name(m.format)));
    if (m.format != WeightFormat::fp16) requantize_check(w, e, m.format);
  }

 private:
  static void requantize_check(const Rwkv7Weights& w, const Rwkv7GgufTensor& e, WeightFormat have) {
    if (is_quantized(e.type) && ggml_of(have) != e.type)
      throw std::invalid_argument(fmt::format(
          "{}: '{}' is stored {}; requantising it to {} is refused (llama-quantize refuses it too without "
          "--allow-requantize): start from the f16 model",
          w.path, e.st[0], ggml_type_name(ggml_of(have)), ggml_type_name(e.type)));
  }

  void put(const void* p, size_t n) { out_.write(std::span(static_cast<const uint8_t*>(p), n)); }

  // Rows of f32 values (K each) as `type`: F32, F16 or quantised by row.
  void put_rows(GgmlType type, const float* x, int64_t rows, int64_t K) {
    const size_t row_bytes = size_t(ggml_type_bytes(type, uint64_t(K)));
    buf_.resize(row_bytes * size_t(rows));
    uint8_t* o = buf_.data();
    // Rows are independent outputs: OpenMP splits them (schedule static), the
    // bytes are those of one thread.
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * K;
      uint8_t* orow = o + size_t(r) * row_bytes;
      switch (type) {
        case GgmlType::f32: std::memcpy(orow, xr, size_t(K) * 4); break;
        case GgmlType::f16:
          for (int64_t k = 0; k < K; ++k) {
            const uint16_t h = f32_to_f16_bits(xr[k]);
            std::memcpy(orow + 2 * k, &h, 2);
          }
          break;
        case GgmlType::q4_k: quantize_row_q4_k(xr, K, orow); break;
        case GgmlType::q6_k: quantize_row_q6_k(xr, K, orow); break;
        case GgmlType::q8_0: quantize_row_q8_0(xr, K, orow); break;
        case GgmlType::bf16: break;  // never written
      }
    }
    put(buf_.data(), buf_.size());
  }

  void vectors(const Rwkv7GgufTensor& e, const std::vector<std::string>& names) {
    for (const std::string& n : names) {
      const WeightVector& v = w_.vector(n);
      rows_.resize(size_t(w_.config.C));
      for (int64_t i = 0; i < w_.config.C; ++i) rows_[size_t(i)] = to_f32(v.data[i]);
      put_rows(e.type, rows_.data(), 1, w_.config.C);
    }
  }

  // Rows of a Matrix as `e.type`; the same format is copied byte for byte.
  void matrix(const Rwkv7GgufTensor& e, const Matrix& m) {
    if (ggml_of(m.format) == e.type) {
      for (size_t done = 0; done < m.data_bytes; done += kPiece) put(m.data + done, std::min(kPiece, m.data_bytes - done));
      return;
    }
    if (m.format != WeightFormat::fp16)
      note(fmt::format("{} decoded to {}", ggml_type_name(ggml_of(m.format)), ggml_type_name(e.type)), e.name);
    const int64_t per = std::max<int64_t>(1, int64_t(kPiece / (size_t(m.K) * 4)));
    rows_.resize(size_t(per * m.K));
    for (int64_t r0 = 0; r0 < m.M; r0 += per) {
      const int64_t n = std::min(per, m.M - r0);
      for (int64_t r = 0; r < n; ++r) {
        float* dst = rows_.data() + r * m.K;
        if (m.format == WeightFormat::fp16) {
          const f16* src = m.fp16_row(r0 + r);
          for (int64_t k = 0; k < m.K; ++k) dst[k] = to_f32(src[k]);
        } else {
          blocks::dequantize_row(m, r0 + r, dst);
        }
      }
      put_rows(e.type, rows_.data(), n, m.K);
    }
  }

  void embedding(const Rwkv7GgufTensor& e) {
    if (auto it = w_.originals.find(e.st[0]); it != w_.originals.end() && ggml_of(it->second.format) == e.type)
      return matrix(e, it->second);  // the file's own bytes, not a second quantisation
    const WeightVector& v = w_.vector(e.st[0]);
    Matrix m;
    m.format = WeightFormat::fp16;
    m.K = w_.config.C;
    m.M = w_.config.V;
    m.data = reinterpret_cast<const uint8_t*>(v.data);
    m.data_bytes = size_t(m.K * m.M) * 2;
    matrix(e, m);
  }

  void note(const std::string& what, const std::string& name) {
    const std::string line = fmt::format("{}: {}", what, name);
    if (std::find(notes_.begin(), notes_.end(), line) == notes_.end()) notes_.push_back(line);
  }

  const Rwkv7Weights& w_;
  GgufStreamWriter& out_;
  std::vector<std::string>& notes_;
  std::vector<float> rows_;
  std::vector<uint8_t> buf_;
};

}  // namespace

GgufExportResult write_rwkv7_gguf(const Rwkv7Weights& w, const std::string& path, const GgufExportOptions& opt) {
  const std::vector<Rwkv7GgufTensor> layout = rwkv7_gguf_layout(w.config, opt.type);
  GgufExportResult result;
  std::vector<GgufTensorInfo> infos;
  for (const Rwkv7GgufTensor& e : layout) {
    TensorEmitter::check(w, e);  // every problem is found before the file is created
    infos.push_back({e.name, e.ne, e.type});
    if (!e.note.empty()) result.notes.push_back(fmt::format("{}: {}", e.name, e.note));
  }
  GgufStreamWriter out(path, rwkv7_gguf_metadata(w.config, opt.type, opt.name), std::move(infos), opt.force);
  TensorEmitter emit(w, out, result.notes);
  for (const Rwkv7GgufTensor& e : layout) emit.emit(e);
  out.finish();
  result.file_bytes = out.file_bytes();
  return result;
}

}  // namespace rwkv
