// The validation harness (backends/harness/): the reference passes against
// itself exactly; cpu-reordered, a correct backend computing in other orders,
// passes on the tiny and 0.1b models, isolated and as a free-running dump
// against a golden file; every fault the faulty backend can plant in the plan
// fails, and the first divergence is the op where it was planted. Plus the
// metrics, the tolerance policy file and the report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backends/faults.h"
#include "backends/harness/dump.h"
#include "backends/harness/harness.h"
#include "backends/harness/report.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/synth.h"
#include "tests/support/expect_error.h"
#include "tests/support/run_cli.h"
#include "vectors/golden_writer.h"

namespace rwkv::harness {
namespace {

namespace fs = std::filesystem;
const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("harness_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

RunSpec run_of(size_t n, uint32_t seed, int64_t chunk) {
  RunSpec r;
  for (size_t i = 0; i < n; ++i) r.tokens.push_back(uint32_t((seed * 7919u + i * 104729u) % 1024u));
  r.chunk = chunk;
  return r;
}

CheckResult check(const Rwkv7Weights& w, const std::string& backend, DType act, const RunSpec& run,
                  const std::string& fault = "") {
  backends::BackendOptions bo;
  bo.forward.activations = act;
  bo.fault = fault;
  auto cand = backends::make_backend(backend, bo);
  CheckOptions o;
  o.backend = backend;
  return check_backend(w, *cand, nullptr, bo, run, o);
}

struct Models {
  Rwkv7Weights tiny, tiny_q4k;
  std::string q4k_path;
};
Models* models = nullptr;

class Harness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    models = new Models;
    models->tiny = load_rwkv7(kTiny);
    models->q4k_path = temp("tiny-q4k.gguf");
    GgufExportOptions q;
    q.type = GgufModelType::q4_k;
    q.force = true;
    write_rwkv7_gguf(models->tiny, models->q4k_path, q);
    models->tiny_q4k = load_rwkv7(models->q4k_path);
  }
  static void TearDownTestSuite() {
    fs::remove(models->q4k_path);
    delete models;
    models = nullptr;
  }
};

TEST_F(Harness, ReferenceAgainstItselfIsExact) {
  const CheckResult r = check(models->tiny, "reference", DType::f16, run_of(35, 1, 32));
  ASSERT_TRUE(r.pass());
  for (const CheckRecord& rec : r.records) {
    EXPECT_EQ(rec.m.max_abs, 0) << rec.op;
    EXPECT_EQ(rec.m.ulp_max, 0u) << rec.op;
  }
  EXPECT_EQ(r.first_divergence(), nullptr);
}

// Tiny: both precisions, fp16 and Q4_K weights, a mat-path chunk and vec steps.
TEST_F(Harness, CpuReorderedPassesOnTiny) {
  for (DType act : {DType::f16, DType::f32})
    for (const Rwkv7Weights* w : {&models->tiny, &models->tiny_q4k}) {
      const CheckResult r = check(*w, "cpu-reordered", act, run_of(35, 2, 32));
      const CheckRecord* f = r.first_divergence();
      EXPECT_EQ(f, nullptr) << dtype_name(act) << " " << (f ? describe(*f) : "");
      // Not vacuous: the two really differ somewhere.
      double worst = 0;
      for (const CheckRecord& rec : r.records) worst = std::max(worst, rec.m.max_abs);
      EXPECT_GT(worst, 0);
    }
}

TEST_F(Harness, CpuReorderedPassesOn01b) {
  const std::string path = temp("synth-0.1b.st");
  synth_safetensors(plan::preset("0.1b"), 1, path, true);
  const Rwkv7Weights w = load_rwkv7(path);
  RunSpec run;
  for (uint32_t i = 0; i < 33; ++i) run.tokens.push_back((i * 2654435761u) % 65536u);
  run.chunk = 32;  // a 32-token mat step, then a vec step
  const CheckResult r = check(w, "cpu-reordered", DType::f16, run);
  const CheckRecord* f = r.first_divergence();
  EXPECT_EQ(f, nullptr) << (f ? describe(*f) : "");
  EXPECT_EQ(r.records.size(), size_t(2 * (4 + 33 + 11 * 37 + 12)));  // ops stored + 12 states, per step
  fs::remove(path);
}

// Every fault planted in the plan's ops is caught at the op where it is planted.
TEST_F(Harness, EveryPlantedFaultIsNamedAsTheFirstDivergence) {
  int tested = 0;
  for (const backends::FaultInfo& f : backends::fault_catalog()) {
    if (f.fault == backends::Fault::softmax_no_max || f.fault == backends::Fault::l2_eps_torch) continue;  // conformance
    const bool q4k = f.needs.find("Q4_K") != std::string_view::npos;
    const DType act = f.needs.find("f16 activations") != std::string_view::npos ? DType::f16 : DType::f32;
    const CheckResult r = check(q4k ? models->tiny_q4k : models->tiny, "faulty", act, run_of(35, 3, 32),
                                std::string(f.name));
    const CheckRecord* first = r.first_divergence();
    ASSERT_NE(first, nullptr) << f.name << " was not caught";
    EXPECT_EQ(first->op, f.first_op) << f.name << ": " << describe(*first);
    const int64_t want_step = f.fault == backends::Fault::state_not_carried ? 1 : 0;
    EXPECT_EQ(first->step, want_step) << f.name;
    ++tested;
  }
  EXPECT_EQ(tested, 11);
}

// `dump` rewritten step by step (/steps/<s>/layers/<l>/<op>, ...), as an
// external engine's script writes it (vectors/ENGINE_MAPPING.md): check_files
// reads either layout.
void rewrite_per_step(const std::string& golden, const std::string& dump, const std::string& out_path) {
  const vectors::H5Reader g(golden), d(dump);
  vectors::H5Writer out(out_path);
  auto copy_rows = [&](const std::string& stack, const std::string& to, uint64_t first, uint64_t n) {
    const vectors::DatasetInfo info = d.info(stack);
    const vectors::Dims dims = {n, info.dims[1]};
    if (info.type == vectors::H5Type::f16)
      out.write_f16_bits(to, d.read_f16_rows(stack, first, n), dims);
    else
      out.write_f32(to, d.read_f32_rows(stack, first, n), dims);
  };
  for (const std::string& s : g.members("/steps")) {
    const std::string sp = "/steps/" + s;
    const uint64_t first = g.attr_u64(sp, "first_token"), n = g.attr_u64(sp, "num_tokens");
    for (const std::string& m : d.members("/embed")) copy_rows("/embed/" + m, sp + "/embed/" + m, first, n);
    for (const std::string& l : d.members("/layers"))
      for (const std::string& m : d.members("/layers/" + l))
        copy_rows("/layers/" + l + "/" + m, sp + "/layers/" + l + "/" + m, first, n);
    std::vector<std::string> own = {sp + "/head/ln_out", sp + "/logits"};
    for (const std::string& l : d.members(sp + "/state")) own.push_back(sp + "/state/" + l);
    for (const std::string& p : own) {
      const vectors::DatasetInfo info = d.info(p);
      if (info.type == vectors::H5Type::f16)
        out.write_f16_bits(p, d.read_f16_bits(p), info.dims);
      else
        out.write_f32(p, d.read_f32(p), info.dims);
    }
  }
  out.close();
}

// A dump of a backend that ran free, against a golden file: judged against the
// golden's global envelope. cpu-reordered passes; a planted fault is named.
TEST_F(Harness, DumpsAgainstAGoldenFile) {
  const RunSpec run = run_of(35, 4, 32);
  for (DType act : {DType::f16, DType::f32}) {
    const std::string golden = temp("golden.h5"), good = temp("good.h5"), bad = temp("bad.h5");
    for (const auto& p : {golden, good, bad}) fs::remove(p);
    {
      vectors::H5Writer out(golden);
      vectors::GoldenWriter g(out, {});
      g.write_inputs(run.tokens);
      forward::Executor ex(models->tiny, {act});
      ex.set_observer(&g);
      for (size_t at = 0; at < run.tokens.size();) {
        const size_t len = at + 32 <= run.tokens.size() ? 32 : run.tokens.size() - at;
        const forward::Chunk c{0, std::span(run.tokens).subspan(at, len)};
        ex.step(std::span(&c, 1), forward::LogitsFor::last);
        at += len;
      }
      g.finish(ex);
      out.close();
    }
    backends::BackendOptions bo;
    bo.forward.activations = act;
    for (const auto& [path, fault] : {std::pair(good, std::string()), std::pair(bad, std::string("gn_group_size"))}) {
      bo.fault = fault;
      auto b = backends::make_backend(fault.empty() ? "cpu-reordered" : "faulty", bo);
      vectors::H5Writer out(path);
      dump_backend(models->tiny, *b, bo, run, out);
      out.close();
    }
    const CheckResult ok = check_files(golden, good, {});
    EXPECT_TRUE(ok.pass()) << dtype_name(act) << " " << (ok.first_divergence() ? describe(*ok.first_divergence()) : "");
    EXPECT_EQ(ok.missing, 0);
    // The same dump written step by step reads the same: same records, same metrics.
    const std::string per_step = temp("per_step.h5");
    fs::remove(per_step);
    rewrite_per_step(golden, good, per_step);
    const CheckResult same = check_files(golden, per_step, {});
    ASSERT_EQ(same.records.size(), ok.records.size());
    EXPECT_EQ(same.missing, 0);
    for (size_t i = 0; i < ok.records.size(); ++i) {
      EXPECT_EQ(same.records[i].op, ok.records[i].op);
      EXPECT_EQ(same.records[i].m.max_abs, ok.records[i].m.max_abs) << ok.records[i].op;
      EXPECT_EQ(same.records[i].ref_err, ok.records[i].ref_err) << ok.records[i].op;
    }
    fs::remove(per_step);
    const CheckResult no = check_files(golden, bad, {});
    ASSERT_NE(no.first_divergence(), nullptr);
    EXPECT_EQ(no.first_divergence()->op, "blocks.0.att.ln_x") << dtype_name(act);
    // A candidate holding nothing of the golden file is bad input.
    test::expect_file_error([&] { check_files(golden, golden + ".none", {}); }, golden + ".none");
    for (const auto& p : {golden, good, bad}) fs::remove(p);
  }
}

TEST(Metrics, CountsAndWorstElement) {
  std::vector<float> ref = {1, 2, 3, 4, -1, 0, 1e-3f, 100};
  std::vector<float> cand = ref;
  cand[3] = 4.5f;   // beyond any small tolerance
  cand[5] = NAN;    // a NaN where the reference is finite
  const TensorMetrics m = compare_tensors(TensorView(ref.data(), Shape(8)), TensorView(cand.data(), Shape(8)),
                                          Tolerance{0.01, 0});
  EXPECT_EQ(m.count, 8);
  EXPECT_EQ(m.beyond, 2);
  EXPECT_EQ(m.nonfinite, 1);
  EXPECT_EQ(m.worst_index, 5);  // the NaN mismatch outranks any ratio
  EXPECT_EQ(m.beyond_str(), "2 of 8 (25%)");
  EXPECT_EQ(m.ulp_hist[kUlpBuckets - 1], 2);  // the NaN and the 0.5 jump (4 -> 4.5 is 2^20 ulp)
  EXPECT_DOUBLE_EQ(m.max_abs, 0.5);
  // One beyond in a million reads as such, not as 0.0%.
  std::vector<float> big(1000000, 1.0f), big2 = big;
  big2[77] = 2.0f;
  const TensorMetrics b = compare_tensors(TensorView(big.data(), Shape(1000000)),
                                          TensorView(big2.data(), Shape(1000000)), Tolerance{0.1, 0});
  EXPECT_EQ(b.beyond_str(), "1 of 1000000 (0.0001%)");
  EXPECT_NEAR(b.nmse, 1e-6, 1e-12);
  EXPECT_LT(b.cosine, 1.0);
}

TEST(Metrics, F16ReferenceRequiresF16Values) {
  std::vector<f16> ref = {to_f16(1.0f), to_f16(0.5f)};
  std::vector<float> cand = {1.0f + 1e-4f, 0.5f};  // 1.0001 is no half: a store missed its rounding
  const TensorMetrics m = compare_tensors(TensorView(ref.data(), Shape(2)), TensorView(cand.data(), Shape(2)),
                                          Tolerance{1.0, 4});
  EXPECT_EQ(m.not_stored_type, 1);
  EXPECT_FALSE(m.pass());
  EXPECT_EQ(m.ulp_max, 0u);  // it rounds to the same half
}

TEST(Tolerance, PolicyFileOverridesByGlobAndIsCheckedStrictly) {
  const std::string path = temp("policy.json");
  {
    std::ofstream(path) << R"({"rules": [
      {"op": "*.matmul_*", "k": 6, "n": 2, "why": "tensor cores"},
      {"op": "blocks.1.*", "dtype": "f16", "backend": "cuda*", "k": 9, "n": 3}
    ]})";
  }
  const TolerancePolicy p = TolerancePolicy::from_file(path);
  EXPECT_EQ(p.lookup("blocks.0.att.matmul_r", plan::Kernel::matmul, DType::f16, "cuda").k, 6);
  EXPECT_EQ(p.lookup("blocks.1.att.matmul_r", plan::Kernel::matmul, DType::f16, "cuda:graph").k, 9);
  EXPECT_EQ(p.lookup("blocks.1.att.matmul_r", plan::Kernel::matmul, DType::f32, "cuda").k, 6);
  const OpTolerance d = p.lookup("blocks.0.att.ln1", plan::Kernel::layer_norm, DType::f16, "cuda");
  EXPECT_EQ(d.k, default_tolerance(plan::Kernel::layer_norm, DType::f16).k);
  EXPECT_NE(d.source.find("default"), std::string::npos);
  for (const auto& [text, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"rules": [{"op": "*", "k": 1}]})", "needs both 'k' and 'n'"},
           {R"({"rules": [{"op": "*", "k": 1, "n": 1, "kk": 2}]})", "unknown field 'kk'"},
           {R"({"rules": [{"k": -1, "n": 1}]})", "'k' must be a number >= 0"},
           {R"({"rules": [{"dtype": "bf16", "k": 1, "n": 1}]})", "dtype 'bf16'"},
           {R"({"rule": []})", "array \"rules\""},
           {"{nope", "not valid JSON"}}) {
    { std::ofstream(path, std::ios::trunc) << text; }
    test::expect_file_error([&] { TolerancePolicy::from_file(path); }, path, needle);
  }
  fs::remove(path);
}

TEST(Report, WritesMarkdownHtmlAndPlots) {
  const Rwkv7Weights w = load_rwkv7(kTiny);
  const CheckResult r = check(w, "faulty", DType::f32, run_of(3, 5, 1), "gn_group_size");
  const std::string dir = temp("report");
  fs::remove_all(dir);
  const std::string page = write_report(r, "faulty gn_group_size", dir);
  std::ifstream md(page);
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("First divergence: step 0, layer 0, `blocks.0.att.ln_x`"), std::string::npos) << text;
  for (const char* png : {"error_by_layer.png", "ulp_hist.png", "error_growth.png"}) {
    std::ifstream f(dir + "/" + png, std::ios::binary);
    char magic[8] = {};
    f.read(magic, 8);
    EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  EXPECT_TRUE(fs::exists(dir + "/report.html"));
  EXPECT_TRUE(fs::exists(dir + "/results.json"));
  fs::remove_all(dir);
}

TEST(CheckCli, ExitCodes) {
  const std::string base = "check --model " + kTiny + " --tokens 1,2,3 --chunk 1 --no-chained ";
  EXPECT_EQ(test::run_oracle(base + "--backend cpu-reordered").status, 0);
  const test::CliResult bad = test::run_oracle(base + "--backend faulty --fault token_shift_off");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("first divergence: step 0, layer 0, op blocks.0.att.token_shift_r"), std::string::npos)
      << bad.output;
  const test::CliResult unknown = test::run_oracle(base + "--backend vulkan");
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.output.find("unknown backend 'vulkan'"), std::string::npos) << unknown.output;
  const test::CliResult fault = test::run_oracle(base + "--backend faulty --fault typo");
  EXPECT_EQ(fault.status, 2);
  EXPECT_NE(fault.output.find("unknown fault 'typo'"), std::string::npos) << fault.output;
  EXPECT_EQ(test::run_oracle("check --golden /nonexistent.h5 --candidate /nonexistent2.h5").status, 2);
  EXPECT_EQ(test::run_oracle("check --backend reference").status, 2);  // no model
}

}  // namespace
}  // namespace rwkv::harness
