// The discrete-event model against closed forms (one dispatch; N dispatches
// and one sync; k syncs; a CUDA-style stream; replay; a shared event across
// two APIs), monotonicity (more syncs never faster for the same work), every
// dependency honoured by every schedule but deferred batching, and the
// measured H100 sweep.
#include <gtest/gtest.h>

#include <cmath>

#include "reference/plan/model_config.h"
#include "reference/util/rng.h"
#include "simgpu/fidelity.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

// A profile with a distinct value in every field, so a closed form that uses
// the wrong one fails.
Profile test_profile(const std::string& name, const std::string& role, bool immediate = false) {
  Profile p;
  p.name = p.api = p.device = name;
  p.role = role;
  p.immediate_launch = immediate;
  for (const std::string& f : Profile::scalar_field_names()) p.field(f) = {0, "test"};
  p.bandwidth_gbps = {1000, "test"};
  p.peak_gflops = {1e6, "test"};
  p.encode_us.value = 1.5;
  p.submit_us.value = 7;
  p.submit_latency_us.value = 11;
  p.cb_overhead_us.value = 3;
  p.gap_us.value = 2;
  p.barrier_us.value = 0.25;
  p.wait_spin_us.value = 5;
  p.wait_sleep_us.value = 50;
  p.event_us.value = 13;
  p.cross_event_us.value = 17;
  p.handoff_us.value = 19;
  p.replay_encode_us.value = 0.1;
  p.replay_submit_us.value = 4;
  p.replay_gap_us.value = 0.5;
  p.efficiency.push_back({"default", {1, "test"}, {1, "test"}});
  return p;
}

Schedule one_buffer(WaitMode wait = WaitMode::spin) {
  Schedule s;
  s.name = "one command buffer per step";
  s.default_api = "profile";
  s.wait_portable = s.wait_native = wait;
  return s;
}

Schedule sync_every(int64_t n) {
  Schedule s = one_buffer();
  s.name = "sync every n";
  s.split.at = "every";
  s.split.every = n;
  return s;
}

SimResult run(const Workload& w, const Schedule& s, const Profile& p, int64_t steps, const Profile* peer = nullptr) {
  SimOptions o;
  o.steps = steps;
  o.record = true;
  return simulate(w, s, p, peer, o);
}

TEST(SimgpuEngine, OneDispatch) {
  const Profile p = test_profile("gpu", "native");
  const double T = 4;
  const SimResult r = run(synthetic_workload(1, T), one_buffer(), p, 3);
  // encode + submit + latency + command-buffer overhead + gap + kernel + wake, step after step.
  const double step = 1.5 + 7 + 11 + 3 + 2 + T + 5;
  EXPECT_NEAR(r.total_us, 3 * step, 1e-9);
  EXPECT_EQ(r.counts.dispatches, 3);
  EXPECT_EQ(r.counts.cpu_waits, 3);
  EXPECT_NEAR(r.syncs_per_token(), 1, 1e-12);
  // The host spins through its wait: busy encoding, submitting and waiting (latency + overhead + gap + kernel + wake).
  EXPECT_NEAR(r.time.host_busy, 3 * step, 1e-9);
  EXPECT_NEAR(r.time.gpu_busy(), 3 * (3 + 2 + T), 1e-9);
}

TEST(SimgpuEngine, SleepingWaitsLeaveTheHostIdle) {
  const Profile p = test_profile("gpu", "native");
  const SimResult r = run(synthetic_workload(1, 4), one_buffer(WaitMode::sleep), p, 1);
  EXPECT_NEAR(r.total_us, 1.5 + 7 + 11 + 3 + 2 + 4 + 50, 1e-9);
  EXPECT_NEAR(r.time.host_busy, 1.5 + 7, 1e-9);
}

TEST(SimgpuEngine, NDispatchesAndOneSync) {
  const Profile p = test_profile("gpu", "native");
  const int N = 10;
  const double T = 4;
  const SimResult r = run(synthetic_workload(N, T), one_buffer(), p, 2);
  // The chain depends on itself: every dispatch after the first pays a barrier.
  const double step = N * 1.5 + 7 + 11 + 3 + N * (2 + T) + (N - 1) * 0.25 + 5;
  EXPECT_NEAR(r.total_us, 2 * step, 1e-9);
  EXPECT_NEAR(r.dispatches_per_token(), N, 1e-12);
  EXPECT_NEAR(r.per_token(r.counts.command_buffers), 1, 1e-12);
  // Independent dispatches pay no barrier.
  const std::vector<Dispatch> ds(N, synthetic_workload(1, T).dispatches[0]);
  const SimResult ind = run(dispatch_list_workload("independent", ds), one_buffer(), p, 2);
  EXPECT_NEAR(ind.total_us, 2 * (step - (N - 1) * 0.25), 1e-9);
}

TEST(SimgpuEngine, KSyncs) {
  const Profile p = test_profile("gpu", "native");
  const int N = 12;
  const double T = 3;
  for (int k : {1, 2, 3, 4, 6, 12}) {
    const int n = N / k;
    const SimResult r = run(synthetic_workload(N, T), sync_every(n), p, 2);
    const double segment = n * 1.5 + 7 + 11 + 3 + n * (2 + T) + (n - 1) * 0.25 + 5;
    EXPECT_NEAR(r.total_us, 2 * k * segment, 1e-9) << k;
    EXPECT_NEAR(r.syncs_per_token(), k, 1e-12) << k;
  }
}

TEST(SimgpuEngine, AStreamLaunchesEachDispatchAsItIsEncoded) {
  // CUDA-style: no command buffers, each launch reaches the GPU after the latency.
  Profile p = test_profile("stream", "native", true);
  p.encode_us.value = 3, p.submit_us.value = 0, p.submit_latency_us.value = 2, p.cb_overhead_us.value = 0;
  p.gap_us.value = 1, p.barrier_us.value = 0;
  const int N = 10;
  // GPU-bound (gap + T > launch): launch + latency, then back to back.
  EXPECT_NEAR(run(synthetic_workload(N, 5), one_buffer(), p, 1).total_us, 3 + 2 + N * (1 + 5) + 5, 1e-9);
  // Host-bound (gap + T < launch): the last launch ends at 3N, then latency, gap, kernel, wake.
  EXPECT_NEAR(run(synthetic_workload(N, 0.5), one_buffer(), p, 1).total_us, 3 * N + 2 + 1 + 0.5 + 5, 1e-9);
  // t_token = sum max(T + g, L) + N_sync * c_sync (validation-and-costs.md 3.2), with a sync after every
  // kernel: c_sync = wake + latency + min(L, T + g).
  const SimResult every = run(synthetic_workload(N, 5), sync_every(1), p, 1);
  EXPECT_NEAR(every.total_us, N * (3 + 2 + 1 + 5 + 5), 1e-9);
}

TEST(SimgpuEngine, ReplayedCommandBuffersUseTheReplayCosts) {
  const Profile p = test_profile("gpu", "native");
  Schedule s = one_buffer();
  s.replay = true;
  const int N = 8;
  const double T = 2;
  const SimResult r = run(synthetic_workload(N, T), s, p, 1);
  EXPECT_NEAR(r.total_us, N * 0.1 + 4 + 11 + 3 + N * (0.5 + T) + (N - 1) * 0.25 + 5, 1e-9);
}

TEST(SimgpuEngine, ASharedEventOrdersTwoApisOnTheGpu) {
  Profile a = test_profile("portable-api", "portable"), b = test_profile("native-api", "native");
  a.peer = b.name, b.peer = a.name;
  b.encode_us.value = 0.75, b.gap_us.value = 1, b.cb_overhead_us.value = 4, b.submit_latency_us.value = 6,
  b.wait_spin_us.value = 9;
  Schedule s = one_buffer();
  s.default_api = "portable";
  s.assign = {{"native", "b.*", "*", "*"}};
  s.api_switch = Sync::shared_event;
  const double T = 10;
  std::vector<Dispatch> ds;
  for (int i = 0; i < 3; ++i) ds.push_back(synthetic_workload(1, T).dispatches[0]), ds.back().name = "a." + std::to_string(i);
  for (int i = 0; i < 2; ++i) ds.push_back(synthetic_workload(1, T).dispatches[0]), ds.back().name = "b." + std::to_string(i);
  const SimResult r = run(dispatch_list_workload("a then b", ds), s, a, 1, &b);
  // Host: A's three dispatches, commit (no wait), hand-off, B's two, commit, then waits for both.
  const double hA = 3 * 1.5 + 7, completeA = hA + 11 + 3 + 3 * (2 + T);
  const double hB = hA + 19 + 2 * 0.75 + 7;
  const double readyB = std::max(hB + 6, completeA + 17);  // the event crosses APIs: cross_event_us
  const double completeB = std::max(completeA, readyB) + 4 + 2 * (1 + T);
  const double host = std::max(hB, completeA + 5);  // waits for A (it completes after hB)
  EXPECT_NEAR(r.total_us, std::max(host, completeB + 9), 1e-9);
  EXPECT_EQ(r.counts.event_waits, 1);
  EXPECT_EQ(r.counts.handoffs, 1);
  ASSERT_EQ(r.device->command_buffers().size(), 2u);
  EXPECT_NEAR(r.device->command_buffers()[1].start, readyB, 1e-9);
}

TEST(SimgpuEngine, ACpuWaitHandOffWaitsForTheFirstApiBeforeEncodingOnTheSecond) {
  Profile a = test_profile("portable-api", "portable"), b = test_profile("native-api", "native");
  a.peer = b.name, b.peer = a.name;
  Schedule s = one_buffer();
  s.default_api = "portable";
  s.assign = {{"native", "b.*", "*", "*"}};
  s.api_switch = Sync::cpu_wait;
  std::vector<Dispatch> ds(2, synthetic_workload(1, 10).dispatches[0]);
  ds[0].name = "a.0", ds[1].name = "b.0";
  const SimResult r = run(dispatch_list_workload("a then b", ds), s, a, 1, &b);
  const double a_done = 1.5 + 7 + 11 + 3 + 2 + 10 + 5;  // A's one-dispatch round trip
  const double b_done = a_done + 19 + 1.5 + 7 + 11 + 3 + 2 + 10 + 5;
  EXPECT_NEAR(r.total_us, b_done, 1e-9);
  EXPECT_EQ(r.counts.cpu_waits, 2);
}

TEST(SimgpuEngine, TheBoundIsTheLargestShareOfTheTime) {
  Profile p = test_profile("gpu", "native");
  EXPECT_EQ(run(synthetic_workload(10, 1000), one_buffer(), p, 2).bound(), "bandwidth");
  p.encode_us.value = 500;  // the host cannot keep up
  EXPECT_EQ(run(synthetic_workload(10, 1), one_buffer(), p, 2).bound(), "launch");
  p.encode_us.value = 1.5, p.wait_spin_us.value = 1000;  // every sync is slow
  EXPECT_EQ(run(synthetic_workload(10, 1), sync_every(1), p, 2).bound(), "sync");
  // Compute-bound: FLOPs over a low peak.
  p.wait_spin_us.value = 5, p.peak_gflops.value = 1;
  Workload w = synthetic_workload(4, 0);
  for (Dispatch& d : w.dispatches) d.fixed_us = -1, d.flops = 1e6, d.bytes_read = 1;
  EXPECT_EQ(run(w, one_buffer(), p, 1).bound(), "compute");
}

// Adding sync points to the same work never makes it faster. (Moving them can:
// a sync where the host runs ahead of the GPU drains the queue, one where the
// GPU waits on the host anyway costs little, so syncs at every 33 dispatches
// can beat syncs at every 44 on a launch-bound stream. Hence nested sets.)
TEST(SimgpuEngine, AddingSyncsIsNeverFasterForTheSameWork) {
  const Workload big = plan_workload(plan::build_plan(plan::preset("2.9b"), 1), [] {
    WeightFormats f;
    f.layer = WeightFormat::q4_k;
    return f;
  }());
  const Workload tiny = plan_workload(plan::build_plan(plan::preset("tiny"), 1), WeightFormats{});
  std::vector<Profile> profiles;
  for (const std::string& n : profile_names()) profiles.push_back(find_profile(n));
  profiles.push_back(test_profile("test", "native"));
  profiles.push_back(test_profile("test-stream", "native", true));
  for (const Workload* w : {&big, &tiny}) {
    for (const Profile& p : profiles) {
      for (bool replay : {false, true}) {
        // Sync every S dispatches: S = 3 * 2^k gives nested sets of sync points, as do 1 and 0 (none).
        double previous = 0;
        for (int64_t every : {1, 3, 6, 12, 24, 48, 96, 192, 384, 768, 1536, 0}) {
          Schedule s = every > 0 ? sync_every(every) : one_buffer();
          s.replay = replay;
          SimOptions o;
          o.steps = 3;
          const double t = simulate(*w, s, p, nullptr, o).total_us;
          if (every != 1) {
            EXPECT_LE(t, previous * (1 + 1e-12)) << p.name << " " << w->name << " every " << every;
          }
          previous = t;
        }
      }
    }
  }
}

// The same on the device itself, with random nested sets of sync points.
double run_with_syncs(const Workload& w, const Profile& p, const std::vector<bool>& sync_after, int steps) {
  SimDevice dev({ApiSetup{&p, WaitMode::spin, false}}, w, size_t(steps), false);
  for (int s = 0; s < steps; ++s) {
    int64_t cb = -1;
    for (size_t i = 0; i < w.dispatches.size(); ++i) {
      if (w.dispatches[i].host) continue;
      if (cb < 0) cb = dev.begin(0);
      dev.encode(uint32_t(cb), uint32_t(i), uint32_t(s));
      if (sync_after[i] || i + 1 == w.dispatches.size()) {
        dev.commit(uint32_t(cb));
        dev.wait(uint32_t(cb));
        cb = -1;
      }
    }
  }
  dev.finish();
  return dev.device_free();
}

TEST(SimgpuEngine, RandomNestedSyncSetsOnTheDevice) {
  const Workload w = plan_workload(plan::build_plan(plan::preset("0.1b"), 1), WeightFormats{});
  Rng rng(2027);
  std::vector<Profile> profiles;
  for (const std::string& n : profile_names()) profiles.push_back(find_profile(n));
  profiles.push_back(test_profile("test-stream", "native", true));
  for (const Profile& p : profiles) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<bool> few(w.dispatches.size(), false), more;
      for (size_t i = 0; i < few.size(); ++i) few[i] = rng.next_u32() % 50 == 0;
      more = few;
      for (size_t i = 0; i < more.size(); ++i) more[i] = more[i] || rng.next_u32() % 20 == 0;
      EXPECT_LE(run_with_syncs(w, p, few, 2), run_with_syncs(w, p, more, 2) * (1 + 1e-12)) << p.name << " " << trial;
    }
  }
}

TEST(SimgpuEngine, EveryScheduleButDeferredBatchingHonoursEveryDependency) {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  for (const char* cfg : {"tiny", "2.9b"}) {
    const Workload w = plan_workload(plan::build_plan(plan::preset(cfg), 1), f);
    for (const char* pair : {"apple-m2max-wgpu", "nvidia-h100-vulkan"}) {
      const Profile p = find_profile(pair), peer = find_profile(p.peer);
      for (const std::string& sn : schedule_names()) {
        const SimResult r = run(w, find_schedule(sn), p, 3, &peer);
        const std::vector<Violation> v = find_violations(w.resources, 3, r.device->op_runs());
        if (sn == "deferred-batching") {
          ASSERT_FALSE(v.empty()) << cfg << " " << pair;
          EXPECT_EQ(w.dispatches[v[0].consumer].name, "blocks.0.att.blit_kk");
          EXPECT_EQ(w.dispatches[v[0].producer].name, "blocks.0.att.matmul_k");
          EXPECT_EQ(w.resources.names[v[0].resource], "k");
        } else {
          EXPECT_TRUE(v.empty()) << sn << " " << cfg << " " << pair << ": " << w.dispatches[v[0].consumer % w.dispatches.size()].name;
        }
        // Every op instance ran exactly once.
        EXPECT_EQ(r.device->run_order().size(), 3 * w.dispatches.size()) << sn;
      }
    }
  }
}

TEST(SimgpuEngine, TheH100ProfilesReproduceTheMeasuredSweep) {
  const std::vector<H100SweepPoint> pts = h100_sweep(find_profile("nvidia-h100-cuda"), find_profile("nvidia-h100-vulkan"));
  ASSERT_EQ(pts.size(), 28u);
  double sum = 0;
  for (const H100SweepPoint& p : pts) {
    EXPECT_LT(std::fabs(p.error()), 0.12) << p.api << " K=" << p.K << " T=" << p.kernel_us << " syncs=" << p.syncs
                                          << ": measured " << p.measured << ", simulated " << p.predicted;
    sum += std::fabs(p.error());
  }
  EXPECT_LT(sum / double(pts.size()), 0.05);
}

TEST(SimgpuEngine, SchedulesNeedingTheOtherApiNameTheMissingPeer) {
  Profile lone = test_profile("lone", "portable");
  const Workload w = plan_workload(plan::build_plan(plan::preset("tiny"), 1), WeightFormats{});
  try {
    run(w, find_schedule("full-metal"), lone, 1);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("native"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("names no peer"), std::string::npos) << e.what();
  }
}

}  // namespace

// The kernel term: latency + roofline, a small grid getting its share of the device.
TEST(SimgpuEngine, KernelLatencyAndFullGridClosedForm) {
  Profile p = test_profile("gpu", "native");  // 1000 GB/s = 1e6 B/us, 1e6 GFLOP/s
  p.efficiency.push_back({"k", {0.5, "test"}, {1, "test"}});
  Dispatch d;
  d.kind = "k";
  d.bytes_read = 1e6;  // 2 us at half the bandwidth
  d.grid = {25, 1, 1};
  EXPECT_NEAR(kernel_time_us(p, d), 2, 1e-12) << "no latency_us, no full_grid: the pure roofline";
  p.efficiency.back().latency = {3, "test"};
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 2, 1e-12);
  p.efficiency.back().full_grid = Sourced{100, "test"};
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 2 * 100.0 / 25, 1e-12) << "25 of 100 workgroups: a quarter of the device";
  d.grid = {400, 1, 1};
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 2, 1e-12) << "a full grid reaches the efficiency";
  // A kind's own peak (the tensor cores') replaces the profile's for its compute roof.
  d.flops = 4e9;  // 4 us at the profile's 1e6 GFLOP/s (1e9 FLOP per us): compute-bound
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 4, 1e-12);
  p.efficiency.back().peak_gflops = Sourced{8e6, "test"};
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 2, 1e-12) << "0.5 us of compute at 8e6 GFLOP/s, under the 2 us of bytes";
  d.flops = 40e9;
  EXPECT_NEAR(kernel_time_us(p, d), 3 + 5, 1e-12) << "5 us at the kind's peak";
  d.flops = 0;
  p.efficiency.back().peak_gflops.reset();
  // Monotone: more bytes or flops never faster, a larger grid (up to full) never slower.
  double prev = 0;
  for (double b : {0.0, 1e3, 1e5, 1e6, 1e8}) {
    d.bytes_read = b;
    const double t = kernel_time_us(p, d);
    EXPECT_GE(t, prev) << b;
    EXPECT_GE(t, 3) << "never below the latency";
    prev = t;
  }
  prev = 1e300;
  for (int64_t wg : {1, 10, 50, 100, 1000}) {
    d.grid = {wg, 1, 1};
    const double t = kernel_time_us(p, d);
    EXPECT_LE(t, prev) << wg;
    prev = t;
  }
}

TEST(SimgpuEngine, ProfilesWithoutTheNewFieldsPriceAsBefore) {
  for (const char* n : {"nvidia-h100-cuda", "nvidia-h100-vulkan", "apple-m2max-metal", "apple-m2max-wgpu"}) {
    const Profile p = find_profile(n);
    EXPECT_FALSE(p.pdl_gap_us.has_value()) << n;
    for (const KernelEfficiency& e : p.efficiency) {
      EXPECT_EQ(e.latency.value, 0) << n << " " << e.kind;
      EXPECT_FALSE(e.full_grid.has_value()) << n << " " << e.kind;
    }
    // A pdl schedule on a profile without pdl_gap_us runs exactly as without pdl.
    const Workload w = plan_workload(plan::build_plan(plan::preset("0.1b"), 1), WeightFormats{});
    for (bool replay : {false, true}) {
      Schedule s = one_buffer();
      s.replay = replay;
      const double t0 = run(w, s, p, 2).total_us;
      s.pdl = true;
      EXPECT_EQ(run(w, s, p, 2).total_us, t0) << n;
    }
  }
}

// Programmatic dependent launch: launched while its predecessor runs, a dispatch waits for it
// only pdl_gap_us; it cannot be launched before the predecessor's kernel starts, so a kernel
// shorter than gap - pdl_gap hides only its own length.
TEST(SimgpuEngine, ProgrammaticDependentLaunchClosedForm) {
  Profile p = test_profile("gpu", "native");
  p.pdl_gap_us = Sourced{0.125, "test"};
  Schedule s = one_buffer();
  s.replay = true;
  s.pdl = true;
  const int N = 8;
  const double ready = N * 0.1 + 4 + 11 + 3;  // replay encode, launch, latency, command-buffer overhead
  {
    const double T = 2;  // long kernels: each follows its predecessor by pdl_gap (+ the barrier)
    const SimResult r = run(synthetic_workload(N, T), s, p, 1);
    EXPECT_NEAR(r.total_us, ready + 0.5 + T + (N - 1) * (0.125 + 0.25 + T) + 5, 1e-9);
  }
  {
    const double T = 0.1;  // shorter than gap - pdl_gap: kernel starts are a replay gap apart
    const SimResult r = run(synthetic_workload(N, T), s, p, 1);
    EXPECT_NEAR(r.total_us, ready + 0.5 + T + (N - 1) * (0.5 + 0.25) + 5, 1e-9);
  }
  {
    // A stream (immediate launch), the host far ahead of 20 us kernels.
    Profile q = test_profile("gpu", "native", true);
    q.pdl_gap_us = Sourced{0.125, "test"};
    Schedule t = one_buffer();
    t.pdl = true;
    const double T = 20;
    const SimResult r = run(synthetic_workload(N, T), t, q, 1);
    EXPECT_NEAR(r.total_us, 1.5 + 11 + 2 + T + (N - 1) * (0.125 + 0.25 + T) + 5, 1e-9);
    t.pdl = false;
    EXPECT_NEAR(run(synthetic_workload(N, T), t, q, 1).total_us, 1.5 + 11 + N * (2 + T) + (N - 1) * 0.25 + 5, 1e-9);
  }
}

TEST(SimgpuEngine, AddingSyncsIsNeverFasterWithLatencyAndPdl) {
  Profile stream = test_profile("test-stream-pdl", "native", true);
  stream.pdl_gap_us = Sourced{0.3, "test"};
  stream.efficiency[0].latency = {1.25, "test"};
  Profile graph = test_profile("test-pdl", "native");
  graph.pdl_gap_us = Sourced{0.1, "test"};
  graph.efficiency[0].latency = {0.75, "test"};
  graph.efficiency[0].full_grid = Sourced{64, "test"};
  const Workload w = plan_workload(plan::build_plan(plan::preset("0.1b"), 1), WeightFormats{});
  for (const Profile* p : {&stream, &graph})
    for (bool replay : {false, true}) {
      double previous = 0;
      for (int64_t every : {1, 3, 6, 12, 24, 48, 96, 192, 384, 0}) {
        Schedule s = every > 0 ? sync_every(every) : one_buffer();
        s.replay = replay;
        s.pdl = true;
        SimOptions o;
        o.steps = 3;
        const double t = simulate(w, s, *p, nullptr, o).total_us;
        if (every != 1) {
          EXPECT_LE(t, previous * (1 + 1e-12)) << p->name << " every " << every;
        }
        previous = t;
      }
    }
}

namespace {

// dag (the CUDA backend's cuda:graph,dag): a dependent chain prices as in
// sequence; independent dispatches overlap their gaps and latencies but not
// their roofline terms; on a real plan no dispatch starts before one it
// depends on has ended (simgpu's hazard checker).
TEST(SimgpuEngine, DagOverlapsOnlyWhatTheDependenciesAllow) {
  Profile p = test_profile("gpu", "native");
  p.pdl_gap_us = Sourced{0.125, "test"};
  p.efficiency.push_back({"k", {0.5, "test"}, {1, "test"}});
  p.efficiency.back().latency = {3, "test"};
  Schedule s = one_buffer();
  s.replay = true;
  Schedule d = s;
  d.dag = true;
  for (bool pdl : {false, true}) {
    s.pdl = d.pdl = pdl;
    const Workload chain = synthetic_workload(8, 2);
    EXPECT_NEAR(run(chain, d, p, 2).total_us, run(chain, s, p, 2).total_us, 1e-9) << "pdl " << pdl;
  }
  s.pdl = d.pdl = false;
  std::vector<Dispatch> list(4);
  for (Dispatch& x : list) x.kind = "k", x.bytes_read = 1e6, x.grid = {64, 1, 1};  // 3 us latency + 2 us of bytes
  const Workload independent = dispatch_list_workload("four", list);
  const double gap = p.replay_gap_us.value;
  EXPECT_NEAR(run(independent, s, p, 1).total_us - run(independent, d, p, 1).total_us, 3 * (gap + 3), 1e-9)
      << "four side by side: one gap and one latency, four roofline terms";
  d.dag_streams = 1;
  EXPECT_NEAR(run(independent, d, p, 1).total_us, run(independent, s, p, 1).total_us, 1e-9) << "one stream";
  d.dag_streams = 8;
  d.pdl = true;
  const Workload w = plan_workload(plan::build_plan(plan::preset("0.1b"), 1), WeightFormats{});
  const SimResult r = run(w, d, p, 3);
  EXPECT_TRUE(find_violations(w.resources, 3, r.device->op_runs()).empty());
  EXPECT_LT(r.total_us, run(w, s, p, 3).total_us) << "the LoRA paths and token shifts overlap";
}

}  // namespace
