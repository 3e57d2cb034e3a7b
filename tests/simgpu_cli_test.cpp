// `rwkv-oracle simulate` as a user meets it: the summary, the listings, the
// sweep's CSV and plot, the functional check's exit status, bad usage.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "support/run_cli.h"

namespace {

using rwkv::test::run_oracle;

std::string temp_path(const std::string& what) {
  return (std::filesystem::temp_directory_path() / ("simgpu_cli_test_" + std::to_string(::getpid()) + "_" + what))
      .string();
}

TEST(SimgpuCli, SimulatePrintsTheFiguresAnEngineerAsksFor) {
  const auto r = run_oracle("simulate --profile apple-m2max-metal --schedule hybrid-per-op --config 2.9b --quant q4_k "
                            "--tokens 4");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* want : {"tokens/s", "dispatches/token      1409", "syncs/token           385", "CPU busy",
                           "GPU busy", "bound                 sync", "apple-m2max-wgpu (portable)",
                           "apple-m2max-metal (native)"})
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
}

TEST(SimgpuCli, ListsEveryScheduleAndProfile) {
  const auto s = run_oracle("simulate --list-schedules");
  ASSERT_EQ(s.status, 0);
  for (const std::string& n : rwkv::simgpu::schedule_names()) EXPECT_NE(s.output.find(n), std::string::npos) << n;
  const auto p = run_oracle("simulate --list-profiles");
  ASSERT_EQ(p.status, 0);
  for (const std::string& n : rwkv::simgpu::profile_names()) EXPECT_NE(p.output.find(n), std::string::npos) << n;
}

TEST(SimgpuCli, BadUsageIsExitTwoWithTheReason) {
  auto r = run_oracle("simulate --profile no-such-gpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown profile 'no-such-gpu'"), std::string::npos) << r.output;
  r = run_oracle("simulate --schedule full-metal --quant q5_k");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("q5_k"), std::string::npos) << r.output;
  r = run_oracle("simulate --sweep");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--sweep needs --out"), std::string::npos) << r.output;
}

TEST(SimgpuCli, SweepWritesTheCsvAndAPngPlot) {
  const std::string dir = temp_path("sweep");
  std::filesystem::remove_all(dir);
  const auto r = run_oracle("simulate --sweep --out " + dir + " --config 2.9b --quant q4_k --tokens 2");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream csv(dir + "/sweep.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header,
            "config,quant,profile,api,sync_every,syncs_per_token,dispatches_per_token,tokens_per_s,cpu_busy,gpu_busy,bound");
  std::map<std::string, std::vector<std::pair<double, double>>> by_profile;  // (syncs, tok/s)
  std::string line;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::vector<std::string> f;
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    ASSERT_EQ(f.size(), 11u) << line;
    EXPECT_EQ(f[0], "2.9b");
    EXPECT_EQ(f[1], "q4_k");
    EXPECT_EQ(f[6], "1409.0");
    by_profile[f[2]].emplace_back(std::stod(f[5]), std::stod(f[7]));
  }
  ASSERT_EQ(by_profile.size(), rwkv::simgpu::profile_names().size());
  for (auto& [name, pts] : by_profile) {
    EXPECT_EQ(pts.size(), 12u) << name;
    std::sort(pts.begin(), pts.end());
    EXPECT_EQ(pts.front().first, 1) << name;      // one sync: the read-back
    EXPECT_EQ(pts.back().first, 1409) << name;    // a sync after every dispatch
    for (size_t i = 1; i < pts.size(); ++i) EXPECT_LE(pts[i].second, pts[i - 1].second) << name;
  }
  std::ifstream png(dir + "/sweep.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // Nothing is overwritten without --force.
  const auto again = run_oracle("simulate --sweep --out " + dir + " --tokens 2");
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
  std::filesystem::remove_all(dir);
}

TEST(SimgpuCli, FunctionalExitsOneOnDeferredBatchingAndZeroOtherwise) {
  auto r = run_oracle("--threads 1 simulate --profile apple-m2max-wgpu --schedule deferred-batching --tokens 2 "
                      "--functional");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("first op whose input was not ready: blocks.0.att.blit_kk"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("functional run on the tiny config"), std::string::npos) << r.output;
  r = run_oracle("--threads 1 simulate --profile apple-m2max-wgpu --schedule shared-events --tokens 2 --functional");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("match the in-order reference bit for bit"), std::string::npos) << r.output;
}

TEST(SimgpuCli, TraceAndReportFilesAreWritten) {
  const std::string trace = temp_path("trace.json"), report = temp_path("report.md");
  std::filesystem::remove(trace);
  std::filesystem::remove(report);
  auto r = run_oracle("simulate --schedule full-metal --profile apple-m2max-metal --config tiny --tokens 2 --trace " +
                      trace);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::filesystem::file_size(trace) > 1000);
  r = run_oracle("simulate --report " + report);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(report);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "# simgpu fidelity: what the simulator explains of the measured figures");
  r = run_oracle("simulate --report " + report);
  EXPECT_EQ(r.status, 2) << r.output;
  std::filesystem::remove(trace);
  std::filesystem::remove(report);
}

}  // namespace
