// Golden files: what `rwkv-oracle golden` writes is the run itself (every
// stored tensor equals the executor's, every op of the plan but the copies is
// there), the float64 envelope measures what it says (recomputed here for one
// op from the stored tensors), and the same run gives the same bytes at any
// thread count and SIMD level.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reference/kernels/norm.h"
#include "reference/oracle/norm_oracle.h"
#include "reference/simd/dispatch.h"
#include "reference/util/sha256.h"
#include "tests/support/expect_error.h"
#include "tests/support/run_cli.h"
#include "vectors/golden_writer.h"
#include "tests/support/rss.h"

namespace rwkv::vectors {
namespace {

namespace fs = std::filesystem;
const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";
const std::vector<uint32_t> kTokens = {551, 580, 843, 441, 785, 97, 542, 357, 14, 636, 476, 23, 306, 895, 75, 874,
                                       3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8};

std::string temp(const std::string& tag) {
  return (fs::temp_directory_path() / ("golden_test_" + tag + "_" + std::to_string(::getpid()) + ".h5")).string();
}

// A golden file of `tokens` cut into `lengths` steps, as the command writes it.
void write_golden(const Rwkv7Weights& w, const std::string& path, DType act, const std::vector<int64_t>& lengths,
                  GoldenOptions go = {}, Threading threading = Threading::inline_calls) {
  fs::remove(path);
  H5Writer out(path, Overwrite::no, Compression::deflate, threading);
  GoldenWriter g(out, go);
  Provenance p;
  p.tool_version = "test";
  p.model_file = "rwkv7-tiny.st";
  g.write_provenance(p);
  g.write_inputs(kTokens);
  forward::Executor ex(w, {act, kDecayWebRwkv, true});
  ex.set_observer(&g);
  size_t at = 0;
  for (int64_t len : lengths) {
    const forward::Chunk c{0, std::span(kTokens).subspan(at, size_t(len))};
    ex.step(std::span(&c, 1), forward::LogitsFor::last);
    at += size_t(len);
  }
  g.finish(ex);
  out.close();
}

class Golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { weights_ = new Rwkv7Weights(load_rwkv7_safetensors(kTiny)); }
  static void TearDownTestSuite() {
    delete weights_;
    weights_ = nullptr;
  }
  static Rwkv7Weights* weights_;
};
Rwkv7Weights* Golden::weights_ = nullptr;

// Steps of 1, 1 and 33 tokens (the vec path, then a 32-token mat step and a
// 1-token vec step would come from chunking; here one 33-token vec step).
const std::vector<int64_t> kSteps = {1, 1, 32, 1};

TEST_F(Golden, HoldsEveryOpOutputStateAndLogitsOfTheRun) {
  const std::string path = temp("content");
  write_golden(*weights_, path, DType::f16, kSteps);
  H5Reader r(path);
  EXPECT_EQ(r.attr_string("/", "schema"), kGoldenSchema);
  EXPECT_EQ(r.attr_u64("/", "num_steps"), kSteps.size());
  EXPECT_EQ(r.read_i32("/inputs/tokens").size(), kTokens.size());
  // Replay the run and compare every tensor as the writer saw it.
  forward::Executor ex(*weights_, {DType::f16, kDecayWebRwkv, true});
  struct Check : forward::OpObserver {
    const H5Reader& r;
    int64_t step = 0, checked = 0;
    uint64_t first = 0;  // the step's first token: its first row in every stack
    explicit Check(const H5Reader& reader) : r(reader) {}
    void after_op(const forward::Executor& e, const plan::Op& op, size_t index) override {
      const GoldenPlace place = golden_op_place(op, step);
      const std::string& path = place.path;
      if (path.empty()) {
        EXPECT_EQ(op.kernel, plan::Kernel::blit);
        return;
      }
      // Layer and embedding ops are stacked, the head's are per step.
      EXPECT_EQ(place.stacked, op.layer >= 0 || op.name.rfind("embed.", 0) == 0) << op.name;
      const TensorView t = e.buffer(op.outputs.at(0));
      ASSERT_TRUE(r.is_dataset(path)) << path;
      EXPECT_EQ(r.attr_string(path, "op"), op.name);
      EXPECT_EQ(r.attr_u64(path, "plan_index"), index);
      const uint64_t rows = uint64_t(t.shape[1]);
      if (place.stacked) {
        const std::string env = golden_envelope_path(path);
        const std::vector<double> err = r.read_f64_rows(env, uint64_t(step), 1);
        ASSERT_EQ(err.size(), 8u) << env;  // local and global columns
        EXPECT_TRUE(std::isfinite(err[0])) << env;
        EXPECT_EQ(r.attr_string(env, "columns").rfind("max_abs_err_f64,max_rel_err_f64,max_abs_f64,", 0), 0u);
      } else {
        EXPECT_TRUE(std::isfinite(r.attr_f64(path, "max_abs_err_f64"))) << path;
      }
      if (t.dtype == DType::f16) {
        const std::vector<uint16_t> got =
            place.stacked ? r.read_f16_rows(path, first, rows) : r.read_f16_bits(path, golden_dims(t.shape));
        ASSERT_EQ(got.size(), size_t(t.numel())) << path;
        EXPECT_EQ(std::memcmp(got.data(), t.data, got.size() * 2), 0) << path << " step " << step;
      } else {
        const std::vector<float> got =
            place.stacked ? r.read_f32_rows(path, first, rows) : r.read_f32(path, golden_dims(t.shape));
        ASSERT_EQ(got.size(), size_t(t.numel())) << path;
        EXPECT_EQ(std::memcmp(got.data(), t.data, got.size() * 4), 0) << path << " step " << step;
      }
      ++checked;
    }
    void end_step(const forward::Executor& e) override {
      for (int64_t l = 0; l < e.config().L; ++l) {
        const LayerState& s = e.state(l);
        const std::vector<float> got = r.read_f32(fmt::format("/steps/{}/state/{}", step, l),
                                                  Dims{1, uint64_t(s.rows()), uint64_t(s.C)});
        EXPECT_EQ(std::memcmp(got.data(), s.data, got.size() * 4), 0) << "state " << l << " step " << step;
      }
      first += e.tokens().size();
      ++step;
    }
  } check(r);
  ex.set_observer(&check);
  size_t at = 0;
  for (int64_t len : kSteps) {
    const forward::Chunk c{0, std::span(kTokens).subspan(at, size_t(len))};
    ex.step(std::span(&c, 1), forward::LogitsFor::last);
    at += size_t(len);
  }
  // Every step: 2 embedding ops, 39 + 42 stored layer ops (44 minus the
  // blits: 8 in layer 0, 7 after), ln_out and the logits.
  EXPECT_EQ(check.checked, int64_t(kSteps.size()) * (2 + (41 - 8) + (44 - 7) + 2));
  EXPECT_EQ(r.members("/layers/1").size(), 44u - 7u);
  // One row per token of the run in every stack; the step says where its rows are.
  EXPECT_EQ(r.info("/layers/1/att.time_mix").dims, (Dims{35, 256}));
  EXPECT_EQ(r.attr_u64("/steps/3", "first_token"), 34u);
  EXPECT_EQ(r.attr_string("/steps/2", "matmul"), "matmul_mat");
  EXPECT_EQ(r.attr_string("/layers/1/att.matmul_r", "kernel"), "matmul_vec fp16 none, matmul_mat fp16 none");
  // The logits of a 32-token step with LogitsFor::last: one row.
  EXPECT_EQ(r.info("/steps/2/logits").dims, (Dims{1, 1024}));
  fs::remove(path);
}

// The envelope of one op recomputed from the stored tensors: att.ln1 of layer
// 1 reads x, the stored output of layer 0's ffn.add_x.
TEST_F(Golden, EnvelopeMatchesAFloat64RecomputationFromStoredInputs) {
  const std::string path = temp("envelope");
  write_golden(*weights_, path, DType::f32, {3});
  H5Reader r(path);
  const int64_t C = weights_->config.C, T = 3;
  ASSERT_EQ(r.info("/layers/1/att.ln1").dims, (Dims{uint64_t(T), uint64_t(C)}));
  std::vector<float> x = r.read_f32_rows("/layers/0/ffn.add_x", 0, T);
  const std::vector<float> y = r.read_f32_rows("/layers/1/att.ln1", 0, T);
  const std::vector<double> want =
      oracle::layer_norm(TensorView(x.data(), Shape(C, T)), weights_->vector("blocks.1.ln1.weight").data,
                         weights_->vector("blocks.1.ln1.bias").data, kLayerNormEps);
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(double(y[i]) - want[i]);
    max_abs = std::max(max_abs, d);
    if (want[i] != 0) max_rel = std::max(max_rel, d / std::abs(want[i]));
  }
  const std::vector<double> err = r.read_f64_rows("/envelope/layers/1/att.ln1", 0, 1);
  EXPECT_EQ(err[0], max_abs);  // columns max_abs_err_f64, max_rel_err_f64, ...
  EXPECT_EQ(err[1], max_rel);
  EXPECT_GT(max_abs, 0);  // f32 rounding is visible
  // In f32 every op stays close to float64 (matmul sums of 1024 terms, the
  // WKV recurrence over 3 tokens): a few e-6 relative to each tensor's scale.
  for (const char* layer : {"0", "1"})
    for (const std::string& op : r.members(std::string("/layers/") + layer)) {
      const std::string p = std::string("/envelope/layers/") + layer + "/" + op;
      const std::vector<double> e = r.read_f64_rows(p, 0, 1);
      EXPECT_LE(e[0], 1e-5 * std::max(1.0, e[2])) << p;
    }
  fs::remove(path);
}

// In f16 every stored activation carries its rounding: relative errors near
// 2^-11 (half an ulp) and never much beyond a few ulp.
TEST_F(Golden, F16EnvelopeIsTheStoreRounding) {
  const std::string path = temp("f16");
  write_golden(*weights_, path, DType::f16, {2});
  H5Reader r(path);
  for (const std::string& op : r.members("/layers/1")) {
    const std::string p = "/envelope/layers/1/" + op;
    if (op == "ffn.channel_mix") continue;  // a copy of ffn.matmul_v: exact
    const std::vector<double> e = r.read_f64_rows(p, 0, 1);
    const double abs = e[0], scale = e[2];
    EXPECT_GT(abs, 0) << p;
    EXPECT_LE(abs, 4 * std::ldexp(1.0, -11) * std::max(scale, 1e-3) + 1e-6) << p;
  }
  fs::remove(path);
}

TEST_F(Golden, SameBytesAtAnyThreadCountAndSimdLevel) {
  const int saved = omp_get_max_threads();
  std::string want;
  int runs = 0;
  for (simd::Level level : {simd::Level::scalar, simd::supported_levels().back()})
    for (int threads : {1, 2}) {
      simd::ScopedLevel forced(level);
      omp_set_num_threads(threads);
      // The command writes in the background (H5Writer Threading::background):
      // that must not change a byte either.
      for (Threading th : {Threading::inline_calls, Threading::background}) {
        const std::string path = temp("det");
        write_golden(*weights_, path, DType::f16, kSteps, {}, th);
        const std::string h = sha256_file_hex(path);
        if (runs++ == 0) want = h;
        EXPECT_EQ(h, want) << "level " << int(level) << " threads " << threads << " background " << int(th);
        fs::remove(path);
      }
    }
  omp_set_num_threads(saved);
}

TEST_F(Golden, WithoutEnvelopeOrPerStepStates) {
  const std::string path = temp("lean");
  GoldenOptions go;
  go.envelope = false;
  go.states_every_step = false;
  write_golden(*weights_, path, DType::f32, {2, 1}, go);
  H5Reader r(path);
  EXPECT_TRUE(r.is_dataset("/layers/0/att.ln1"));
  EXPECT_FALSE(r.exists("/envelope"));
  EXPECT_FALSE(r.has_attr("/steps/0/logits", "max_abs_err_f64"));
  EXPECT_FALSE(r.exists("/steps/0/state"));
  EXPECT_TRUE(r.is_dataset("/final_state/1"));
  EXPECT_EQ(r.attr_string("/", "envelope"), "none");
  fs::remove(path);
}

// A long run keeps memory flat: tensors go to disk as they are produced.
TEST_F(Golden, MemoryStaysBoundedOverALongRun) {
  auto rss = [] { return test::resident_bytes(); };
  const std::string path = temp("long");
  fs::remove(path);
  H5Writer out(path);
  GoldenOptions go;
  go.envelope = false;  // memory, not the oracle, is under test here
  GoldenWriter g(out, go);
  forward::Executor ex(*weights_, {DType::f16});
  ex.set_observer(&g);
  uint64_t at100 = 0;
  for (uint32_t t = 0; t < 600; ++t) {
    const uint32_t id = (t * 37u) % 1024u;
    ex.step(std::span(&id, 1));
    if (t == 100) at100 = rss();
  }
  const uint64_t grown = rss() - std::min(at100, rss());
  g.finish(ex);
  out.close();
  RecordProperty("rss_growth_bytes", std::to_string(grown));
  EXPECT_LT(grown, uint64_t(16) << 20) << "RSS grew by " << grown << " bytes over 500 golden steps";
  EXPECT_EQ(H5Reader(path).members("/steps").size(), 600u);
  EXPECT_EQ(H5Reader(path).info("/layers/1/ffn.add_x").dims[0], 600u);
  fs::remove(path);
}

// The command: a run end to end, read back by h5py, and its errors.
TEST(GoldenCli, WritesAFileThatH5pyReads) {
  const std::string path = temp("cli");
  fs::remove(path);
  const test::CliResult r =
      test::run_oracle_stdout("golden --model " + kTiny + " --tokens 1,2,3,4 --chunk 1 --out " + path);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("4 tokens in 4 steps"), std::string::npos) << r.output;
  // Not a terminal: no progress bar on standard error.
  const std::string path2 = path + ".2";
  const test::CliResult quiet = test::run_oracle("golden --model " + kTiny + " --tokens 1,2 --chunk 1 --out " + path2);
  EXPECT_EQ(quiet.output.find("golden ["), std::string::npos) << quiet.output;
  EXPECT_EQ(quiet.output.find('\r'), std::string::npos);
  fs::remove(path2);
  const std::string py = "/usr/bin/python3 -c \"import h5py, numpy; f = h5py.File('" + path +
                         "', 'r'); d = f['layers/1/att.time_mix']; "
                         "assert d.dtype == numpy.float16 and d.shape == (4, 256), (d.dtype, d.shape); "
                         "assert f['steps/3'].attrs['first_token'] == 3 and numpy.isfinite(d[3]).all(); "
                         "assert f['provenance'].attrs['model_sha256'].decode() == "
                         "'09133858948ffd43deb366dc8d5d72ed044c150ba9763a03986b1d1f8c3afadf'; "
                         "assert f['steps/3/logits'].shape == (1, 1024); print('h5py ok')\"";
  FILE* p = popen((py + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512] = {};
  const size_t n = fread(buf, 1, sizeof buf - 1, p);
  EXPECT_EQ(pclose(p), 0) << std::string(buf, n);
  EXPECT_EQ(std::string(buf, n), "h5py ok\n");
  fs::remove(path);
}

TEST(GoldenCli, BadUsageIsExitTwoWithAClearMessageAndNothingOverwritten) {
  const std::string path = temp("bad");
  struct Case {
    std::string args, needle;
  };
  const std::string base = "golden --model " + kTiny + " --out " + path + " ";
  const Case cases[] = {
      {base + "--tokens 1,2,1024", "token 1024 (item 2) is out of the model's vocabulary: expected 0 to 1023"},
      {base + "--tokens ''", "no tokens"},
      {base + "--tokens 1,x", "item 1 ('x') is not a token id"},
      {base + "--tokens 1,2 --chunk 7", "chunk size 7"},
      {base + "--tokens 1 --precision bf16", "--precision 'bf16'"},
      {base + "--tokens 1 --random-tokens 3", "exactly one of"},
      {"golden --model /nonexistent.st --tokens 1 --out " + path, "/nonexistent.st"},
  };
  for (const Case& c : cases) {
    const test::CliResult r = test::run_oracle(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(path)) << c.args;
  }
  { std::ofstream(path) << "mine"; }
  const test::CliResult r = test::run_oracle(base + "--tokens 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  std::ifstream in(path);
  std::string kept((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(kept, "mine");
  fs::remove(path);
}

}  // namespace
}  // namespace rwkv::vectors
