// The schedule option "merge": the CUDA backend's merged launches
// (reference/plan/merge_groups.h) priced as one dispatch each
// (simgpu/merged_dispatch.h): the dispatch count is the plan-level group
// count, a merged group's bytes, FLOPs and latency follow the documented
// rule, a merged schedule launches less and takes less time, under dag no
// launch starts before one it depends on ended, and functional mode runs the
// merged order bit for bit.
#include <gtest/gtest.h>

#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "reference/model/synth.h"
#include "reference/plan/merge_groups.h"
#include "reference/plan/model_config.h"
#include "simgpu/functional.h"
#include "simgpu/merged_dispatch.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

const std::string kSchedules = std::string(RWKV_SOURCE_DIR) + "/backends/cuda/schedules/";

Schedule cuda_schedule(const std::string& name) { return load_schedule(kSchedules + name + ".json"); }

WeightFormats q4k() {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  f.head = WeightFormat::q6_k;
  return f;
}

SimResult run(const Workload& w, const Schedule& s, int64_t steps = 4, bool record = false) {
  static const Profile p = find_profile("nvidia-h100-cuda");
  SimOptions o;
  o.steps = steps;
  o.record = record;
  return simulate(w, s, p, nullptr, o);
}

size_t index_of(const plan::Plan& p, const std::string& name) {
  for (size_t i = 0; i < p.ops.size(); ++i)
    if (p.ops[i].name == name) return i;
  throw std::runtime_error("no op " + name);
}

// Under merge a decode step runs one dispatch per plan-level group (the host gather is no dispatch).
TEST(SimgpuMerge, DispatchesPerTokenAreThePlanLevelGroups) {
  for (const char* model : {"0.1b", "1.5b", "2.9b"})
    for (const WeightFormats& f : {WeightFormats{}, q4k()}) {
      const plan::Plan p = plan::build_plan(plan::preset(model), 1);
      const Workload w = plan_workload(p, f);
      const size_t groups = plan::merge_groups(p, [&](const std::string& x) { return matrix_format(x, f); }).size();
      ASSERT_TRUE(w.merged);
      EXPECT_EQ(w.merged->dispatches.size(), groups) << model;
      const SimResult merged = run(w, cuda_schedule("cuda-graph-dag-pdl-merge"));
      EXPECT_DOUBLE_EQ(merged.dispatches_per_token(), double(groups - 1)) << model << ": all but the host gather";
      EXPECT_DOUBLE_EQ(run(w, cuda_schedule("cuda-graph-dag-pdl")).dispatches_per_token(), double(p.ops.size() - 1));
    }
  const plan::Plan p01 = plan::build_plan(plan::preset("0.1b"), 1);
  EXPECT_EQ(run(plan_workload(p01, {}), cuda_schedule("cuda-graph-dag-pdl-merge")).dispatches_per_token(), 303)
      << "304 launches of the CUDA backend, its embedding one of them";
}

// w2 + add_w0: add_w0's read of w comes from the GEMV's registers and w2's store of w is overwritten.
TEST(SimgpuMerge, AGroupsBytesAreItsOpsLessWhatStaysOnChip) {
  const plan::Plan p = plan::build_plan(plan::preset("0.1b"), 1);
  const Workload w = plan_workload(p, {});
  const size_t w2 = index_of(p, "blocks.1.att.matmul_w2");
  const auto& md = w.merged->dispatches;
  const auto it = std::find_if(md.begin(), md.end(), [&](const Dispatch& d) { return d.op == w2; });
  ASSERT_NE(it, md.end());
  const Dispatch &m = *it, &a = w.dispatches[w2], &b = w.dispatches[w2 + 1];
  ASSERT_EQ(m.ops, 2u);
  const double w_bytes = 768 * 2;  // [C] f16
  EXPECT_DOUBLE_EQ(m.bytes_read, a.bytes_read + b.bytes_read - w_bytes);
  EXPECT_DOUBLE_EQ(m.bytes_written, a.bytes_written + b.bytes_written - w_bytes);
  EXPECT_DOUBLE_EQ(m.flops, a.flops + b.flops);
  EXPECT_DOUBLE_EQ(m.weight_bytes, a.weight_bytes + b.weight_bytes);
  EXPECT_EQ(m.kind, a.kind);
  EXPECT_EQ(m.merged_kinds, (std::vector<std::string>{"matmul_vec.fp16", "add"}));
  // The step's weights are the same traffic merged or not.
  EXPECT_DOUBLE_EQ(w.merged->weight_bytes_per_step, w.weight_bytes_per_step);
  // blit_x + ln1 + 6 shifts: x read once, att_x written once; the norm and the shifts read att_x on chip.
  const size_t bx = index_of(p, "blocks.1.att.blit_x");
  const auto ns = std::find_if(md.begin(), md.end(), [&](const Dispatch& d) { return d.op == bx; });
  ASSERT_EQ(ns->ops, 8u);
  double read = 0, written = 0;
  for (size_t j = bx; j < bx + 8; ++j) read += w.dispatches[j].bytes_read, written += w.dispatches[j].bytes_written;
  EXPECT_DOUBLE_EQ(ns->bytes_read, read - 7 * w_bytes) << "ln1 and 6 shifts read att_x on chip";
  EXPECT_DOUBLE_EQ(ns->bytes_written, written - w_bytes) << "the blit's att_x, rewritten by ln1";
}

// The stages of a merged kernel follow one another: their latencies add, less merged_load_us for each op after
// the first (its input comes from registers), never less than the slowest op's.
TEST(SimgpuMerge, AGroupsLatencyIsItsOpsLessTheLoadsItSaves) {
  Profile p = find_profile("nvidia-h100-cuda");
  for (auto [kind, lat] : {std::pair{"blit", 0.5}, {"layer_norm", 4.0}, {"token_shift", 0.25}}) {
    p.efficiency.push_back({kind, {0.5, "test"}, {1, "test"}});
    p.efficiency.back().latency = {lat, "test"};
  }
  const plan::Plan plan = plan::build_plan(plan::preset("0.1b"), 1);
  const Workload w = plan_workload(plan, {});
  const size_t bx = index_of(plan, "blocks.1.att.blit_x");
  const Dispatch& ns = *std::find_if(w.merged->dispatches.begin(), w.merged->dispatches.end(),
                                     [&](const Dispatch& d) { return d.op == bx; });
  EXPECT_DOUBLE_EQ(kernel_latency_us(p, ns), 0.5 + 4 + 6 * 0.25) << "no merged_load_us: the sum";
  p.merged_load_us = Sourced{0.125, "test"};
  EXPECT_DOUBLE_EQ(kernel_latency_us(p, ns), 0.5 + 3.875 + 6 * 0.125);
  p.merged_load_us = Sourced{1, "test"};
  EXPECT_DOUBLE_EQ(kernel_latency_us(p, ns), 4) << "0.5 + 3 + 0: at least the slowest stage";
  EXPECT_DOUBLE_EQ(kernel_latency_us(p, w.dispatches[bx]), 0.5) << "an op alone: its own";
}

// Fewer launches, less time: under every CUDA strategy the merged step is faster, most where launches dominate.
TEST(SimgpuMerge, AMergedScheduleLaunchesLessAndTakesLessTime) {
  for (const char* model : {"0.1b", "2.9b"}) {
    const Workload w = plan_workload(plan::build_plan(plan::preset(model), 1), q4k());
    for (const char* name : {"cuda-token", "cuda-graph", "cuda-graph-pdl", "cuda-graph-dag-pdl"}) {
      const Schedule s = cuda_schedule(name);
      Schedule m = s;
      m.merge = true;
      const SimResult a = run(w, s), b = run(w, m);
      EXPECT_LT(b.dispatches_per_token(), 0.6 * a.dispatches_per_token()) << model << " " << name;
      EXPECT_LT(b.total_us, a.total_us) << model << " " << name;
    }
  }
}

// Prefill has no groups: merge changes nothing. A workload that is not a plan runs unchanged.
TEST(SimgpuMerge, PrefillAndSyntheticWorkloadsAreUnchanged) {
  const Workload pre = plan_workload(plan::build_plan(plan::preset("0.4b"), 128, {plan::TokenRun{127, 1}}), q4k());
  const Schedule s = cuda_schedule("cuda-graph-dag-pdl"), m = cuda_schedule("cuda-graph-dag-pdl-merge");
  EXPECT_DOUBLE_EQ(run(pre, m, 2).total_us, run(pre, s, 2).total_us);
  const Workload chain = synthetic_workload(100, 3);
  EXPECT_FALSE(chain.merged);
  EXPECT_DOUBLE_EQ(run(chain, m).total_us, run(chain, s).total_us);
}

// A group is one node of the dag: no launch starts before a launch it depends on ended.
TEST(SimgpuMerge, DagHazardChecksPassOnTheMergedLaunches) {
  for (const char* model : {"0.1b", "1.5b"}) {
    const Workload w = plan_workload(plan::build_plan(plan::preset(model), 1), q4k());
    const SimResult r = run(w, cuda_schedule("cuda-graph-dag-pdl-merge"), 3, true);
    EXPECT_TRUE(find_violations(w.merged->resources, 3, r.device->op_runs()).empty()) << model;
    // The groups' producers are their ops' producers outside them: the matmul_o group of layer 1 waits for
    // the time mix group, not for itself.
    const std::vector<std::vector<Dependency>> deps = step_dependencies(w.merged->resources);
    for (size_t i = 0; i < deps.size(); ++i)
      for (const Dependency& d : deps[i]) EXPECT_LT(d.producer, i);
  }
}

TEST(SimgpuMerge, MergedResourcesAreTheUnionOfTheOps) {
  const plan::Plan p = plan::build_plan(plan::preset("tiny"), 1);
  const ResourceTable t = op_resources(p);
  const std::vector<plan::MergeGroup> g = plan::merge_groups(p);
  const ResourceTable m = merged_resources(t, g);
  ASSERT_EQ(m.ops.size(), g.size());
  for (size_t k = 0; k < g.size(); ++k)
    for (size_t j = g[k].begin; j < g[k].end; ++j) {
      for (uint32_t r : t.ops[j].reads) EXPECT_TRUE(std::count(m.ops[k].reads.begin(), m.ops[k].reads.end(), r));
      for (uint32_t r : t.ops[j].writes) EXPECT_TRUE(std::count(m.ops[k].writes.begin(), m.ops[k].writes.end(), r));
    }
}

TEST(SimgpuMerge, ABadMergeValueIsRefusedByName) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("simgpu_merge_" + std::to_string(::getpid()) + ".json")).string();
  std::ofstream(path) << R"({"name": "x", "description": "d", "source": "s", "default_api": "native", "merge": "yes"})";
  try {
    load_schedule(path);
    ADD_FAILURE() << "a string for merge was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("merge"), std::string::npos) << e.what();
  }
  std::ofstream(path) << R"({"name": "x", "description": "d", "source": "s", "default_api": "native", "merged": true})";
  try {
    load_schedule(path);
    ADD_FAILURE() << "an unknown field was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("merged"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// The merged launches in simulated order through the reference: every dependency honoured, the bits of the
// in-order run (tiny has every kind of group: 256 channels, heads of 64).
TEST(SimgpuMerge, FunctionalModeRunsTheMergedOrderBitForBit) {
  omp_set_num_threads(1);
  const plan::Plan tiny = plan::build_plan(plan::preset("tiny"), 1);
  ASSERT_LT(plan::merge_groups(tiny).size(), tiny.ops.size() - 20);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("simgpu_merge_" + std::to_string(::getpid()) + ".st")).string();
  synth_safetensors(plan::preset("tiny"), 11, path, true);
  const Rwkv7Weights weights = load_rwkv7_safetensors(path);
  std::filesystem::remove(path);
  const Profile p = find_profile("nvidia-h100-cuda");
  forward::ForwardOptions fo;
  fo.activations = DType::f16;
  const FunctionalReport r =
      check_functional(weights, fo, cuda_schedule("cuda-graph-dag-pdl-merge"), p, nullptr, WeightFormats{}, 3, 5);
  EXPECT_TRUE(r.passed()) << describe(r);
  EXPECT_EQ(r.ops_run, 3 * r.ops_per_step);
  EXPECT_FALSE(r.first_not_ready);
}

}  // namespace
