// rwkv-oracle conformance (backends/harness/conformance.h): the case list
// covers every kernel kind of the plan with its shapes, formats and
// activation types; the reference and cpu-reordered pass every case; each
// planted fault of the faulty backend fails a case of its own kernel and none
// of an unrelated one; lines are reproducible; the command's exit codes and
// messages; compare_tensors' results for any thread count.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backends/faults.h"
#include "backends/harness/conformance.h"
#include "backends/reference_backend.h"
#include "reference/plan/model_config.h"
#include "reference/util/rng.h"
#include "tests/support/run_cli.h"

namespace rwkv {
namespace {

using harness::CaseResult;
using harness::ConformanceCase;
using harness::PreparedCase;
using plan::Kernel;

constexpr Kernel kAllKernels[] = {
    Kernel::embedding, Kernel::layer_norm,   Kernel::group_norm,   Kernel::l2_norm,       Kernel::token_shift,
    Kernel::blit,      Kernel::add,          Kernel::add_activate, Kernel::mul,           Kernel::lerp,
    Kernel::matmul,    Kernel::control_k_v7, Kernel::time_mix_v7,  Kernel::time_first_v7, Kernel::channel_mix_v7,
    Kernel::affine,    Kernel::softmax};
static_assert(std::size(kAllKernels) == size_t(Kernel::softmax) + 1, "a kernel kind is missing here");

// One OpenMP thread for the case runs: the cases are small (many short
// parallel regions) and ctest runs two test programs at once on two cores,
// where waiting threads would only spin. (The thread-count test sets its own.)
const int kThreads = [] {
  omp_set_num_threads(1);
  return 1;
}();

bool has(const std::string& name, const std::string& part) { return name.find(part) != std::string::npos; }

// Every case prepared once (the reference's run and E, seed 1) for all the tests of this program.
const std::vector<PreparedCase>& prepared() {
  static const std::vector<PreparedCase> all = [] {
    std::vector<PreparedCase> v;
    for (const ConformanceCase& c : harness::conformance_cases()) v.push_back(harness::prepare_case(c, 1));
    return v;
  }();
  return all;
}

// Every prepared case on a backend (the faulty one with `fault`).
std::vector<CaseResult> run_all(const std::string& backend, const std::string& fault = "",
                                const harness::TolerancePolicy& policy = {}) {
  std::vector<CaseResult> out;
  for (const PreparedCase& p : prepared()) {
    backends::BackendOptions bo = p.options;
    bo.fault = fault;
    auto b = backends::make_backend(backend, bo);
    out.push_back(harness::check_case(p, *b, backend, policy));
  }
  return out;
}

std::string failures(const std::vector<CaseResult>& rs) {
  std::string s;
  for (const CaseResult& r : rs)
    if (!r.pass()) s += harness::describe(r, true) + "\n";
  return s;
}

TEST(ConformanceCases, CoverEveryKernelKindInBothActivationTypes) {
  std::map<Kernel, std::set<DType>> types;
  std::set<std::string> names;
  for (const ConformanceCase& c : harness::conformance_cases()) {
    types[c.kernel].insert(c.activations);
    EXPECT_TRUE(names.insert(c.name).second) << "two cases named " << c.name;
    // test-backend-ops style: kernel(params,dtype), no glob metacharacters (policy globs match names).
    EXPECT_TRUE(std::regex_match(c.name, std::regex(R"([a-z0-9_]+\([^()\[\]*?]*,(f16|f32)\))"))) << c.name;
  }
  for (Kernel k : kAllKernels) {
    EXPECT_EQ(types[k].count(DType::f32), 1u) << plan::kernel_name(k) << " has no f32 case";
    if (k != Kernel::softmax) {  // softmax reads the f32 logits
      EXPECT_EQ(types[k].count(DType::f16), 1u) << plan::kernel_name(k) << " has no f16 case";
    }
  }
}

TEST(ConformanceCases, MatmulCoversEveryFormatActivationAndPath) {
  std::set<std::string> seen;
  for (const ConformanceCase& c : harness::conformance_cases()) {
    if (c.kernel != Kernel::matmul) continue;
    const std::smatch m = [&] {
      std::smatch r;
      std::regex_search(c.name, r, std::regex(R"(act=(\w+),(sparse,)?K=\d+,M=\d+,T=(\d+))"));
      return r;
    }();
    ASSERT_FALSE(m.empty()) << c.name;
    const bool mat_path = std::stoi(m[3]) % 32 == 0;
    seen.insert(fmt::format("{} {}{} {} {}", format_name(c.format), m[1].str(), m[2].matched ? " sparse" : "",
                            mat_path ? "mat" : "vec", dtype_name(c.activations)));
  }
  for (const char* f : {"fp16", "q4_k", "q6_k", "q8_0", "int8", "nf4", "sf4"})
    for (const char* act : {"none", "tanh", "sigmoid", "squared_relu", "none sparse"})
      for (const char* path : {"vec", "mat"})
        for (const char* t : {"f16", "f32"})
          EXPECT_EQ(seen.count(fmt::format("{} {} {} {}", f, act, path, t)), 1u) << f << " " << act << " " << path << " " << t;
}

TEST(ConformanceCases, HaveTheEdgeCasesAndShapesThatMatter) {
  auto count = [](auto pred) {
    int n = 0;
    for (const ConformanceCase& c : harness::conformance_cases()) n += pred(c);
    return n;
  };
  using E = harness::CaseEdge;
  EXPECT_GE(count([](const ConformanceCase& c) { return c.kernel == Kernel::softmax && c.edge == E::large_logits; }), 1);
  EXPECT_GE(count([](const ConformanceCase& c) { return c.kernel == Kernel::l2_norm && c.edge == E::tiny_norm; }), 2);
  EXPECT_GE(count([](const ConformanceCase& c) { return c.edge == E::near_f16_max; }), 4);
  EXPECT_GE(count([](const ConformanceCase& c) { return c.edge == E::subnormal; }), 2);
  // time_mix_v7: two slots with different chunk lengths (the initial state is never zero).
  EXPECT_GE(count([](const ConformanceCase& c) {
              return c.kernel == Kernel::time_mix_v7 && c.chunks.size() == 2 && c.chunks[0] != c.chunks[1];
            }),
            2);
  // Blits: plane and token-range forms.
  EXPECT_GE(count([](const ConformanceCase& c) { return c.kernel == Kernel::blit && has(c.name, "form=plane"); }), 1);
  EXPECT_GE(count([](const ConformanceCase& c) { return c.kernel == Kernel::blit && has(c.name, "form=tokens"); }), 2);
  // Widths 256 to 4096 and T = 1, 7, 32, 33.
  for (const char* part : {"C=256,", "C=4096,", "T=1,", "T=7,", "T=32,", "T=33,"})
    EXPECT_GE(count([&](const ConformanceCase& c) { return has(c.name, part); }), 1) << part;
}

TEST(ConformanceCases, EachCaseIsTheOneOpOfThePlanItNames) {
  for (const PreparedCase& p : prepared()) {
    ASSERT_EQ(p.plan.ops.size(), 1u) << p.spec->name;
    EXPECT_EQ(p.op().kernel, p.spec->kernel) << p.spec->name;
    EXPECT_EQ(p.op().name, p.spec->op) << p.spec->name;
    EXPECT_EQ(p.plan.T, p.layout.T()) << p.spec->name;
    EXPECT_EQ(p.plan.outputs, p.layout.outputs) << p.spec->name;
  }
}

TEST(ConformanceCases, SelectionByRegexAndItsErrors) {
  EXPECT_EQ(harness::select_cases("").size(), harness::conformance_cases().size());
  for (const ConformanceCase* c : harness::select_cases(R"(^matmul\(fmt=q4_k)"))
    EXPECT_TRUE(has(c->name, "matmul(fmt=q4_k")) << c->name;
  auto message = [](const std::string& re) {
    try {
      harness::select_cases(re);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(nothing thrown)");
  };
  EXPECT_TRUE(has(message("no_such_kernel"), "matches none of the")) << message("no_such_kernel");
  EXPECT_TRUE(has(message("("), "not a valid regular expression")) << message("(");
}

TEST(Conformance, ReferencePassesEveryCaseBitForBit) {
  const std::vector<CaseResult> rs = run_all("reference");
  EXPECT_EQ(failures(rs), "");
  for (const CaseResult& r : rs)
    for (const harness::TensorCheck& t : r.tensors) EXPECT_EQ(t.m.ulp_max, 0u) << r.spec->name << " " << t.what;
}

TEST(Conformance, CpuReorderedPassesEveryCaseButIsNotBitExact) {
  const std::vector<CaseResult> rs = run_all("cpu-reordered");
  EXPECT_EQ(failures(rs), "");
  int inexact = 0;
  for (const CaseResult& r : rs) inexact += r.tensors.front().m.ulp_max > 0;
  EXPECT_GT(inexact, 100) << "cpu-reordered should differ from the reference in most computing cases";
}

// The kernel kind a fault's first_op names: a plan op (its kind in the
// default plan), a kernel kind itself (softmax, l2_norm), or a layer's state
// ("state.0": the WKV state time_mix_v7 keeps).
Kernel kernel_of(std::string_view first_op) {
  if (first_op.rfind("state.", 0) == 0) return Kernel::time_mix_v7;
  const plan::Plan p = plan::build_plan(plan::preset("tiny"), 1);
  for (const plan::Op& op : p.ops)
    if (op.name == first_op) return op.kernel;
  for (Kernel k : kAllKernels)
    if (plan::kernel_name(k) == first_op) return k;
  ADD_FAILURE() << "first_op '" << first_op << "' is neither a plan op nor a kernel kind";
  return Kernel::blit;
}

// The kernel kinds a fault may change: its own, and for the state that is
// not carried over, every kernel that reads or keeps the recurrent state.
std::set<Kernel> related(backends::Fault f, Kernel own) {
  if (f == backends::Fault::state_not_carried) return {Kernel::token_shift, Kernel::time_mix_v7, Kernel::channel_mix_v7};
  return {own};
}

// One test for all faults (the cases are prepared once per test program).
TEST(Conformance, EachFaultFailsACaseOfItsKernelAndNoneOfAnUnrelatedOne) {
  for (const backends::FaultInfo& f : backends::fault_catalog()) {
    SCOPED_TRACE(std::string("fault ") + std::string(f.name));
    const Kernel own = kernel_of(f.first_op);
    const std::set<Kernel> allowed = related(f.fault, own);
    int own_failures = 0;
    std::set<std::string> failing;
    for (const CaseResult& r : run_all("faulty", std::string(f.name))) {
      if (r.pass()) continue;
      failing.insert(r.spec->name);
      own_failures += r.spec->kernel == own;
      EXPECT_EQ(allowed.count(r.spec->kernel), 1u) << "fails an unrelated case: " << harness::describe(r);
    }
    EXPECT_GT(own_failures, 0) << "fails no " << plan::kernel_name(own) << " case";
    // The faults that need an edge input are caught by it, and only by it.
    auto edge_only = [&](const std::string& edge) {
      EXPECT_FALSE(failing.empty());
      for (const std::string& name : failing) EXPECT_TRUE(has(name, "edge=" + edge)) << name;
    };
    if (f.fault == backends::Fault::softmax_no_max) edge_only("large");
    if (f.fault == backends::Fault::l2_eps_torch) edge_only("tiny");
  }
}

TEST(Conformance, SameSeedSameLinesWhateverIsSelected) {
  auto lines = [](uint64_t seed, const std::string& re) {
    harness::ConformanceOptions o;
    o.backend = "cpu-reordered";
    o.seed = seed;
    o.op_regex = re;
    std::map<std::string, std::string> by_name;
    o.on_case = [&](const CaseResult& r) { by_name[r.spec->name] = harness::describe(r, true); };
    harness::run_conformance(o);
    return by_name;
  };
  const std::string re = R"(^(layer_norm|time_mix_v7|matmul\(fmt=q4_k,act=tanh))";
  const auto a = lines(7, re), b = lines(7, re), c = lines(8, re);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c) << "another seed should draw other inputs";
  // A case alone gives the line it gives among others.
  const auto one = lines(7, R"(^time_mix_v7\(C=512,)");
  ASSERT_EQ(one.size(), 2u);
  for (const auto& [name, line] : one) EXPECT_EQ(a.at(name), line);
}

TEST(Conformance, PolicyRulesMatchCaseNames) {
  const std::string path = testing::TempDir() + "conformance_policy.json";
  {
    std::ofstream(path) << R"({"rules": [{"op": "matmul(fmt=q4_k,*", "dtype": "f32", "backend": "cpu-*", "k": 0,
                                          "n": 0, "why": "exact, to see the rule apply"}]})";
  }
  const harness::TolerancePolicy policy = harness::TolerancePolicy::from_file(path);
  int q4k_failed = 0, other_failed = 0;
  for (const CaseResult& r : run_all("cpu-reordered", "", policy)) {
    const bool ruled = has(r.spec->name, "matmul(fmt=q4_k,") && r.spec->activations == DType::f32;
    (ruled ? q4k_failed : other_failed) += !r.pass();
    if (ruled) {
      EXPECT_TRUE(has(r.tensors.front().tol.source, "policy rule 0")) << r.tensors.front().tol.source;
    }
  }
  EXPECT_GT(q4k_failed, 0) << "no q4_k f32 case is bit-exact on cpu-reordered, so k = n = 0 fails them";
  EXPECT_EQ(other_failed, 0);
  std::filesystem::remove(path);
}

// The one case named `name`, prepared with seed 1.
PreparedCase prepare_named(const std::string& name) {
  for (const ConformanceCase& c : harness::conformance_cases())
    if (c.name == name) return harness::prepare_case(c, 1);
  ADD_FAILURE() << "no case " << name;
  return {};
}

TEST(Conformance, FailingLineNamesTheWorstElementAndTheExactCount) {
  const PreparedCase p = prepare_named("softmax(V=1028,T=1,edge=large,f32)");
  ASSERT_NE(p.spec, nullptr);
  backends::BackendOptions bo = p.options;
  bo.fault = "softmax_no_max";
  auto b = backends::make_backend("faulty", bo);
  const CaseResult r = harness::check_case(p, *b, "faulty", {});
  ASSERT_FALSE(r.pass());
  const std::string line = harness::describe(r);
  EXPECT_TRUE(std::regex_search(line, std::regex(R"(^softmax\(V=1028,T=1,edge=large,f32\): FAIL max_ulp=inf )")))
      << line;
  EXPECT_TRUE(std::regex_search(line, std::regex(R"(beyond=\d+ of 1028 \([0-9.e-]+%\))"))) << line;
  EXPECT_TRUE(std::regex_search(line, std::regex(R"(worst out\[\d+\] \(element \d+\): ref \S+ cand \S+ \(tolerance \S+\), \d+ NaN/Inf mismatches)")))
      << line;
}

// A backend that cannot run a case fails it with its message; the run goes on.
class ThrowingBackend : public backends::ReferenceBackend {
 public:
  void run_op(size_t) override { throw std::runtime_error("no kernel for this op"); }
};

TEST(Conformance, ABackendThatThrowsFailsTheCase) {
  ThrowingBackend b;
  const CaseResult r = harness::check_case(prepare_named("matmul(fmt=q4_k,act=tanh,K=768,M=64,T=7,f16)"), b,
                                           "throwing", {});
  EXPECT_FALSE(r.pass());
  EXPECT_TRUE(has(harness::describe(r), "FAIL the backend could not run it: no kernel for this op"))
      << harness::describe(r);
}

TEST(ConformanceCli, ExitCodesAndMessages) {
  using test::run_oracle;
  const auto ok = run_oracle("conformance --backend cpu-reordered --op '^l2_norm'");
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_TRUE(has(ok.output, "l2_norm(C=256,T=7,N=64,edge=tiny,f16): OK max_ulp=")) << ok.output;
  EXPECT_TRUE(has(ok.output, "conformance: backend cpu-reordered, seed 1: 9 cases, 9 OK, 0 FAIL")) << ok.output;

  const auto fail = run_oracle("conformance --backend faulty --fault softmax_no_max --op '^softmax'");
  EXPECT_EQ(fail.status, 1) << fail.output;
  EXPECT_TRUE(has(fail.output, "softmax(V=65536,T=1,edge=large,f32): FAIL")) << fail.output;
  EXPECT_TRUE(has(fail.output, "5 cases, 3 OK, 2 FAIL (2 softmax)")) << fail.output;

  const auto list = run_oracle("conformance --list --op '^softmax'");
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_EQ(std::count(list.output.begin(), list.output.end(), '\n'), 5) << list.output;

  struct Bad {
    const char* args;
    const char* message;
  };
  for (const Bad& b : {Bad{"conformance --backend nope", "unknown backend 'nope'"},
                       Bad{"conformance --backend faulty --fault nope", "unknown fault 'nope'"},
                       Bad{"conformance --backend faulty", "needs --fault"},
                       Bad{"conformance --backend reference --fault ln_eps", "--fault is for the faulty backend"},
                       Bad{"conformance --backend reference --op zzz", "--op 'zzz' matches none of the"},
                       Bad{"conformance --backend reference --op '('", "not a valid regular expression"},
                       Bad{"conformance --op softmax", "needs --backend"},
                       Bad{"conformance --backend reference --policy /nonexistent.json", "/nonexistent.json"}}) {
    const auto r = run_oracle(b.args);
    EXPECT_EQ(r.status, 2) << b.args << "\n" << r.output;
    EXPECT_TRUE(has(r.output, b.message)) << b.args << "\n" << r.output;
  }
}

TEST(ConformanceCli, SameSeedSameOutput) {
  const std::string args = "conformance --backend cpu-reordered --op '^(group_norm|time_first)' --verbose";
  const auto a = test::run_oracle(args + " --seed 5"), b = test::run_oracle(args + " --seed 5");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
  EXPECT_NE(a.output, test::run_oracle(args + " --seed 6").output);
}

// compare_tensors: fixed blocks summed in order, so any thread count gives
// the same bits; the ULP unit at zero is the subnormal spacing.
TEST(CompareTensors, SameResultsForAnyThreadCount) {
  for (DType t : {DType::f16, DType::f32}) {
    const int64_t n = 300001;
    Tensor r(t, Shape(n)), c(t, Shape(n));
    Rng rng(11);
    for (int64_t i = 0; i < n; ++i) {
      const float v = rng.normal();
      const float e = rng.uniform(-1e-3f, 1e-3f);
      r.view().set(i, v);
      c.view().set(i, i % 1000 == 7 ? NAN : v * (1 + e));
    }
    auto run = [&](int threads) {
      const int before = omp_get_max_threads();
      omp_set_num_threads(threads);
      const harness::TensorMetrics m = harness::compare_tensors(r.view(), c.view(), harness::Tolerance{1e-4, 1});
      omp_set_num_threads(before);
      return m;
    };
    const harness::TensorMetrics a = run(1);
    for (int threads : {2, 3, 8}) {
      const harness::TensorMetrics b = run(threads);
      EXPECT_EQ(std::memcmp(&a.nmse, &b.nmse, sizeof(double)), 0) << threads;
      EXPECT_EQ(std::memcmp(&a.cosine, &b.cosine, sizeof(double)), 0) << threads;
      EXPECT_EQ(a.max_abs, b.max_abs);
      EXPECT_EQ(a.max_rel, b.max_rel);
      EXPECT_EQ(a.ulp_hist, b.ulp_hist);
      EXPECT_EQ(a.beyond, b.beyond);
      EXPECT_EQ(a.worst_index, b.worst_index);
    }
    EXPECT_EQ(a.count, n);
    EXPECT_EQ(a.nonfinite, 300);  // i % 1000 == 7 below 300001
    EXPECT_GT(a.beyond, a.nonfinite);
  }
}

TEST(CompareTensors, UlpAtZeroIsTheSubnormalSpacing) {
  EXPECT_EQ(harness::ulp_at(DType::f16, 0.0), 0x1p-24);
  EXPECT_EQ(harness::ulp_at(DType::f16, 1e-6), 0x1p-24);
  EXPECT_EQ(harness::ulp_at(DType::f16, 1.0), 0x1p-10);
  EXPECT_EQ(harness::ulp_at(DType::f16, -1.5), 0x1p-10);
  EXPECT_EQ(harness::ulp_at(DType::f32, 0.0), 0x1p-149);
  EXPECT_EQ(harness::ulp_at(DType::f32, 1.0), 0x1p-23);
  // A candidate 1 subnormal ulp off an exact zero is within n = 1, two are not.
  Tensor r(DType::f16, Shape(3)), c(DType::f16, Shape(3));
  c.view().set(1, 0x1p-24f);
  c.view().set(2, 0x1p-23f);
  const harness::TensorMetrics m = harness::compare_tensors(r.view(), c.view(), harness::Tolerance{0, 1});
  EXPECT_EQ(m.beyond, 1);
  EXPECT_EQ(m.worst_index, 2);
}

}  // namespace
}  // namespace rwkv
