// simgpu's data files: every profile and schedule loads, every value has a
// source, schedules put the ops where their description says (syncs per
// token), and bad files are refused naming the file and the field.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "reference/plan/model_config.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"
#include "support/expect_error.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

Workload q4k_plan(const char* config) {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  return plan_workload(plan::build_plan(plan::preset(config), 1), f);
}

SimResult run(const char* schedule, const char* profile, const Workload& w, int64_t steps = 2) {
  const Profile p = find_profile(profile), peer = find_profile(p.peer);
  SimOptions o;
  o.steps = steps;
  return simulate(w, find_schedule(schedule), p, &peer, o);
}

// A temporary JSON file, removed at the end of the test.
struct TempJson {
  std::string path;
  explicit TempJson(const std::string& text) {
    path = (std::filesystem::temp_directory_path() /
            ("simgpu_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++) + ".json"))
               .string();
    std::ofstream(path) << text;
  }
  ~TempJson() { std::filesystem::remove(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

TEST(SimgpuData, EveryProfileLoadsWithASourceForEveryValueAndItsPeer) {
  const std::vector<std::string> names = profile_names();
  EXPECT_EQ(names, (std::vector<std::string>{"apple-m2max-metal", "apple-m2max-wgpu", "nvidia-h100-cuda",
                                             "nvidia-h100-vulkan"}));
  for (const std::string& n : names) {
    const Profile p = find_profile(n);
    EXPECT_EQ(p.name, n);
    for (const std::string& f : Profile::scalar_field_names()) EXPECT_FALSE(p.field(f).source.empty()) << n << " " << f;
    for (const KernelEfficiency& e : p.efficiency) {
      EXPECT_FALSE(e.bandwidth.source.empty()) << n << " " << e.kind;
      EXPECT_EQ(e.bandwidth.source.find("FIT"), std::string::npos) << n << ": a placeholder left in " << e.kind;
    }
    for (const std::string& f : Profile::scalar_field_names())
      EXPECT_NE(p.field(f).source, "FIT") << n << ": a placeholder left in " << f;
    const Profile peer = find_profile(p.peer);
    EXPECT_EQ(peer.peer, p.name);
    EXPECT_NE(peer.role, p.role);
    EXPECT_EQ(peer.bandwidth_gbps.value, p.bandwidth_gbps.value) << "one device";
  }
}

TEST(SimgpuData, EveryScheduleLoadsUnderItsFileName) {
  const std::vector<std::string> names = schedule_names();
  for (const char* want : {"wgpu-only", "hybrid-per-op", "pure-metal-layer", "shared-events", "deferred-batching",
                           "full-metal", "async-inflight", "sync-every"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  for (const std::string& n : names) {
    const Schedule s = find_schedule(n);
    EXPECT_EQ(s.name, n);
    EXPECT_FALSE(s.source.empty());
  }
}

TEST(SimgpuData, SchedulesSyncAsTheirDescriptionsSay) {
  const Workload w = q4k_plan("2.9b");  // 32 layers, 192 Q4_K matmuls per token
  EXPECT_NEAR(run("wgpu-only", "apple-m2max-wgpu", w).syncs_per_token(), 1, 1e-12);
  EXPECT_NEAR(run("full-metal", "apple-m2max-metal", w).syncs_per_token(), 1, 1e-12);
  // Two CPU round trips per Metal op, then the read-back.
  const SimResult h = run("hybrid-per-op", "apple-m2max-wgpu", w);
  EXPECT_NEAR(h.syncs_per_token(), 2 * 192 + 1, 1e-12);
  EXPECT_NEAR(h.per_token(h.counts.command_buffers), 2 * 192 + 1, 1e-12);
  // Two per layer (the first layer's entry is the hand-off from the embedding), then the head's read-back.
  EXPECT_NEAR(run("pure-metal-layer", "apple-m2max-wgpu", w).syncs_per_token(), 2 * 32 + 1, 1e-12);
  // Shared events: the host waits once per token, the GPU at every hand-off (96 into Metal, 96 back).
  const SimResult e = run("shared-events", "apple-m2max-wgpu", w);
  EXPECT_NEAR(e.per_token(e.counts.cpu_waits), 1, 1e-12);
  EXPECT_NEAR(e.per_token(e.counts.event_waits), 192, 1e-12);
  // Deferred: one command buffer per API, both waited for at the end.
  const SimResult d = run("deferred-batching", "apple-m2max-wgpu", w);
  EXPECT_NEAR(d.per_token(d.counts.command_buffers), 2, 1e-12);
  // Async: a command buffer per layer (+ embedding and head), no waits but the read-back and the in-flight limit.
  const SimResult a = run("async-inflight", "apple-m2max-metal", w);
  EXPECT_NEAR(a.per_token(a.counts.command_buffers), 34, 1e-12);
  EXPECT_LT(a.syncs_per_token(), 34);
}

TEST(SimgpuData, TheMetalOpsAreTheQ4kMatmulsByTheScheduleNotByCode) {
  const Schedule s = find_schedule("hybrid-per-op");
  const Workload w = q4k_plan("2.9b");
  int native = 0;
  for (const Dispatch& d : w.dispatches)
    if (!d.host && s.api_for(d) == "native") {
      ++native;
      EXPECT_EQ(d.kind, "matmul_vec.q4_k") << d.name;
    }
  EXPECT_EQ(native, 192);
  // With fp16 weights nothing matches: the hybrid is the WebGPU pipeline alone.
  const Workload f16 = plan_workload(plan::build_plan(plan::preset("2.9b"), 1), WeightFormats{});
  EXPECT_NEAR(run("hybrid-per-op", "apple-m2max-wgpu", f16).tokens_per_second(),
              [&] {
                Schedule spin = find_schedule("wgpu-only");
                spin.wait_portable = WaitMode::spin;
                const Profile p = find_profile("apple-m2max-wgpu");
                SimOptions o;
                o.steps = 2;
                return simulate(f16, spin, p, nullptr, o).tokens_per_second();
              }(),
              1e-9);
}

TEST(SimgpuData, GlobsMatchStarAndQuestionMark) {
  EXPECT_TRUE(glob_match("blocks.*", "blocks.3.att.matmul_r"));
  EXPECT_TRUE(glob_match("*matmul_?", "blocks.3.att.matmul_r"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("q4_k", "q4_k"));
  EXPECT_FALSE(glob_match("q4_k", "q4_k_m"));
  EXPECT_FALSE(glob_match("blocks.*.ffn.*", "blocks.3.att.matmul_r"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(SimgpuData, BadSchedulesNameTheFileAndTheField) {
  const std::string base = R"("name": "x", "description": "d", "source": "s")";
  {
    TempJson f("{" + base + R"(, "api_switch": "maybe"})");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "api_switch", "maybe", "cpu_wait, shared_event, defer");
  }
  {
    TempJson f("{" + base + R"(, "sync_evry": 3})");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "unknown field 'sync_evry'");
  }
  {
    TempJson f("{" + base + R"(, "split": {"at": "every"}})");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "split.every");
  }
  {
    TempJson f(R"({"name": "x", "description": "d"})");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "field 'source'", "missing");
  }
  {
    TempJson f("{" + base + R"(, "assign": [{"api": "gpu"}]})");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "assign[0].api", "gpu");
  }
  {
    TempJson f("{ not json");
    test::expect_file_error([&] { load_schedule(f.path); }, f.path, "not valid JSON");
  }
  test::expect_error([] { find_schedule("no-such-schedule"); }, "no-such-schedule", "wgpu-only");
}

TEST(SimgpuData, BadProfilesNameTheFileAndTheField) {
  nlohmann::json good = read_json_file(data_dir() + "/profiles/nvidia-h100-cuda.json");
  {
    nlohmann::json j = good;
    j["gap_us"] = 1.85;  // no source
    TempJson f(j.dump());
    test::expect_file_error([&] { load_profile(f.path); }, f.path, "gap_us", "\"source\"");
  }
  {
    nlohmann::json j = good;
    j["gap_us"]["source"] = "";
    TempJson f(j.dump());
    test::expect_file_error([&] { load_profile(f.path); }, f.path, "gap_us", "non-empty");
  }
  {
    nlohmann::json j = good;
    j["efficiency"][1]["bandwidth"]["value"] = 1.5;
    TempJson f(j.dump());
    test::expect_file_error([&] { load_profile(f.path); }, f.path, "efficiency[1].bandwidth", "(0, 1]");
  }
  {
    nlohmann::json j = good;
    j.erase("wait_spin_us");
    TempJson f(j.dump());
    test::expect_file_error([&] { load_profile(f.path); }, f.path, "wait_spin_us", "missing");
  }
  {
    nlohmann::json j = good;
    j["gpu_gap"] = {{"value", 1}, {"source", "typo"}};
    TempJson f(j.dump());
    test::expect_file_error([&] { load_profile(f.path); }, f.path, "unknown field 'gpu_gap'");
  }
  test::expect_error([] { find_profile("no-such-gpu"); }, "no-such-gpu", "nvidia-h100-cuda");
}

}  // namespace
