// The synthetic model writer: the file loads as the preset it was asked for,
// the same seed gives the same bytes, and the forward pass on it stays finite
// with logits of a trained-model-like spread in both activation precisions.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/forward/executor.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/safetensors.h"
#include "reference/model/synth.h"

namespace rwkv {
namespace {

namespace fs = std::filesystem;

// A fresh path in the temporary directory, removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& tag)
      : path((fs::temp_directory_path() / ("synth_test_" + tag + "_" + std::to_string(::getpid()) + ".st")).string()) {
    fs::remove(path);
  }
  ~TempFile() { fs::remove(path); }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

TEST(Synth, TinyLoadsAsThePresetWithEveryShape) {
  const plan::ModelConfig want = plan::preset("tiny");
  TempFile t("tiny");
  synth_safetensors(want, 1, t.path, false);
  const Rwkv7Weights w = load_rwkv7_safetensors(t.path);
  const plan::ModelConfig& got = w.config;
  EXPECT_EQ(got.L, want.L);
  EXPECT_EQ(got.C, want.C);
  EXPECT_EQ(got.N, want.N);
  EXPECT_EQ(got.V, want.V);
  EXPECT_EQ(got.F, want.F);
  EXPECT_EQ(got.Dw, want.Dw);
  EXPECT_EQ(got.Da, want.Da);
  EXPECT_EQ(got.Dv, want.Dv);
  EXPECT_EQ(got.Dg, want.Dg);
  EXPECT_TRUE(w.notes.empty());  // every tensor F16: nothing converted
  const SafetensorsFile f = SafetensorsFile::open(t.path);
  const std::vector<StEntry> layout = synth_layout(want);
  ASSERT_EQ(f.tensors().size(), layout.size());
  for (const StEntry& e : layout) {
    ASSERT_TRUE(f.has(e.name)) << e.name;
    EXPECT_EQ(f.get(e.name).shape, e.shape) << e.name;
    EXPECT_EQ(f.get(e.name).dtype, StDType::f16) << e.name;
  }
  EXPECT_EQ(f.metadata().at("format"), "pt");
  // LoRA factors are stored transposed (spec 7.1): w1 is (Dw, C).
  EXPECT_EQ(f.get("blocks.0.att.w1").shape, (std::vector<int64_t>{want.Dw, want.C}));
  EXPECT_EQ(f.get("blocks.0.att.w2").shape, (std::vector<int64_t>{want.C, want.Dw}));
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  const plan::ModelConfig c = plan::preset("tiny");
  TempFile a("a"), b("b"), o("o");
  synth_safetensors(c, 7, a.path, false);
  synth_safetensors(c, 7, b.path, false);
  synth_safetensors(c, 8, o.path, false);
  const std::string ba = slurp(a.path);
  EXPECT_EQ(ba, slurp(b.path));
  EXPECT_NE(ba, slurp(o.path));
  EXPECT_EQ(ba.size(), slurp(o.path).size());
  // Header framing: length LE, JSON padded with spaces to a multiple of 8.
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(ba[size_t(i)])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(ba.substr(8, 31), R"({"__metadata__":{"format":"pt"})");
}

TEST(Synth, RefusesToOverwriteUnlessForced) {
  const plan::ModelConfig c = plan::preset("tiny");
  TempFile t("exists");
  { std::ofstream(t.path) << "keep me"; }
  EXPECT_THROW(synth_safetensors(c, 1, t.path, false), std::runtime_error);
  EXPECT_EQ(slurp(t.path), "keep me");
  synth_safetensors(c, 1, t.path, true);
  EXPECT_NO_THROW(load_rwkv7_safetensors(t.path));
}

TEST(Synth, AnUnwritableOutputIsNamedInTheError) {
  try {
    synth_safetensors(plan::preset("tiny"), 1, "/nonexistent-dir/model.st", false);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("/nonexistent-dir/model.st: cannot create", 0), 0u) << e.what();
  }
}

struct Spread {
  double mean = 0, std = 0, lo = 1e30, hi = -1e30;
  bool finite = true;
};

Spread spread(const std::vector<float>& v) {
  Spread s;
  for (float x : v) {
    s.finite = s.finite && std::isfinite(x);
    s.mean += x;
    s.lo = std::min(s.lo, double(x));
    s.hi = std::max(s.hi, double(x));
  }
  s.mean /= double(v.size());
  for (float x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(v.size()));
  return s;
}

// Logits of a few tokens (single steps, then a chunk): finite, std 0.5..20.
void expect_sane_forward(const plan::ModelConfig& c, uint64_t seed) {
  TempFile t(c.name);
  synth_safetensors(c, seed, t.path, false);
  const Rwkv7Weights w = load_rwkv7_safetensors(t.path);
  for (DType act : {DType::f32, DType::f16}) {
    forward::Executor ex(w, {act, kDecayWebRwkv, true});
    std::vector<std::vector<float>> runs;
    for (uint32_t tok : {1u, 500u, 17u}) runs.push_back(ex.step(std::span(&tok, 1)));
    const std::vector<uint32_t> chunk = {3, 999, 42, 256};
    runs.push_back(ex.step(chunk));
    for (size_t i = 0; i < runs.size(); ++i) {
      const Spread s = spread(runs[i]);
      EXPECT_TRUE(s.finite) << c.name << " " << dtype_name(act) << " step " << i;
      EXPECT_GT(s.std, 0.5) << c.name << " " << dtype_name(act) << " step " << i;
      EXPECT_LT(s.std, 20.0) << c.name << " " << dtype_name(act) << " step " << i;
      std::printf("[synth] %s %s step %zu: logits mean %.3f std %.3f range %.2f .. %.2f\n", c.name.c_str(),
                  dtype_name(act), i, s.mean, s.std, s.lo, s.hi);
    }
  }
}

TEST(Synth, TinyForwardIsFiniteWithSensibleSpread) { expect_sane_forward(plan::preset("tiny"), 3); }

// 0.1b's layers (L 12, C 768, formula ranks) with a small vocabulary: the
// layer stack is what must keep activations in f16 range; V only sizes emb/head.
TEST(Synth, Layers01bForwardIsFiniteWithSensibleSpread) {
  expect_sane_forward(plan::config_from_formula("0.1b-v1024", 12, 768, 1024), 4);
}

int run_cli(const std::string& args) {
  const std::string cmd = std::string(RWKV_ORACLE_CLI) + " " + args + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Synth, CliWritesThenRefusesWithoutForce) {
  TempFile t("cli");
  EXPECT_EQ(run_cli("synth --config tiny --out " + t.path), 0);
  EXPECT_NO_THROW(load_rwkv7_safetensors(t.path));
  EXPECT_EQ(run_cli("synth --config tiny --out " + t.path), 2);
  EXPECT_EQ(run_cli("synth --config tiny --force --out " + t.path), 0);
  EXPECT_EQ(run_cli("synth --config 3b --out " + t.path + ".x"), 2);
  EXPECT_EQ(run_cli("synth --config tiny --format onnx --out " + t.path + ".x"), 2);
  EXPECT_FALSE(fs::exists(t.path + ".x"));
}

TEST(Synth, CliWritesGgufOfEachTypeAndRefusesBadQuantOptions) {
  TempFile f16("cli_f16"), q4("cli_q4"), x("cli_x");
  EXPECT_EQ(run_cli("synth --config tiny --seed 9 --format gguf --out " + f16.path), 0);
  const Rwkv7Weights w = load_rwkv7(f16.path);
  EXPECT_EQ(w.format, "gguf");
  EXPECT_EQ(w.config.L, 2);
  // The same seed's .st holds the same f16 values.
  TempFile st("cli_st");
  EXPECT_EQ(run_cli("synth --config tiny --seed 9 --out " + st.path), 0);
  const Rwkv7Weights s = load_rwkv7(st.path);
  EXPECT_EQ(0, std::memcmp(s.matrix("head.weight").data, w.matrix("head.weight").data, 1024 * 256 * 2));
  EXPECT_EQ(run_cli("synth --config tiny --seed 9 --format gguf --quant q4_k --out " + q4.path), 0);
  EXPECT_EQ(load_rwkv7(q4.path).matrix("blocks.0.ffn.key.weight").format, WeightFormat::q4_k);
  EXPECT_EQ(run_cli("synth --config tiny --quant q4_k --out " + x.path), 2);  // .st has no quant
  EXPECT_EQ(run_cli("synth --config tiny --format gguf --quant q5_k --out " + x.path), 2);
  EXPECT_EQ(run_cli("synth --config tiny --format gguf --out " + f16.path), 2);  // exists
  EXPECT_FALSE(fs::exists(x.path));
}

TEST(Quantize, CliQuantisesStOrGgufAndRefusesBadUsageBeforeAnyWork) {
  TempFile st("q_st"), out("q_out"), kept("q_kept"), x("q_x");
  ASSERT_EQ(run_cli("synth --config tiny --seed 2 --out " + st.path), 0);
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q8_0 --out " + out.path), 0);
  const Rwkv7Weights w = load_rwkv7(out.path);
  EXPECT_EQ(w.matrix("blocks.1.att.output.weight").format, WeightFormat::q8_0);
  EXPECT_EQ(w.matrix("head.weight").format, WeightFormat::q8_0);
  // From the GGUF it wrote: a quantised input of the same type is copied.
  EXPECT_EQ(run_cli("quantize --in " + out.path + " --type q8_0 --out " + x.path), 0);
  fs::remove(x.path);
  EXPECT_EQ(run_cli("quantize --in " + out.path + " --type q4_k --out " + x.path), 2);  // requantising refused
  EXPECT_FALSE(fs::exists(x.path));
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type f16 --out " + x.path), 2);
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q5_k --out " + x.path), 2);
  EXPECT_EQ(run_cli("quantize --in " + st.path + ".absent --type q4_k --out " + x.path), 2);
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q4_k"), 2);  // no --out
  EXPECT_FALSE(fs::exists(x.path));
  { std::ofstream(kept.path) << "keep me"; }
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q4_k --out " + kept.path), 2);
  EXPECT_EQ(slurp(kept.path), "keep me");
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q4_k --force --out " + st.path), 2);  // the input itself
  EXPECT_NO_THROW(load_rwkv7_safetensors(st.path));
  EXPECT_EQ(run_cli("quantize --in " + st.path + " --type q4_k --force --out " + kept.path), 0);
  EXPECT_EQ(load_rwkv7(kept.path).matrix("head.weight").format, WeightFormat::q6_k);
}

}  // namespace
}  // namespace rwkv

namespace rwkv {
namespace {

// web-rwkv loads what its converter writes; the crosscheck model was written
// in exactly that layout (../shared/crosscheck/README.md). A synthetic tiny
// model has the same tensors, dtypes, shapes, metadata and data order, so it
// loads wherever that file does.
TEST(Synth, TinyHasTheCrosscheckFilesLayoutTensorForTensor) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("synth_test_layout_" + std::to_string(::getpid()) + ".st")).string();
  synth_safetensors(plan::preset("tiny"), 3, path, true);
  const SafetensorsFile ours = SafetensorsFile::open(path);
  const SafetensorsFile theirs = SafetensorsFile::open(std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st");
  auto by_offset = [](const SafetensorsFile& f) {
    std::vector<const StTensor*> v;
    for (const auto& [name, t] : f.tensors()) v.push_back(&t);
    std::sort(v.begin(), v.end(), [](const StTensor* a, const StTensor* b) { return a->data < b->data; });
    return v;
  };
  const auto a = by_offset(ours), b = by_offset(theirs);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]->name, b[i]->name) << i;
    EXPECT_EQ(a[i]->shape, b[i]->shape) << a[i]->name;
    EXPECT_EQ(a[i]->dtype, b[i]->dtype) << a[i]->name;
    EXPECT_EQ(a[i]->data - a[0]->data, b[i]->data - b[0]->data) << a[i]->name;  // same offsets
  }
  EXPECT_EQ(ours.metadata(), theirs.metadata());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rwkv
