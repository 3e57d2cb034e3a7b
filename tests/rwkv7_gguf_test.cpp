// RWKV-7 as llama.cpp's GGUF: the f16 export of a synthetic model loads to
// the same weights as its .st (so the forward pass gives the same logits, bit
// for bit), quantised matrices are the bytes our llama.cpp-exact quantisers
// write, the file meets what llama.cpp's rwkv7 loader requires (a table
// transcribed from llama.cpp's sources), and every broken file is refused
// with an error naming the file, the tensor or key and what was expected.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/formats/quantize_matrix.h"
#include "reference/forward/executor.h"
#include "reference/model/gguf.h"
#include "reference/model/gguf_writer.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/synth.h"
#include "tests/support/expect_error.h"

namespace rwkv {
namespace {

namespace fs = std::filesystem;
using test::expect_file_error;

// A folder of this test's files, removed at exit.
struct TempDir {
  fs::path dir;
  TempDir() : dir(fs::temp_directory_path() / ("rwkv7_gguf_test_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

const TempDir& temp() {
  static TempDir d;
  return d;
}

constexpr uint64_t kSeed = 11;

// The tiny synthetic model as .st and as GGUF of each type (written once).
const std::string& tiny(const std::string& kind) {
  static std::map<std::string, std::string> paths;
  auto it = paths.find(kind);
  if (it != paths.end()) return it->second;
  const std::string p = temp() / ("tiny_" + kind + (kind == "st" ? ".st" : ".gguf"));
  const plan::ModelConfig c = plan::preset("tiny");
  if (kind == "st") synth_safetensors(c, kSeed, p, false);
  else synth_gguf(c, kSeed, p, parse_gguf_model_type(kind), false);
  return paths[kind] = p;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void spit(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<float> f32_of(const f16* p, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = to_f32(p[i]);
  return v;
}

// ---- round trip ----

TEST(Rwkv7Gguf, F16ExportLoadsToTheSameWeightsAsTheSt) {
  const Rwkv7Weights st = load_rwkv7_safetensors(tiny("st"));
  const Rwkv7Weights gg = load_rwkv7_gguf(tiny("f16"));
  EXPECT_EQ(gg.format, "gguf");
  EXPECT_EQ(st.format, "st");
  const plan::ModelConfig &a = st.config, &b = gg.config;
  EXPECT_EQ(std::vector<int64_t>({a.L, a.C, a.N, a.V, a.F, a.Dw, a.Da, a.Dv, a.Dg}),
            std::vector<int64_t>({b.L, b.C, b.N, b.V, b.F, b.Dw, b.Da, b.Dv, b.Dg}));
  ASSERT_EQ(st.vectors.size(), gg.vectors.size());
  for (const auto& [name, v] : st.vectors) {
    ASSERT_TRUE(gg.vectors.count(name)) << name;
    const WeightVector& g = gg.vectors.at(name);
    ASSERT_EQ(g.shape, v.shape) << name;
    EXPECT_EQ(0, std::memcmp(g.data, v.data, size_t(v.shape.numel()) * 2)) << name;
  }
  ASSERT_EQ(st.matrices.size(), gg.matrices.size());
  for (const auto& [name, m] : st.matrices) {
    ASSERT_TRUE(gg.matrices.count(name)) << name;
    const Matrix& g = gg.matrices.at(name);
    EXPECT_EQ(g.format, WeightFormat::fp16) << name;
    ASSERT_EQ(g.K, m.K) << name;
    ASSERT_EQ(g.M, m.M) << name;
    EXPECT_EQ(0, std::memcmp(g.data, m.data, m.data_bytes)) << name;
  }
  // The converter's F32 vectors and time_mix_w1/w2 are converted, with notes.
  ASSERT_EQ(gg.notes.size(), 2u);
  EXPECT_NE(gg.notes[0].find("F32 matrices converted to F16"), std::string::npos) << gg.notes[0];
  EXPECT_NE(gg.notes[0].find("blk.*.time_mix_w1.weight (layers 0-1)"), std::string::npos) << gg.notes[0];
  EXPECT_NE(gg.notes[1].find("F32 vectors converted to F16"), std::string::npos) << gg.notes[1];
  // F16 tensors are views of the map; only the converted ones are copies.
  auto copied = [&](const void* p) {
    for (const auto& store : gg.converted)
      if (p >= static_cast<const void*>(store->data()) && p < static_cast<const void*>(store->data() + store->size()))
        return true;
    return false;
  };
  EXPECT_FALSE(copied(gg.matrix("blocks.1.att.key.weight").data));
  EXPECT_FALSE(copied(gg.vector("emb.weight").data));
  EXPECT_TRUE(copied(gg.matrix("blocks.1.att.w1").data));   // F32 in the file
  EXPECT_TRUE(copied(gg.vector("blocks.1.att.x_g").data));  // time_mix_lerp_fused slot 5, F32
}

TEST(Rwkv7Gguf, ForwardPassOnStAndGgufIsBitIdentical) {
  const Rwkv7Weights st = load_rwkv7(tiny("st"));
  const Rwkv7Weights gg = load_rwkv7(tiny("f16"));
  for (DType act : {DType::f32, DType::f16}) {
    forward::Executor xs(st, {act, kDecayWebRwkv, true}), xg(gg, {act, kDecayWebRwkv, true});
    for (uint32_t tok : {1u, 500u, 17u}) {
      const std::vector<float> ls = xs.step(std::span(&tok, 1)), lg = xg.step(std::span(&tok, 1));
      ASSERT_EQ(ls.size(), lg.size());
      EXPECT_EQ(0, std::memcmp(ls.data(), lg.data(), ls.size() * 4)) << dtype_name(act) << " token " << tok;
    }
    const std::vector<uint32_t> chunk(32, 7);
    const std::vector<float> ls = xs.step(chunk), lg = xg.step(chunk);
    EXPECT_EQ(0, std::memcmp(ls.data(), lg.data(), ls.size() * 4)) << dtype_name(act) << " chunk";
  }
}

TEST(Rwkv7Gguf, LoadRwkv7ChoosesTheReaderByMagicNotByName) {
  const std::string disguised = temp() / "really_a_gguf.st";
  fs::copy_file(tiny("f16"), disguised, fs::copy_options::overwrite_existing);
  EXPECT_EQ(load_rwkv7(disguised).format, "gguf");
  EXPECT_EQ(load_rwkv7(tiny("st")).format, "st");
  expect_file_error([&] { load_rwkv7(temp() / "absent.gguf"); }, "absent.gguf", "cannot open");
}

TEST(Rwkv7Gguf, SynthGgufLeavesNoTemporaryFileAndKeepsSeedDeterminism) {
  const plan::ModelConfig c = plan::preset("tiny");
  const std::string a = temp() / "det_a.gguf", b = temp() / "det_b.gguf";
  synth_gguf(c, 3, a, GgufModelType::q4_k, false);
  synth_gguf(c, 3, b, GgufModelType::q4_k, false);
  EXPECT_EQ(slurp(a), slurp(b));
  for (const auto& e : fs::directory_iterator(temp().dir))
    EXPECT_EQ(e.path().string().find(".synth"), std::string::npos) << e.path();
  EXPECT_THROW(synth_gguf(c, 3, a, GgufModelType::f16, false), std::runtime_error);  // exists
}

// ---- quantised files ----

// Our weights as f32 rows [M][K] (fp16 matrices and the f16 embedding).
std::vector<float> rows_f32(const Rwkv7Weights& w, const Rwkv7GgufTensor& e) {
  if (e.source == Rwkv7GgufTensor::Source::embedding)
    return f32_of(w.vector("emb.weight").data, w.config.C * w.config.V);
  const Matrix& m = w.matrix(e.st[0]);
  return f32_of(reinterpret_cast<const f16*>(m.data), m.K * m.M);
}

TEST(Rwkv7Gguf, QuantisedMatricesAreTheBytesOfQuantizeMatrix) {
  const Rwkv7Weights st = load_rwkv7_safetensors(tiny("st"));
  for (const char* kind : {"q4_k", "q6_k", "q8_0"}) {
    const GgufModelType type = parse_gguf_model_type(kind);
    const GgufFile f = GgufFile::open(tiny(kind));
    size_t quantised = 0;
    for (const Rwkv7GgufTensor& e : rwkv7_gguf_layout(st.config, type)) {
      const GgufTensor& t = f.get(e.name);
      EXPECT_EQ(t.type, e.type) << kind << " " << e.name;
      if (t.type != GgmlType::q4_k && t.type != GgmlType::q6_k && t.type != GgmlType::q8_0) continue;
      ++quantised;
      const WeightFormat fmt = t.type == GgmlType::q4_k ? WeightFormat::q4_k
                               : t.type == GgmlType::q6_k ? WeightFormat::q6_k
                                                          : WeightFormat::q8_0;
      const std::vector<float> x = rows_f32(st, e);
      const Matrix want = quantize_matrix(fmt, x.data(), e.ne[0], e.ne[1]);
      ASSERT_EQ(t.bytes, want.data_bytes) << kind << " " << e.name;
      EXPECT_EQ(0, std::memcmp(t.data, want.data, want.data_bytes)) << kind << " " << e.name;
    }
    // token_embd, output and 6 matrices per layer.
    EXPECT_EQ(quantised, size_t(2 + 6 * st.config.L)) << kind;
  }
}

TEST(Rwkv7Gguf, QuantisedModelLoadsAsViewsAndItsForwardPassIsCloseToF16) {
  const Rwkv7Weights f16m = load_rwkv7_gguf(tiny("f16"));
  const Rwkv7Weights q4 = load_rwkv7_gguf(tiny("q4_k"));
  EXPECT_EQ(q4.matrix("blocks.0.att.key.weight").format, WeightFormat::q4_k);
  EXPECT_EQ(q4.matrix("head.weight").format, WeightFormat::q6_k);  // llama-quantize's output rule
  EXPECT_EQ(q4.matrix("blocks.0.att.a1").format, WeightFormat::fp16);
  ASSERT_TRUE(q4.originals.count("emb.weight"));
  EXPECT_EQ(q4.originals.at("emb.weight").format, WeightFormat::q4_k);
  bool noted = false;
  for (const std::string& n : q4.notes) noted = noted || n.find("Q4_K token embedding converted to F16") != std::string::npos;
  EXPECT_TRUE(noted);
  // Quantisation error grows as bits shrink; logits stay finite and close.
  auto compare = [&](const Rwkv7Weights& q, double* worst, int* top_agree) {
    forward::Executor xf(f16m), xq(q);
    *worst = 0;
    *top_agree = 0;
    for (uint32_t tok : {1u, 500u, 17u, 3u, 999u, 42u, 256u, 64u}) {
      const std::vector<float> a = xf.step(std::span(&tok, 1)), b = xq.step(std::span(&tok, 1));
      double num = 0, den = 0;
      size_t ia = 0, ib = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_TRUE(std::isfinite(b[i])) << "token " << tok << " logit " << i;
        num += (a[i] - b[i]) * double(a[i] - b[i]);
        den += double(a[i]) * a[i];
        if (a[i] > a[ia]) ia = i;
        if (b[i] > b[ib]) ib = i;
      }
      *worst = std::max(*worst, std::sqrt(num / den));
      *top_agree += ia == ib;
    }
  };
  std::map<std::string, double> worst;
  for (const char* kind : {"q8_0", "q6_k", "q4_k"}) {
    int agree = 0;
    compare(kind == std::string("q4_k") ? q4 : load_rwkv7_gguf(tiny(kind)), &worst[kind], &agree);
    std::printf("[%s vs f16] worst relative RMS logit difference over 8 steps %.4f, top-1 agreement %d/8\n", kind,
                worst[kind], agree);
    EXPECT_GE(agree, kind == std::string("q4_k") ? 5 : 7) << kind;
  }
  EXPECT_GT(worst["q8_0"], 0.0);  // the quantised matrices were used
  EXPECT_LT(worst["q8_0"], 0.02);
  EXPECT_LT(worst["q8_0"], worst["q6_k"]);
  EXPECT_LT(worst["q6_k"], worst["q4_k"]);
  EXPECT_LT(worst["q4_k"], 0.3);
}

TEST(Rwkv7Gguf, QuantizingAQuantisedFileKeepsItsBytesAndRefusesAnotherType) {
  const Rwkv7Weights q4 = load_rwkv7_gguf(tiny("q4_k"));
  const std::string again = temp() / "again_q4.gguf";
  GgufExportOptions opt;
  opt.type = GgufModelType::q4_k;
  opt.name = "rwkv-oracle synthetic tiny seed 11";  // synth_gguf's name, so the metadata matches too
  write_rwkv7_gguf(q4, again, opt);
  EXPECT_EQ(slurp(again), slurp(tiny("q4_k")));  // the same file, byte for byte
  opt.type = GgufModelType::q8_0;
  const std::string other = temp() / "q4_to_q8.gguf";
  test::expect_error([&] { write_rwkv7_gguf(q4, other, opt); }, "requantising", "Q4_K", "Q8_0", "f16 model");
  EXPECT_FALSE(fs::exists(other));
  // Decoding back to f16 is allowed and says so.
  opt.type = GgufModelType::f16;
  const GgufExportResult r = write_rwkv7_gguf(q4, temp() / "q4_to_f16.gguf", opt);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("Q4_K decoded to F16"), std::string::npos) << r.notes[0];
}

// ---- what llama.cpp requires ----

// Every tensor llama_model_rwkv7::load_arch_tensors creates (src/models/rwkv7.cpp;
// src/llama-model.cpp in older trees), all required (flag 0), with its ne.
// Layer 0's v1/v2 have the iclr rank ("actually not used"). llama.cpp's
// loader also requires that the file has no other tensor (done_getting_tensors:
// "wrong number of tensors").
std::map<std::string, std::vector<int64_t>> llama_cpp_rwkv7_tensors(const plan::ModelConfig& c) {
  const int64_t C = c.C, V = c.V, F = c.F;
  std::map<std::string, std::vector<int64_t>> t = {
      {"token_embd.weight", {C, V}},   {"token_embd_norm.weight", {C}}, {"token_embd_norm.bias", {C}},
      {"output_norm.weight", {C}},     {"output_norm.bias", {C}},       {"output.weight", {C, V}},
  };
  for (int64_t l = 0; l < c.L; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const int64_t vr = l == 0 ? c.Da : c.Dv;
    for (const char* n : {"attn_norm.weight", "attn_norm.bias", "attn_norm_2.weight", "attn_norm_2.bias",
                          "time_mix_w0.weight", "time_mix_a0.weight", "time_mix_v0.weight", "time_mix_k_k.weight",
                          "time_mix_k_a.weight", "time_mix_r_k.weight", "time_mix_ln.weight", "time_mix_ln.bias"})
      t[b + n] = {C};
    t[b + "time_mix_w1.weight"] = {C, c.Dw};
    t[b + "time_mix_w2.weight"] = {c.Dw, C};
    t[b + "time_mix_a1.weight"] = {C, c.Da};
    t[b + "time_mix_a2.weight"] = {c.Da, C};
    t[b + "time_mix_v1.weight"] = {C, vr};
    t[b + "time_mix_v2.weight"] = {vr, C};
    t[b + "time_mix_g1.weight"] = {C, c.Dg};
    t[b + "time_mix_g2.weight"] = {c.Dg, C};
    t[b + "time_mix_lerp_fused.weight"] = {C, 1, 1, 6};
    for (const char* n : {"time_mix_key.weight", "time_mix_value.weight", "time_mix_receptance.weight",
                          "time_mix_output.weight"})
      t[b + n] = {C, C};
    t[b + "channel_mix_lerp_k.weight"] = {C, 1, 1};
    t[b + "channel_mix_key.weight"] = {C, F};
    t[b + "channel_mix_value.weight"] = {F, C};
  }
  return t;
}

// ggml pads shapes to 4 dimensions with 1s; llama.cpp compares all four.
std::vector<int64_t> padded(std::vector<int64_t> ne) {
  ne.resize(4, 1);
  return ne;
}

struct Key {
  const char* key;
  GgufValueType type;
  bool required;
  const char* source;
};

// The keys llama.cpp reads for rwkv7 and the exact type its GGUFMeta checks.
const Key kLlamaCppKeys[] = {
    {"general.architecture", GgufValueType::string, true, "src/llama-model-loader.cpp (arch name)"},
    {"rwkv7.context_length", GgufValueType::u32, true, "src/llama-model.cpp load_hparams"},
    {"rwkv7.embedding_length", GgufValueType::u32, true, "src/llama-model.cpp load_hparams"},
    {"rwkv7.block_count", GgufValueType::u32, true, "src/llama-model.cpp load_hparams"},
    {"rwkv7.feed_forward_length", GgufValueType::u32, true, "src/llama-model.cpp (n_ff sizes channel_mix_key)"},
    {"rwkv7.attention.head_count", GgufValueType::u32, false, "src/llama-model.cpp; the converter writes 0"},
    {"rwkv7.attention.layer_norm_epsilon", GgufValueType::f32, false, "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.wkv.head_size", GgufValueType::u32, true, "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.attention.decay_lora_rank", GgufValueType::u32, true, "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.attention.iclr_lora_rank", GgufValueType::u32, true, "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.attention.value_residual_mix_lora_rank", GgufValueType::u32, true,
     "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.attention.gate_lora_rank", GgufValueType::u32, false, "src/models/rwkv7.cpp load_arch_hparams"},
    {"rwkv7.token_shift_count", GgufValueType::u32, false, "src/models/rwkv7.cpp (graph asserts 2)"},
    {"tokenizer.ggml.model", GgufValueType::string, true, "src/llama-vocab.cpp load"},
    {"tokenizer.ggml.tokens", GgufValueType::array, true, "src/llama-vocab.cpp ('cannot find tokenizer vocab')"},
    {"tokenizer.ggml.token_type", GgufValueType::array, false, "src/llama-vocab.cpp (read as int32)"},
    {"tokenizer.ggml.bos_token_id", GgufValueType::u32, false, "src/llama-vocab.cpp special tokens"},
    {"tokenizer.ggml.eos_token_id", GgufValueType::u32, false, "src/llama-vocab.cpp special tokens"},
    {"general.file_type", GgufValueType::u32, false, "src/llama-model-loader.cpp; llama-quantize sets it"},
};

// llama_unescape_rwkv_token (src/llama-vocab.cpp), transcribed.
std::string rwkv_unescape(const std::string& s) {
  std::string out;
  bool esc = false;
  int hex = 0;
  uint8_t acc = 0;
  for (char ch : s) {
    if (hex) {
      acc = uint8_t(acc * 16 + (ch >= 'a' ? ch - 'a' + 10 : ch - '0'));
      if (--hex == 0) out.push_back(char(acc)), acc = 0;
    } else if (esc) {
      if (ch == 't') out.push_back('\t');
      else if (ch == 'n') out.push_back('\n');
      else if (ch == 'r') out.push_back('\r');
      else if (ch == 'x') hex = 2;
      else out.push_back(ch);
      esc = false;
    } else if (ch == '\\') {
      esc = true;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// What llama-quantize / the converter give each tensor of RWKV-7:
// src/llama-quant.cpp tensor_allows_quantization (only >= 2-D "*weight"
// tensors; RWKV's "small yet 2D" time_mix_w0..g2 and time_mix_lerp_fused
// never), llama_tensor_get_type_impl (output.weight -> Q6_K unless the mix is
// Q8_0; llama-quantize's "Q4_K" is Q4_K_M); convert_hf_to_gguf.py /
// conversion/base.py (1-D tensors and time_mix_w1/w2/lerp_fused F32, other
// matrices F16).
GgmlType llama_type(const std::string& name, size_t n_dims, GgufModelType t) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  const bool forced_f32 = has("time_mix_w1.") || has("time_mix_w2.") || has("time_mix_lerp_fused.");
  if (n_dims <= 1 || forced_f32) return GgmlType::f32;
  const bool small_2d = has("time_mix_a1.") || has("time_mix_a2.") || has("time_mix_v1.") || has("time_mix_v2.") ||
                        has("time_mix_g1.") || has("time_mix_g2.");
  if (small_2d || t == GgufModelType::f16) return GgmlType::f16;
  if (name == "output.weight") return t == GgufModelType::q8_0 ? GgmlType::q8_0 : GgmlType::q6_k;
  return t == GgufModelType::q4_k ? GgmlType::q4_k : t == GgufModelType::q6_k ? GgmlType::q6_k : GgmlType::q8_0;
}

TEST(Rwkv7Gguf, FilesMeetLlamaCppsRequirements) {
  const plan::ModelConfig c = plan::preset("tiny");
  const auto want = llama_cpp_rwkv7_tensors(c);
  for (const char* kind : {"f16", "q4_k", "q6_k", "q8_0"}) {
    SCOPED_TRACE(kind);
    const GgufModelType type = parse_gguf_model_type(kind);
    const GgufFile f = GgufFile::open(tiny(kind));
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);  // GGUF_DEFAULT_ALIGNMENT, no general.alignment key
    // Tensors: exactly llama.cpp's set, each with its shape and type.
    EXPECT_EQ(f.tensors().size(), want.size());
    for (const auto& [name, ne] : want) {
      ASSERT_TRUE(f.has(name)) << name;
      const GgufTensor& t = f.get(name);
      EXPECT_EQ(padded(t.ne), padded(ne)) << name;
      EXPECT_EQ(t.type, llama_type(name, t.ne.size(), type)) << name;
    }
    // ggml's gguf reader (ggml/src/gguf.cpp) requires each tensor's offset to
    // be the padded sum of those before it, in info order.
    std::vector<const GgufTensor*> order(f.tensors().size());
    for (const auto& [name, t] : f.tensors()) order.at(t.index) = &t;
    uint64_t offset = 0;
    for (const GgufTensor* t : order) {
      EXPECT_EQ(t->offset, offset) << t->name;
      offset += (t->bytes + 31) / 32 * 32;
    }
    // Keys: present where required, with the type llama.cpp reads.
    for (const Key& k : kLlamaCppKeys) {
      auto it = f.metadata().find(k.key);
      if (it == f.metadata().end()) {
        EXPECT_FALSE(k.required) << k.key << " (" << k.source << ")";
        continue;
      }
      EXPECT_EQ(it->second.type, k.type) << k.key << " (" << k.source << ")";
    }
    EXPECT_EQ(f.get_string("general.architecture"), "rwkv7");
    EXPECT_EQ(f.get_uint("general.file_type"), llama_file_type(type));
    EXPECT_EQ(f.get_uint("rwkv7.block_count"), uint64_t(c.L));
    EXPECT_EQ(f.get_uint("rwkv7.embedding_length"), uint64_t(c.C));
    EXPECT_EQ(f.get_uint("rwkv7.feed_forward_length"), uint64_t(c.F));
    EXPECT_EQ(f.get_uint("rwkv7.wkv.head_size"), uint64_t(c.N));
    EXPECT_EQ(f.get_uint("rwkv7.attention.decay_lora_rank"), uint64_t(c.Dw));
    EXPECT_EQ(f.get_uint("rwkv7.attention.iclr_lora_rank"), uint64_t(c.Da));
    EXPECT_EQ(f.get_uint("rwkv7.attention.value_residual_mix_lora_rank"), uint64_t(c.Dv));
    EXPECT_EQ(f.get_uint("rwkv7.attention.gate_lora_rank"), uint64_t(c.Dg));
    EXPECT_EQ(f.get_uint("rwkv7.token_shift_count"), 2u);
    EXPECT_EQ(f.get_uint("rwkv7.attention.head_count"), 0u);
    // The vocabulary: llama.cpp's "rwkv" tokenizer, V unique tokens (it
    // asserts id_to_token.size() == token_to_id.size()), int32 types, and a
    // token for "\n" (it asserts the newline tokenizes).
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "rwkv");
    const GgufValue& tokens = f.metadata().at("tokenizer.ggml.tokens");
    const GgufValue& types = f.metadata().at("tokenizer.ggml.token_type");
    EXPECT_EQ(tokens.elem, GgufValueType::string);
    EXPECT_EQ(types.elem, GgufValueType::i32);
    const auto& list = *std::get<std::shared_ptr<GgufArray>>(tokens.v);
    ASSERT_EQ(int64_t(list.size()), c.V);
    EXPECT_EQ(int64_t(std::get<std::shared_ptr<GgufArray>>(types.v)->size()), c.V);
    std::set<std::string> texts, bytes;
    for (const GgufValue& t : list) {
      const std::string& s = std::get<std::string>(t.v);
      EXPECT_FALSE(s.empty());
      texts.insert(s);
      bytes.insert(rwkv_unescape(s));
    }
    EXPECT_EQ(int64_t(texts.size()), c.V);
    EXPECT_EQ(int64_t(bytes.size()), c.V);
    EXPECT_TRUE(bytes.count("\n"));
    EXPECT_EQ(rwkv_unescape(std::get<std::string>(list[11].v)), "\n");  // byte 10 at id 11, as RWKV World
    EXPECT_LT(f.get_uint("tokenizer.ggml.bos_token_id"), uint64_t(c.V));
    EXPECT_LT(f.get_uint("tokenizer.ggml.eos_token_id"), uint64_t(c.V));
  }
}

TEST(Rwkv7Gguf, EveryByteEscapesAndUnescapesAsLlamaCppReadsIt) {
  const SyntheticVocab v = synthetic_rwkv_vocab(300);
  ASSERT_EQ(v.tokens.size(), 300u);
  EXPECT_EQ(v.tokens[0], "<s>");
  EXPECT_EQ(v.types[0], 3);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(rwkv_unescape(v.tokens[size_t(b + 1)]), std::string(1, char(b))) << b;
    EXPECT_EQ(v.types[size_t(b + 1)], 1) << b;
  }
  EXPECT_EQ(v.tokens[257], "[PAD257]");
  EXPECT_EQ(v.types[257], 5);
}

TEST(Rwkv7Gguf, FallbacksForRowsThatAreNotWholeBlocksAreNoted) {
  // C = 64: no Q4_K block fits a row; llama-quantize would use Q5_0 (which we
  // do not write): Q8_0, with a note. The output matrix goes to Q8_0 as in llama.cpp.
  plan::ModelConfig c = plan::config_from_formula("narrow", 1, 64, 16);
  for (const Rwkv7GgufTensor& e : rwkv7_gguf_layout(c, GgufModelType::q4_k)) {
    if (e.name == "output.weight") {
      EXPECT_EQ(e.type, GgmlType::q8_0);
      EXPECT_TRUE(e.note.empty()) << e.note;
    } else if (e.name == "blk.0.time_mix_key.weight") {
      EXPECT_EQ(e.type, GgmlType::q8_0);
      EXPECT_NE(e.note.find("Q5_0"), std::string::npos) << e.note;
    }
  }
  c = plan::config_from_formula("odd", 1, 68, 16);  // not a multiple of 32 either: F16
  c.N = 4;
  for (const Rwkv7GgufTensor& e : rwkv7_gguf_layout(c, GgufModelType::q8_0)) {
    if (e.name == "blk.0.time_mix_key.weight") {
      EXPECT_EQ(e.type, GgmlType::f16);
      EXPECT_NE(e.note.find("refuses"), std::string::npos) << e.note;
    }
  }
}

// ---- the streaming writer ----

TEST(GgufStreamWriter, PiecesOfAnySizeGiveTheInMemoryWritersBytes) {
  GgufWriter mem;
  std::vector<GgufKv> kv = {{"general.architecture", GgufValue::str("x")}, {"n", GgufValue::u32(3)}};
  for (const auto& [k, v] : kv) mem.add_kv(k, v);
  std::vector<GgufTensorInfo> infos = {{"a", {256, 2}, GgmlType::q4_k}, {"b", {5}, GgmlType::f32}, {"c", {64, 3}, GgmlType::q8_0}};
  std::vector<std::vector<uint8_t>> data;
  for (const GgufTensorInfo& t : infos) {
    std::vector<uint8_t> d(t.bytes());
    for (size_t i = 0; i < d.size(); ++i) d[i] = uint8_t(i * 7 + t.name[0]);
    mem.add_tensor(t.name, t.ne, t.type, d);
    data.push_back(d);
  }
  const std::string p = temp() / "stream.gguf";
  GgufStreamWriter out(p, kv, infos, false);
  for (const std::vector<uint8_t>& d : data)
    for (size_t i = 0; i < d.size(); i += 13) out.write(std::span(d.data() + i, std::min<size_t>(13, d.size() - i)));
  EXPECT_THROW(out.next(), std::logic_error);
  out.finish();
  EXPECT_EQ(slurp(p), mem.serialize());
  EXPECT_EQ(out.file_bytes(), slurp(p).size());
}

TEST(GgufStreamWriter, RefusesToOverwriteAndLeavesNothingWhenUnfinished) {
  const std::string p = temp() / "keep.gguf";
  spit(p, {'k', 'e', 'e', 'p'});
  const std::vector<GgufTensorInfo> infos = {{"a", {4}, GgmlType::f32}};
  expect_file_error([&] { GgufStreamWriter(p, {}, infos, false); }, p, "already exists", "--force");
  EXPECT_EQ(slurp(p), (std::vector<uint8_t>{'k', 'e', 'e', 'p'}));
  const std::string q = temp() / "unfinished.gguf";
  {
    GgufStreamWriter w(q, {}, infos, false);
    const uint8_t x[8] = {};
    w.write(std::span(x, 8));
    EXPECT_THROW(w.write(std::span(x, 9)), std::logic_error);  // past the tensor's 16 bytes
    EXPECT_THROW(w.finish(), std::logic_error);                // one of one tensors not complete
  }
  EXPECT_FALSE(fs::exists(q));
  for (const auto& e : fs::directory_iterator(temp().dir))
    EXPECT_EQ(e.path().filename().string().find("unfinished.gguf.tmp"), std::string::npos) << e.path();
  expect_file_error([&] { GgufStreamWriter(temp() / "no/such/dir.gguf", {}, infos, false); }, "dir.gguf",
                    "cannot create");
}

// ---- bad files ----

// The tiny f16 GGUF after `edit` changes its key-values and tensors.
struct Doctored {
  std::map<std::string, GgufValue> kv;
  std::map<std::string, std::pair<GgufTensorInfo, std::vector<uint8_t>>> tensors;
};

std::string doctored(const std::string& label, const std::function<void(Doctored&)>& edit) {
  const GgufFile f = GgufFile::open(tiny("f16"));
  Doctored d;
  d.kv = f.metadata();
  for (const auto& [name, t] : f.tensors())
    d.tensors[name] = {GgufTensorInfo{name, t.ne, t.type}, std::vector<uint8_t>(t.data, t.data + t.bytes)};
  edit(d);
  GgufWriter w;
  for (const auto& [k, v] : d.kv) w.add_kv(k, v);
  for (const auto& [name, t] : d.tensors) w.add_tensor(t.first.name, t.first.ne, t.first.type, t.second);
  const std::string p = temp() / ("bad_" + label + ".gguf");
  spit(p, w.serialize());
  return p;
}

auto loads(const std::string& p) {
  return [p] { load_rwkv7_gguf(p); };
}

TEST(Rwkv7GgufErrors, MissingTensorNamesItsGgufAndWebRwkvNamesAndShape) {
  const std::string p = doctored("missing", [](Doctored& d) { d.tensors.erase("blk.1.time_mix_k_a.weight"); });
  expect_file_error(loads(p), p, "'blk.1.time_mix_k_a.weight'", "blocks.1.att.k_a", "is missing", "{256}");
}

TEST(Rwkv7GgufErrors, ExtraTensorIsRefusedByName) {
  const std::string p = doctored("extra", [](Doctored& d) {
    d.tensors["blk.0.time_mix_first.weight"] = {GgufTensorInfo{"blk.0.time_mix_first.weight", {4}, GgmlType::f32},
                                                std::vector<uint8_t>(16)};
  });
  expect_file_error(loads(p), p, "1 unexpected tensor", "'blk.0.time_mix_first.weight'", "rwkv7");
}

TEST(Rwkv7GgufErrors, Layer0PlaceholdersMayBeAbsent) {
  const std::string p = doctored("no_placeholders", [](Doctored& d) {
    for (const char* n : {"blk.0.time_mix_v0.weight", "blk.0.time_mix_v1.weight", "blk.0.time_mix_v2.weight"})
      d.tensors.erase(n);
  });
  EXPECT_NO_THROW(load_rwkv7_gguf(p));
}

TEST(Rwkv7GgufErrors, WrongShapeNamesTensorBothShapesAndTheMetadata) {
  const std::string p = doctored("shape", [](Doctored& d) {
    auto& t = d.tensors.at("blk.0.time_mix_w1.weight");
    t.first.ne = {256, 16};
    t.second.resize(256 * 16 * 4);
  });
  expect_file_error(loads(p), p, "'blk.0.time_mix_w1.weight'", "{256, 16}", "expected {256, 32}", "decay 32");
}

TEST(Rwkv7GgufErrors, QuantisedVectorIsAnUnusableType) {
  const std::string p = doctored("qvector", [](Doctored& d) {
    auto& t = d.tensors.at("blk.0.time_mix_k_k.weight");
    t.first.type = GgmlType::q8_0;
    t.second.assign(8 * 34, 0);
  });
  expect_file_error(loads(p), p, "'blk.0.time_mix_k_k.weight'", "Q8_0", "expected F32, F16 or BF16");
}

TEST(Rwkv7GgufErrors, Bf16AndF32MatricesAreConvertedWithNotes) {
  const std::string p = doctored("bf16", [](Doctored& d) {
    auto& t = d.tensors.at("blk.0.time_mix_key.weight");
    std::vector<uint8_t> out(t.second.size());
    for (size_t i = 0; i < t.second.size() / 2; ++i) {
      uint16_t h;
      std::memcpy(&h, t.second.data() + 2 * i, 2);
      const uint16_t b = uint16_t(f32_to_bits(f16_bits_to_f32(h)) >> 16);  // truncated: only the path is checked
      std::memcpy(out.data() + 2 * i, &b, 2);
    }
    t.second = out;
    t.first.type = GgmlType::bf16;
  });
  const Rwkv7Weights w = load_rwkv7_gguf(p);
  EXPECT_EQ(w.matrix("blocks.0.att.key.weight").format, WeightFormat::fp16);
  bool noted = false;
  for (const std::string& n : w.notes) noted = noted || n.find("BF16 matrices converted to F16") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(Rwkv7GgufErrors, BadMetadataNamesTheKeyAndWhatWasExpected) {
  struct Case {
    const char* label;
    std::function<void(Doctored&)> edit;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases = {
      {"arch", [](Doctored& d) { d.kv["general.architecture"] = GgufValue::str("llama"); },
       {"general.architecture is 'llama'", "expected 'rwkv7'"}},
      {"no_arch", [](Doctored& d) { d.kv.erase("general.architecture"); }, {"'general.architecture'", "missing"}},
      {"no_rank", [](Doctored& d) { d.kv.erase("rwkv7.attention.iclr_lora_rank"); },
       {"'rwkv7.attention.iclr_lora_rank'", "is missing"}},
      {"u64", [](Doctored& d) { d.kv["rwkv7.block_count"] = GgufValue::u64(2); },
       {"'rwkv7.block_count'", "is u64, expected u32"}},
      {"zero", [](Doctored& d) { d.kv["rwkv7.embedding_length"] = GgufValue::u32(0); },
       {"'rwkv7.embedding_length'", "= 0", "expected 1 to"}},
      {"layers", [](Doctored& d) { d.kv["rwkv7.block_count"] = GgufValue::u32(1000000); },
       {"'rwkv7.block_count'", "= 1000000"}},
      {"head", [](Doctored& d) { d.kv["rwkv7.wkv.head_size"] = GgufValue::u32(48); },
       {"dimensions in the metadata are unusable", "C must be a positive multiple of N"}},
      {"shift", [](Doctored& d) { d.kv["rwkv7.token_shift_count"] = GgufValue::u32(1); },
       {"'rwkv7.token_shift_count' = 1", "expected 2"}},
      {"vocab", [](Doctored& d) {
         d.kv["tokenizer.ggml.tokens"] = GgufValue::array(GgufValueType::string, {GgufValue::str("a")});
       },
       {"'tokenizer.ggml.tokens' holds 1 tokens", "V = 1024"}},
      {"no_vocab", [](Doctored& d) { d.kv.erase("tokenizer.ggml.tokens"); },
       {"'tokenizer.ggml.tokens'", "is missing"}},
      {"width", [](Doctored& d) { d.kv["rwkv7.embedding_length"] = GgufValue::u32(512); },
       {"'token_embd.weight' has ne {256, 1024}", "expected {512, 1024}", "C 512"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string p = doctored(c.label, c.edit);
    const std::string what = test::thrown_message<std::runtime_error>(loads(p));
    EXPECT_NE(what.find(p), std::string::npos) << what;
    for (const std::string& n : c.needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' in: " << what;
  }
}

// The byte position of tensor `name`'s info fields in a GGUF image.
size_t info_pos(const std::vector<uint8_t>& img, const std::string& name) {
  const std::string key = std::string(1, char(name.size())) + std::string(7, '\0') + name;
  auto it = std::search(img.begin(), img.end(), key.begin(), key.end());
  EXPECT_NE(it, img.end()) << name;
  return size_t(it - img.begin()) + key.size();  // n_dims follows the name
}

TEST(Rwkv7GgufErrors, BadHeaderUnknownTypeOffsetsAndTruncationNameTheFile) {
  const std::vector<uint8_t> img = slurp(tiny("f16"));
  const std::string name = "blk.1.time_mix_value.weight";  // {256, 256}
  const size_t pos = info_pos(img, name);
  const size_t type_at = pos + 4 + 2 * 8, offset_at = type_at + 4;

  std::vector<uint8_t> b = img;
  b[0] = 'X';
  std::string p = temp() / "bad_magic.gguf";
  spit(p, b);
  // Not "GGUF": load_rwkv7 reads it as safetensors, load_rwkv7_gguf says what it is.
  expect_file_error(loads(p), p, "not a GGUF file");
  expect_file_error([&] { load_rwkv7(p); }, p);

  b = img;
  b[4] = 2;
  p = temp() / "bad_version.gguf";
  spit(p, b);
  expect_file_error(loads(p), p, "GGUF version 2", "expected 3");

  b = img;
  b[type_at] = 2;  // Q4_0
  p = temp() / "bad_type.gguf";
  spit(p, b);
  expect_file_error(loads(p), p, name, "ggml type 2 is not supported", "F16");

  b = img;
  const uint64_t far = uint64_t(1) << 40;
  std::memcpy(&b[offset_at], &far, 8);
  p = temp() / "bad_offset.gguf";
  spit(p, b);
  expect_file_error(loads(p), p, name, "run past the end of the data section");

  b.assign(img.begin(), img.begin() + std::ptrdiff_t(img.size() / 2));
  p = temp() / "truncated_data.gguf";
  spit(p, b);
  expect_file_error(loads(p), p, "run past the end of the data section", "truncated");

  b.assign(img.begin(), img.begin() + 1000);
  p = temp() / "truncated_header.gguf";
  spit(p, b);
  expect_file_error(loads(p), p, "truncated");
}

}  // namespace
}  // namespace rwkv
