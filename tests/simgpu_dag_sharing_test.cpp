// Two terms of the dag model the run 16 refit added (simgpu/profile.h
// shared_roofline, simgpu/device.cpp): concurrent kernels share the device,
// each at most at its own efficiency, and the mat-path matmuls (GEMMs) run one
// after another, as the CUDA backend's dag graphs order them; and the optional
// profile fields are checked by name.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "reference/plan/model_config.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

const std::string kRoot = RWKV_SOURCE_DIR;

Profile run16() { return load_profile(kRoot + "/reports/cuda/run16-profile-cuda-simfit.json"); }

Schedule dag() {
  Schedule s = load_schedule(kRoot + "/backends/cuda/schedules/cuda-graph-dag-pdl.json");
  s.pdl = false;
  return s;
}

SimResult run(const Workload& w, const Schedule& s, const Profile& p, int64_t steps = 1) {
  SimOptions o;
  o.steps = steps;
  o.record = true;
  return simulate(w, s, p, nullptr, o);
}

// Four independent dispatches of bandwidth efficiency 1/4: sharing, their roofline terms run side by side;
// one at a time, they queue. At efficiency 1 sharing changes nothing.
TEST(SimgpuDagSharing, ConcurrentKernelsShareTheDeviceUpToTheirEfficiency) {
  Profile p = run16();
  p.efficiency.push_back({"k", {0.25, "test"}, {1, "test"}});
  std::vector<Dispatch> list(4);
  for (Dispatch& x : list) x.kind = "k", x.bytes_read = 1e8, x.grid = {1000, 1, 1};
  const Workload w = dispatch_list_workload("four", list);
  const double roof = 1e8 / (p.bandwidth_gbps.value * 1e3 * 0.25);  // each alone
  p.shared_roofline = false;
  const double queued = run(w, dag(), p).total_us;
  p.shared_roofline = true;
  const double shared = run(w, dag(), p).total_us;
  EXPECT_NEAR(queued - shared, 3 * roof, 1e-6 * roof) << "four quarter-device terms in the time of one";
  p.efficiency.back().bandwidth.value = 1;
  const double full_shared = run(w, dag(), p).total_us;
  p.shared_roofline = false;
  EXPECT_NEAR(run(w, dag(), p).total_us, full_shared, 1e-9) << "kernels that take the whole device still queue";
}

// A prefill step's GEMMs never overlap under dag (the backend's shared GEMM scratch); the hazard checker passes.
TEST(SimgpuDagSharing, TheGemmsRunOneAfterAnother) {
  const Profile p = run16();
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  const Workload w = plan_workload(plan::build_plan(plan::preset("0.4b"), 128, {plan::TokenRun{127, 1}}), f);
  const SimResult r = run(w, dag(), p);
  std::vector<OpRun> gemms;
  for (size_t i = 0; i < w.dispatches.size(); ++i)
    if (w.dispatches[i].kind.starts_with("matmul_mat")) gemms.push_back(r.device->op_runs()[i]);
  ASSERT_GT(gemms.size(), 100u);
  std::sort(gemms.begin(), gemms.end(), [](const OpRun& a, const OpRun& b) { return a.start < b.start; });
  for (size_t k = 1; k < gemms.size(); ++k) EXPECT_GE(gemms[k].start, gemms[k - 1].end) << k;
  EXPECT_TRUE(find_violations(w.resources, 1, r.device->op_runs()).empty());
}

TEST(SimgpuDagSharing, BadOptionalProfileFieldsAreRefusedByName) {
  const nlohmann::json good = nlohmann::json::parse(std::ifstream(kRoot + "/reports/cuda/run16-profile-cuda-simfit.json"));
  const std::string path =
      (std::filesystem::temp_directory_path() / ("simgpu_dag_sharing_" + std::to_string(::getpid()) + ".json")).string();
  auto refused = [&](nlohmann::json j, const std::string& field) {
    std::ofstream(path) << j.dump();
    try {
      load_profile(path);
    } catch (const std::exception& e) {
      return std::string(e.what()).find(field) != std::string::npos;
    }
    return false;
  };
  nlohmann::json j = good;
  j["merged_load_us"]["value"] = -1;
  EXPECT_TRUE(refused(j, "merged_load_us"));
  j = good;
  j["shared_roofline"]["value"] = 1;
  EXPECT_TRUE(refused(j, "shared_roofline"));
  j = good;
  j["shared_rooflines"] = j["shared_roofline"];
  EXPECT_TRUE(refused(j, "shared_rooflines"));
  std::filesystem::remove(path);
}

}  // namespace
