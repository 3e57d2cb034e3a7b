// The CUDA backend (backends/cuda/). Option parsing and the registry run
// everywhere; every test that needs a GPU skips itself, saying why, when no
// CUDA device is present (CI has nvcc but no GPU) and runs for real on the
// device machine (scripts/cuda_device_run).
//
// On the GPU:
//   - canonical mode, op by op, each op given the reference's inputs and
//     state: every op's output (and state) has the reference's exact bits,
//     for every weight format, f16 and f32 activations, decode (T = 1, 3:
//     matmul_vec) and prefill (T = 32: matmul_mat) steps;
//   - canonical mode, whole steps of two batch slots: logits and states equal
//     the reference executor's bit for bit;
//   - fast mode: the validation harness (default tolerance policy) passes op
//     by op for every format, f16 and f32, under every sync strategy;
//   - every strategy's whole-step submission (run_ops, CUDA graphs replayed,
//     steps in flight) gives the bits of the op-by-op run;
//   - fast-mode prefill matmuls through cuBLAS where it is found (and the
//     built-in tensor-core kernel, `cuda:wmma`) pass the harness, the head's
//     f32 logits of a quantised matrix (the hi/lo split) included;
//   - softmax (not in the default plan): the conformance cases in canonical
//     mode have the reference's bits, in fast mode pass the tolerance.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "backends/backend.h"
#include "backends/harness/conformance.h"
#include "backends/harness/harness.h"
#include "reference/forward/executor.h"
#include "reference/formats/blocks.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/model/synth.h"
#include "reference/util/rng.h"
#include "tests/support/print.h"
#ifdef RWKV_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace rwkv {
namespace {

#ifndef RWKV_HAVE_CUDA
TEST(CudaBackend, NotBuilt) { GTEST_SKIP() << "built without CUDA (no nvcc found by CMake)"; }
#else

using backends::CudaBackend;
using backends::CudaOptions;
using backends::CudaStrategy;

TEST(CudaOptions, ParsesStrategiesAndCanonical) {
  EXPECT_EQ(backends::parse_cuda_backend_name("cuda").strategy, CudaStrategy::token);
  EXPECT_FALSE(backends::parse_cuda_backend_name("cuda").canonical);
  EXPECT_EQ(backends::parse_cuda_backend_name("cuda:op").strategy, CudaStrategy::op);
  EXPECT_EQ(backends::parse_cuda_backend_name("cuda:layer").strategy, CudaStrategy::layer);
  EXPECT_EQ(backends::parse_cuda_backend_name("cuda:graph").strategy, CudaStrategy::graph);
  const CudaOptions o = backends::parse_cuda_backend_name("cuda:inflight=3,canonical");
  EXPECT_EQ(o.strategy, CudaStrategy::inflight);
  EXPECT_EQ(o.in_flight, 3);
  EXPECT_TRUE(o.canonical);
  EXPECT_EQ(backends::cuda_backend_name(o), "cuda:inflight=3,canonical");
  EXPECT_EQ(backends::parse_cuda_backend_name(backends::cuda_backend_name(o)).in_flight, 3);
  const CudaOptions w = backends::parse_cuda_backend_name("cuda:graph,wmma");
  EXPECT_TRUE(w.wmma);
  EXPECT_FALSE(backends::parse_cuda_backend_name("cuda").wmma);
  EXPECT_EQ(backends::cuda_backend_name(w), "cuda:graph,wmma");
  const CudaOptions d = backends::parse_cuda_backend_name("cuda:dag,graph,pdl");
  EXPECT_TRUE(d.dag);
  EXPECT_TRUE(d.pdl);
  EXPECT_EQ(backends::cuda_backend_name(d), "cuda:graph,pdl,dag");
  const CudaOptions f = backends::parse_cuda_backend_name("cuda:fuse,graph,dag");
  EXPECT_TRUE(f.fuse);
  EXPECT_FALSE(d.fuse);
  EXPECT_EQ(backends::cuda_backend_name(f), "cuda:graph,dag,fuse");
  EXPECT_TRUE(backends::parse_cuda_backend_name("cuda:token,fuse").fuse);
  const CudaOptions m = backends::parse_cuda_backend_name("cuda:merge,graph,dag,pdl");
  EXPECT_TRUE(m.merge);
  EXPECT_FALSE(f.merge);
  EXPECT_EQ(backends::cuda_backend_name(m), "cuda:graph,pdl,dag,merge");
  EXPECT_TRUE(backends::parse_cuda_backend_name(backends::cuda_backend_name(m)).merge);
}

TEST(CudaOptions, RejectsBadOptionsNamingThem) {
  for (const char* bad : {"cuda:fast", "cuda:graph,op", "cuda:inflight=0", "cuda:inflight=x", "cuda:", "cudax",
                          "cuda:dag", "cuda:token,dag"}) {
    try {
      backends::parse_cuda_backend_name(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(bad[4] == ':' ? "cuda" : bad), std::string::npos) << e.what();
    }
  }
}

TEST(CudaRegistry, ListsCudaAndMakesItByName) {
  const auto names = backends::backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  auto b = backends::make_backend("cuda:graph,canonical", {});
  EXPECT_EQ(b->name(), "cuda:graph,canonical");
  EXPECT_THROW(backends::make_backend("cuda:bogus", {}), std::invalid_argument);
}

TEST(CudaBackendWithoutDevice, LoadSaysWhy) {
  std::string why;
  if (backends::cuda_available(&why)) GTEST_SKIP() << "a CUDA device is present; this checks the message without one";
  EXPECT_FALSE(why.empty());
  CudaBackend b;
  Rwkv7Weights w;
  try {
    b.load(w, {});
    ADD_FAILURE() << "load succeeded without a device";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda backend"), std::string::npos) << e.what();
  }
}

#define REQUIRE_GPU()                                                                     \
  do {                                                                                    \
    std::string why_;                                                                     \
    if (!backends::cuda_available(&why_)) GTEST_SKIP() << "needs a CUDA GPU: " << why_;  \
  } while (0)

// The synthetic tiny model (2 layers, C = 256, V = 1024), written once.
const Rwkv7Weights& tiny_fp16() {
  static const Rwkv7Weights w = [] {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("cuda_backend_test_tiny_" + std::to_string(::getpid()) + ".st")).string();
    synth_safetensors(plan::preset("tiny"), 7, path, true);
    Rwkv7Weights loaded = load_rwkv7(path);  // memory-mapped: the mapping outlives the unlinked file
    std::filesystem::remove(path);
    return loaded;
  }();
  return w;
}

// The tiny model with every matrix whose K fits the format requantised into it.
const Rwkv7Weights& tiny(WeightFormat f) {
  static std::map<WeightFormat, Rwkv7Weights> cache;
  auto it = cache.find(f);
  if (it != cache.end()) return it->second;
  Rwkv7Weights w = tiny_fp16();
  if (f != WeightFormat::fp16) {
    for (auto& [name, m] : w.matrices) {
      const int64_t need = f == WeightFormat::q4_k || f == WeightFormat::q6_k ? 256 : f == WeightFormat::q8_0 ? 32 : 8;
      if (m.K % need != 0) continue;
      std::vector<float> values(size_t(m.K * m.M));
      for (int64_t r = 0; r < m.M; ++r) blocks::dequantize_row(m, r, values.data() + r * m.K);
      m = quantize_matrix(f, values.data(), m.K, m.M);
    }
  }
  return cache.emplace(f, std::move(w)).first->second;
}

std::vector<uint32_t> seeded_tokens(int64_t n, int64_t V, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint32_t> t(static_cast<size_t>(n));
  for (uint32_t& x : t) x = uint32_t(rng.next_u64() % uint64_t(V));
  return t;
}

bool same_bits(const TensorView& a, const Tensor& b, int64_t* differing) {
  *differing = 0;
  if (a.dtype != b.dtype || !(a.shape == b.shape)) {
    *differing = -1;
    return false;
  }
  const size_t es = dtype_size(a.dtype);
  const auto* pa = static_cast<const uint8_t*>(a.data);
  for (int64_t i = 0; i < a.numel(); ++i) *differing += std::memcmp(pa + i * es, b.bytes.data() + i * es, es) != 0;
  return *differing == 0;
}

TensorView const_view(const Tensor& t) {
  TensorView v;
  v.dtype = t.dtype;
  v.data = const_cast<uint8_t*>(t.bytes.data());
  v.shape = t.shape;
  return v;
}

struct ExactParam {
  WeightFormat format;
  DType act;
};
std::string param_name(const testing::TestParamInfo<ExactParam>& p) {
  return std::string(format_name(p.param.format)) + "_" + dtype_name(p.param.act);
}

class CudaCanonicalExact : public testing::TestWithParam<ExactParam> {};

// Op by op, each op fed the reference's inputs and state: the bits of every output.
TEST_P(CudaCanonicalExact, EveryOpHasTheReferenceBits) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(GetParam().format);
  backends::BackendOptions bo;
  bo.forward.activations = GetParam().act;
  CudaBackend cuda(backends::parse_cuda_backend_name("cuda:op,canonical"));
  cuda.load(w, bo);
  forward::Executor ref(w, bo.forward, 1);
  std::map<std::string, int64_t> ops_seen, ops_exact;
  for (int64_t T : {int64_t(32), int64_t(3), int64_t(1)}) {
    const std::vector<uint32_t> tokens = seeded_tokens(T, w.config.V, uint64_t(T));
    const forward::Chunk chunk{0, tokens};
    const forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1,
                                                            w.config.V);
    const plan::Plan p = plan::build_plan(w.config, T, layout.outputs);
    ref.begin_step(p, layout);
    cuda.begin_step(p, layout);
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const plan::Op& op = p.ops[i];
      std::set<std::string> names(op.inputs.begin(), op.inputs.end());
      names.insert(op.outputs.begin(), op.outputs.end());
      for (const std::string& n : names)
        if (n != "tokens") cuda.write(n, ref.buffer(n));
      if (op.params.state_layer >= 0) {
        const LayerState& s = ref.state(op.params.state_layer);
        cuda.write_state(op.params.state_layer, std::span(s.data, size_t(s.C * s.rows() * s.B)));
      }
      ref.run_op(i);
      cuda.run_op(i);
      std::string kind(plan::kernel_name(op.kernel));
      if (op.kernel == plan::Kernel::matmul)
        kind = ref.buffer(op.inputs[0]).shape[1] % 32 == 0 ? "matmul_mat" : "matmul_vec";
      int64_t differing = 0;
      bool exact = same_bits(ref.buffer(op.outputs.at(0)), cuda.read(op.outputs.at(0)), &differing);
      EXPECT_TRUE(exact) << "T=" << T << " op " << op.name << " (" << kind << "): " << differing
                         << " elements differ from the reference's bits";
      if (op.params.state_layer >= 0) {
        const LayerState& s = ref.state(op.params.state_layer);
        const std::vector<float> cs = cuda.read_state(op.params.state_layer);
        const bool state_exact = std::memcmp(cs.data(), s.data, cs.size() * sizeof(float)) == 0;
        EXPECT_TRUE(state_exact) << "T=" << T << " op " << op.name << ": the state differs";
        exact = exact && state_exact;
      }
      ++ops_seen[kind];
      ops_exact[kind] += exact;
    }
    ref.end_step();
    cuda.end_step();
  }
  std::string summary;
  for (const auto& [kind, n] : ops_seen) summary += fmt::format(" {} {}/{}", kind, ops_exact[kind], n);
  std::printf("[ bit-exact ] %s %s:%s\n", std::string(format_name(GetParam().format)).c_str(),
              dtype_name(GetParam().act), summary.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Formats, CudaCanonicalExact,
    testing::Values(ExactParam{WeightFormat::fp16, DType::f16}, ExactParam{WeightFormat::fp16, DType::f32},
                    ExactParam{WeightFormat::q4_k, DType::f16}, ExactParam{WeightFormat::q4_k, DType::f32},
                    ExactParam{WeightFormat::q6_k, DType::f16}, ExactParam{WeightFormat::q8_0, DType::f16},
                    ExactParam{WeightFormat::int8, DType::f16}, ExactParam{WeightFormat::nf4, DType::f16},
                    ExactParam{WeightFormat::sf4, DType::f32}),
    param_name);

// Whole steps (two batch slots stacked, then single tokens): with every kernel
// exact, the canonical logits and states are the reference executor's.
// With fuse, the fused chains (kernels_fused.cuh) keep those bits.
TEST(CudaCanonicalSteps, TwoSlotsMatchTheReferenceExecutor) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(WeightFormat::q4_k);
  backends::BackendOptions bo;
  bo.forward.activations = DType::f16;
  bo.slots = 2;
  for (const char* name : {"cuda:token,canonical", "cuda:token,canonical,fuse", "cuda:graph,dag,canonical,fuse"}) {
    CudaBackend cuda(backends::parse_cuda_backend_name(name));
    cuda.load(w, bo);
    forward::Executor ref(w, bo.forward, 2);
    const std::vector<uint32_t> a = seeded_tokens(5, w.config.V, 1), b = seeded_tokens(3, w.config.V, 2);
    for (int step = 0; step < 3; ++step) {
      std::vector<forward::Chunk> chunks = {{0, std::span(a).subspan(0, step == 0 ? 5 : 1)},
                                            {1, std::span(b).subspan(0, step == 0 ? 3 : 1)}};
      const forward::StepLayout layout = forward::layout_step(chunks, forward::LogitsFor::all, 2, w.config.V);
      const plan::Plan p = plan::build_plan(w.config, layout.T(), layout.outputs);
      ref.begin_step(p, layout);
      cuda.begin_step(p, layout);
      for (size_t i = 0; i < p.ops.size(); ++i) ref.run_op(i);
      cuda.run_ops(0, p.ops.size());
      int64_t differing = 0;
      EXPECT_TRUE(same_bits(ref.buffer("logits"), cuda.read("logits"), &differing))
          << name << " step " << step << ": " << differing << " logits differ";
      for (int64_t l = 0; l < w.config.L; ++l) {
        const LayerState& s = ref.state(l);
        const std::vector<float> cs = cuda.read_state(l);
        EXPECT_EQ(std::memcmp(cs.data(), s.data, cs.size() * 4), 0)
            << name << " step " << step << " layer " << l << " state";
      }
      ref.end_step();
      cuda.end_step();
    }
  }
}

struct CheckParam {
  WeightFormat format;
  DType act;
  const char* backend;
};
std::string check_name(const testing::TestParamInfo<CheckParam>& p) {
  std::string b = p.param.backend;
  for (char& c : b)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return std::string(format_name(p.param.format)) + "_" + dtype_name(p.param.act) + "_" + b;
}

class CudaHarness : public testing::TestWithParam<CheckParam> {};

// The validation harness with its default tolerance policy: prefill chunks
// (T = 32, mat path; T = 8, vec path) then single tokens.
TEST_P(CudaHarness, PassesTheDefaultPolicy) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(GetParam().format);
  backends::BackendOptions bo;
  bo.forward.activations = GetParam().act;
  auto cuda = backends::make_backend(GetParam().backend, bo);
  harness::CheckOptions o;
  o.backend = GetParam().backend;
  for (int64_t chunk : {int64_t(32), int64_t(1)}) {
    harness::RunSpec run;
    run.tokens = seeded_tokens(chunk == 1 ? 3 : 40, w.config.V, 11);
    run.chunk = chunk;
    const harness::CheckResult r = harness::check_backend(w, *cuda, nullptr, bo, run, o);
    const harness::CheckRecord* first = r.first_divergence();
    EXPECT_EQ(first, nullptr) << "chunk " << chunk << ": first divergence " << harness::describe(*first);
  }
}

INSTANTIATE_TEST_SUITE_P(
    FastFormats, CudaHarness,
    testing::Values(CheckParam{WeightFormat::fp16, DType::f16, "cuda"}, CheckParam{WeightFormat::fp16, DType::f32, "cuda"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda"}, CheckParam{WeightFormat::q4_k, DType::f32, "cuda"},
                    CheckParam{WeightFormat::q6_k, DType::f16, "cuda"}, CheckParam{WeightFormat::q8_0, DType::f16, "cuda"},
                    CheckParam{WeightFormat::int8, DType::f16, "cuda"}, CheckParam{WeightFormat::nf4, DType::f16, "cuda"},
                    CheckParam{WeightFormat::sf4, DType::f16, "cuda"}),
    check_name);

INSTANTIATE_TEST_SUITE_P(
    Strategies, CudaHarness,
    testing::Values(CheckParam{WeightFormat::q4_k, DType::f16, "cuda:op"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:layer"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:graph"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:inflight=2"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:graph,pdl"},
                    CheckParam{WeightFormat::fp16, DType::f32, "cuda:token,pdl"},
                    CheckParam{WeightFormat::fp16, DType::f16, "cuda:graph,canonical"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:graph,dag"},
                    CheckParam{WeightFormat::fp16, DType::f32, "cuda:graph,dag,pdl"},
                    CheckParam{WeightFormat::fp16, DType::f16, "cuda:graph,dag,canonical"},
                    CheckParam{WeightFormat::fp16, DType::f16, "cuda:wmma"},
                    CheckParam{WeightFormat::q4_k, DType::f16, "cuda:wmma"}),
    check_name);

// Which code runs the prefill matmuls (cuBLAS where found), said in the log.
TEST(CudaPrefillGemm, NamesItsPath) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(WeightFormat::fp16);
  CudaBackend fast, wmma(backends::parse_cuda_backend_name("cuda:wmma")),
      canonical(backends::parse_cuda_backend_name("cuda:canonical"));
  fast.load(w, {});
  std::printf("[ gemm path ] %s\n", fast.prefill_gemm_path().c_str());
  EXPECT_NE(wmma.prefill_gemm_path().find("built-in"), std::string::npos) << wmma.prefill_gemm_path();
  EXPECT_NE(canonical.prefill_gemm_path().find("canonical"), std::string::npos) << canonical.prefill_gemm_path();
}

// Every token's logits of 32-token steps: the head on the mat path with f32
// output, which for a quantised matrix takes the hi/lo split (two GEMMs).
TEST(CudaPrefillGemm, AllLogitsPassTheDefaultPolicy) {
  REQUIRE_GPU();
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k, WeightFormat::nf4}) {
    const Rwkv7Weights& w = tiny(f);
    backends::BackendOptions bo;
    bo.forward.activations = DType::f16;
    for (const char* name : {"cuda", "cuda:graph"}) {
      auto cuda = backends::make_backend(name, bo);
      harness::CheckOptions o;
      o.backend = name;
      harness::RunSpec run;
      run.tokens = seeded_tokens(64, w.config.V, 13);
      run.chunk = 32;
      run.logits = forward::LogitsFor::all;
      const harness::CheckResult r = harness::check_backend(w, *cuda, nullptr, bo, run, o);
      const harness::CheckRecord* first = r.first_divergence();
      EXPECT_EQ(first, nullptr) << format_name(f) << " " << name << ": first divergence " << harness::describe(*first);
    }
  }
}

// softmax, canonical: the conformance cases (V = 1028 and 65536, T = 1 and 7,
// logits above 88) give the reference's bits.
TEST(CudaSoftmax, CanonicalHasTheReferenceBits) {
  REQUIRE_GPU();
  int64_t cases = 0;
  for (const harness::ConformanceCase* c : harness::select_cases("^softmax")) {
    const harness::PreparedCase p = harness::prepare_case(*c, 1);
    CudaBackend cuda(backends::parse_cuda_backend_name("cuda:op,canonical"));
    cuda.load(*p.weights, p.options);
    cuda.begin_step(p.plan, p.layout);
    for (const auto& [name, t] : p.inputs) cuda.write(name, const_view(t));
    cuda.run_op(0);
    const Tensor out = cuda.read(p.op().outputs.at(0));
    cuda.end_step();
    int64_t differing = 0;
    EXPECT_TRUE(same_bits(const_view(p.ref_out), out, &differing)) << c->name << ": " << differing << " elements differ";
    ++cases;
  }
  EXPECT_GE(cases, 5);
  std::printf("[ bit-exact ] softmax: %lld conformance cases\n", static_cast<long long>(cases));
}

// softmax, fast mode: within the conformance tolerance (default policy).
TEST(CudaSoftmax, FastPassesTheConformanceTolerance) {
  REQUIRE_GPU();
  for (const harness::ConformanceCase* c : harness::select_cases("^softmax")) {
    const harness::PreparedCase p = harness::prepare_case(*c, 1);
    CudaBackend cuda;
    const harness::CaseResult r = harness::check_case(p, cuda, "cuda", harness::TolerancePolicy{});
    EXPECT_TRUE(r.pass()) << harness::describe(r, true);
  }
}

// One run of steps submitted whole (run_ops over the plan): logits of every
// step and the final states, for comparison between strategies.
struct WholeRun {
  std::vector<std::vector<float>> logits;
  std::vector<std::vector<float>> states;
  size_t graphs = 0;
};

// With switch_to: the steps run once under `name` (making every shape), then
// the backend is switched (set_options) and the states reset, and the run
// recorded is the second one.
WholeRun run_whole(const Rwkv7Weights& w, const std::string& name, const std::string& switch_to = "") {
  backends::BackendOptions bo;
  bo.forward.activations = DType::f16;
  CudaBackend cuda(backends::parse_cuda_backend_name(name));
  cuda.load(w, bo);
  WholeRun out;
  const std::vector<uint32_t> tokens = seeded_tokens(32 + 8 + 6, w.config.V, 5);
  const std::vector<int64_t> steps = {32, 8, 1, 1, 1, 1, 1, 1};
  // The steps from the start of `tokens`; with `record`, each step's logits into out.
  auto run_steps = [&](bool record) {
    size_t at = 0;
    for (int64_t n : steps) {
      const forward::Chunk chunk{0, std::span(tokens).subspan(at, size_t(n))};
      at += size_t(n);
      const forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1,
                                                              w.config.V);
      const plan::Plan p = plan::build_plan(w.config, n, layout.outputs);
      cuda.begin_step(p, layout);
      cuda.run_ops(0, p.ops.size());
      cuda.end_step();
      if (!record) continue;
      if (cuda.options().strategy == CudaStrategy::inflight) {
        const float* l = cuda.logits_of(cuda.steps_begun() - 1);
        out.logits.emplace_back(l, l + w.config.V);
      } else {
        const Tensor t = cuda.read("logits");
        const float* l = reinterpret_cast<const float*>(t.bytes.data());
        out.logits.emplace_back(l, l + t.numel());
      }
    }
  };
  if (!switch_to.empty()) {
    std::vector<std::vector<float>> initial;
    for (int64_t l = 0; l < w.config.L; ++l) initial.push_back(cuda.read_state(l));
    run_steps(false);
    cuda.synchronize();
    cuda.set_options(backends::parse_cuda_backend_name(switch_to));
    for (int64_t l = 0; l < w.config.L; ++l) cuda.write_state(l, initial[size_t(l)]);
  }
  run_steps(true);
  cuda.synchronize();
  for (int64_t l = 0; l < w.config.L; ++l) out.states.push_back(cuda.read_state(l));
  out.graphs = cuda.graph_count();
  return out;
}

TEST(CudaStrategies, WholeStepsGiveTheOpByOpBits) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(WeightFormat::q4_k);
  const WholeRun base = run_whole(w, "cuda:op");
  for (const char* name : {"cuda:layer", "cuda:token", "cuda:graph", "cuda:inflight=2", "cuda:inflight=3",
                           "cuda:graph,pdl", "cuda:token,pdl", "cuda:graph,dag", "cuda:graph,dag,pdl", "cuda:op,fuse",
                           "cuda:layer,fuse", "cuda:token,fuse", "cuda:graph,fuse", "cuda:inflight=2,fuse",
                           "cuda:graph,dag,fuse", "cuda:graph,dag,pdl,fuse", "cuda:op,merge", "cuda:token,merge",
                           "cuda:graph,merge", "cuda:graph,dag,pdl,merge", "cuda:token,fuse,merge"}) {
    const WholeRun r = run_whole(w, name);
    ASSERT_EQ(r.logits.size(), base.logits.size()) << name;
    for (size_t s = 0; s < r.logits.size(); ++s)
      EXPECT_EQ(r.logits[s], base.logits[s]) << name << ": logits of step " << s;
    EXPECT_EQ(r.states, base.states) << name << ": final states";
    if (std::string(name).rfind("cuda:graph", 0) == 0) {
      EXPECT_EQ(r.graphs, 3u) << "one graph per step shape (T = 32, 8, 1)";
    }
  }
}

// A dependency graph (cuda:graph,dag) runs independent ops side by side; a
// dependency it missed would let an op read a buffer before (or after) the op
// that writes it, which shows as other bits somewhere in 8 steps of a
// synthetic 0.1b model (12 layers, every LoRA path). Three runs each, against
// the sequential graph (itself the op-by-op bits: WholeStepsGiveTheOpByOpBits).
const Rwkv7Weights& synthetic_0p1b() {
  static const Rwkv7Weights w = [] {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("cuda_backend_test_0.1b_" + std::to_string(::getpid()) + ".st")).string();
    synth_safetensors(plan::preset("0.1b"), 3, path, true);
    Rwkv7Weights loaded = load_rwkv7(path);
    std::filesystem::remove(path);
    return loaded;
  }();
  return w;
}

TEST(CudaStrategies, DagGivesTheSequentialBitsOnA0p1bModel) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = synthetic_0p1b();
  const WholeRun base = run_whole(w, "cuda:graph");
  // A loaded backend switched to dag (set_options, as bench does): shapes made before the switch.
  const WholeRun switched = run_whole(w, "cuda:graph", "cuda:graph,dag");
  EXPECT_EQ(switched.logits, base.logits) << "switched to cuda:graph,dag";
  EXPECT_EQ(switched.states, base.states) << "switched to cuda:graph,dag";
  for (const char* name : {"cuda:graph,dag", "cuda:graph,dag,pdl", "cuda:graph,dag,fuse", "cuda:graph,dag,pdl,fuse",
                           "cuda:graph,merge", "cuda:graph,dag,merge", "cuda:graph,dag,pdl,merge"})
    for (int rep = 0; rep < 3; ++rep) {
      const WholeRun r = run_whole(w, name);
      ASSERT_EQ(r.logits.size(), base.logits.size()) << name;
      for (size_t s = 0; s < r.logits.size(); ++s)
        EXPECT_EQ(r.logits[s], base.logits[s]) << name << " run " << rep << ": logits of step " << s;
      EXPECT_EQ(r.states, base.states) << name << " run " << rep << ": final states";
    }
}

// fuse: a decode step of the 0.1b model goes to the GPU in far fewer launches
// (the chains of kernels_fused.cuh), and a switch to fuse on a loaded backend
// (shapes made before it) gives the unfused bits.
TEST(CudaStrategies, FuseCutsTheLaunchesOfADecodeStep) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = synthetic_0p1b();
  const WholeRun switched = run_whole(w, "cuda:graph,dag", "cuda:graph,dag,pdl,fuse");
  const WholeRun base = run_whole(w, "cuda:graph");
  EXPECT_EQ(switched.logits, base.logits) << "switched to cuda:graph,dag,pdl,fuse";
  EXPECT_EQ(switched.states, base.states) << "switched to cuda:graph,dag,pdl,fuse";
  backends::BackendOptions bo;
  bo.forward.activations = DType::f16;
  for (const char* name : {"cuda:graph,dag,fuse", "cuda:graph,dag,canonical,fuse"}) {
    CudaBackend cuda(backends::parse_cuda_backend_name(name));
    cuda.load(w, bo);
    const std::vector<uint32_t> token = {7};
    const forward::Chunk chunk{0, std::span(token)};
    const forward::StepLayout layout =
        forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1, w.config.V);
    const plan::Plan p = plan::build_plan(w.config, 1, layout.outputs);
    cuda.begin_step(p, layout);
    const size_t fused = cuda.launches(0, p.ops.size());
    cuda.run_ops(0, p.ops.size());
    cuda.end_step();
    CudaOptions unfused = cuda.options();
    unfused.fuse = false;
    cuda.set_options(unfused);
    EXPECT_EQ(cuda.launches(0, p.ops.size()), p.ops.size()) << "one launch per op without fuse";
    std::printf("%s: a decode step of %zu ops in %zu launches\n", name, p.ops.size(), fused);
    EXPECT_LT(double(fused), 0.7 * double(p.ops.size())) << name;
    EXPECT_EQ(cuda.launches(5, 6), 1u);
  }
}

// merge: in a decode step of the 0.1b model (C = 768, heads of 64) a layer
// with a value LoRA goes from 44 launches to 25: blit + ln1 + six token shifts,
// blit + ln2 + the ffn token shift, time_mix + ln_x + time_first + mul_g, and
// the matmuls o (+ add), ffn value (+ channel_mix + add), w2 (+ add), a2
// (+ add_activate), v2 (+ add_activate + lerp) each one launch. The canonical
// set has no merged kernels; a switch to merge on a loaded backend (shapes
// made before it) gives the unmerged bits.
TEST(CudaStrategies, MergeShortensTheLaunchesOfADecodeStep) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = synthetic_0p1b();
  const WholeRun switched = run_whole(w, "cuda:graph,dag", "cuda:graph,dag,pdl,merge");
  const WholeRun base = run_whole(w, "cuda:graph");
  EXPECT_EQ(switched.logits, base.logits) << "switched to cuda:graph,dag,pdl,merge";
  EXPECT_EQ(switched.states, base.states) << "switched to cuda:graph,dag,pdl,merge";
  backends::BackendOptions bo;
  bo.forward.activations = DType::f16;
  const std::vector<uint32_t> token = {7};
  const forward::Chunk chunk{0, std::span(token)};
  const forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1, w.config.V);
  const plan::Plan p = plan::build_plan(w.config, 1, layout.outputs);
  size_t begin = p.ops.size(), end = 0;  // layer 1's ops
  for (size_t i = 0; i < p.ops.size(); ++i)
    if (p.ops[i].layer == 1) begin = std::min(begin, i), end = i + 1;
  ASSERT_EQ(end - begin, 44u);
  for (const char* name : {"cuda:graph,dag,merge", "cuda:graph,dag,canonical,merge"}) {
    CudaBackend cuda(backends::parse_cuda_backend_name(name));
    cuda.load(w, bo);
    cuda.begin_step(p, layout);
    const size_t merged = cuda.launches(0, p.ops.size());
    std::printf("%s: layer 1 (44 ops) in %zu launches, a decode step of %zu ops in %zu launches\n", name,
                cuda.launches(begin, end), p.ops.size(), merged);
    if (cuda.options().canonical) EXPECT_EQ(merged, p.ops.size()) << "no merged kernels in the canonical set";
    else EXPECT_EQ(cuda.launches(begin, end), 25u);
    EXPECT_EQ(cuda.launches(begin + 1, begin + 2), 1u) << "run_op alone: the op's own kernel";
    cuda.run_ops(0, p.ops.size());
    cuda.end_step();
  }
}

TEST(CudaErrors, NameTheBufferOrLayer) {
  REQUIRE_GPU();
  const Rwkv7Weights& w = tiny(WeightFormat::fp16);
  CudaBackend cuda;
  cuda.load(w, {});
  const std::vector<uint32_t> tokens = seeded_tokens(1, w.config.V, 3);
  const forward::Chunk chunk{0, tokens};
  const forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1,
                                                          w.config.V);
  const plan::Plan p = plan::build_plan(w.config, 1, layout.outputs);
  cuda.begin_step(p, layout);
  try {
    cuda.read("no_such_buffer");
    ADD_FAILURE() << "read of an undeclared buffer succeeded";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_buffer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cuda.read_state(w.config.L), std::invalid_argument);
  std::vector<float> short_state(3);
  EXPECT_THROW(cuda.write_state(0, short_state), std::invalid_argument);
  EXPECT_THROW(cuda.run_ops(0, p.ops.size() + 1), std::out_of_range);
  cuda.run_ops(0, p.ops.size());
  cuda.end_step();
}

#endif  // RWKV_HAVE_CUDA

}  // namespace
}  // namespace rwkv
