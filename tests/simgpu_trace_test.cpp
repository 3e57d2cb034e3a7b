// The Chrome trace-event file: host and device lanes, one event per dispatch,
// no two dispatches overlapping on the GPU, and no overwriting without force.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "reference/plan/model_config.h"
#include "simgpu/trace.h"
#include "simgpu/workload.h"
#include "support/expect_error.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

struct Traced {
  Workload w;
  SimResult r;
};

Traced traced(const char* schedule, int64_t steps) {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  Traced t{plan_workload(plan::build_plan(plan::preset("tiny"), 1), f), {}};
  const Profile p = find_profile("apple-m2max-wgpu"), peer = find_profile(p.peer);
  SimOptions o;
  o.steps = steps;
  o.record = true;
  t.r = simulate(t.w, find_schedule(schedule), p, &peer, o);
  return t;
}

TEST(SimgpuTrace, HostAndDeviceLanesWithEveryDispatch) {
  const Traced t = traced("hybrid-per-op", 2);
  const nlohmann::json j = chrome_trace(t.r, t.w);
  ASSERT_TRUE(j.contains("traceEvents"));
  std::vector<std::pair<double, double>> gpu;
  int host_waits = 0, names = 0;
  for (const nlohmann::json& e : j["traceEvents"]) {
    if (e["ph"] == "M") {
      ++names;
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    EXPECT_GE(e["dur"].get<double>(), 0);
    if (e["cat"] == "dispatch") gpu.emplace_back(e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>());
    if (e["pid"] == 1 && e["name"] == "wait") ++host_waits;
  }
  EXPECT_EQ(gpu.size(), size_t(2 * t.w.gpu_dispatches()));
  EXPECT_EQ(host_waits, t.r.counts.cpu_waits);
  EXPECT_GE(names, 5);  // host process and thread, device process, two queues (+ their command-buffer lanes)
  std::sort(gpu.begin(), gpu.end());
  for (size_t i = 1; i < gpu.size(); ++i) EXPECT_LE(gpu[i - 1].second, gpu[i].first + 1e-9) << i;
  EXPECT_LE(gpu.back().second, t.r.total_us + 1e-9);
  EXPECT_EQ(j["otherData"]["schedule"], "hybrid-per-op");
}

TEST(SimgpuTrace, NeedsARecordedRunAndRefusesToOverwrite) {
  Traced t = traced("wgpu-only", 1);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("simgpu_trace_test_" + std::to_string(::getpid()) + ".json")).string();
  std::filesystem::remove(path);
  write_chrome_trace(t.r, t.w, path, false);
  EXPECT_TRUE(nlohmann::json::parse(std::ifstream(path)).contains("traceEvents"));
  test::expect_file_error([&] { write_chrome_trace(t.r, t.w, path, false); }, path, "already exists");
  write_chrome_trace(t.r, t.w, path, true);
  std::filesystem::remove(path);
  t.r.device.reset();
  EXPECT_THROW(chrome_trace(t.r, t.w), std::invalid_argument);
}

}  // namespace
