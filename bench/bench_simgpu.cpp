// simgpu's speed in timing-only mode: simulated dispatches per second (the
// issue asks for at least one million). Each iteration simulates 16 decode
// steps of the 2.9B plan (1409 dispatches each) under one schedule; the
// counter dispatches_per_s is simulated GPU dispatches per wall-clock second
// (real time, so a busy machine errs low).
//
//   BM_SimgpuTiming/<schedule>   timing only (no intervals kept)
//   BM_SimgpuRecorded/<schedule> every interval kept (trace, dependency check)
#include <benchmark/benchmark.h>

#include "reference/plan/model_config.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

const char* kSchedules[] = {"wgpu-only", "hybrid-per-op", "pure-metal-layer", "shared-events",
                            "deferred-batching", "full-metal", "async-inflight"};

const Workload& workload() {
  static const Workload w = [] {
    WeightFormats f;
    f.layer = WeightFormat::q4_k;
    return plan_workload(plan::build_plan(plan::preset("2.9b"), 1), f);
  }();
  return w;
}

void run(benchmark::State& state, bool record) {
  const Schedule s = find_schedule(kSchedules[state.range(0)]);
  const Profile p = find_profile("apple-m2max-wgpu"), peer = find_profile(p.peer);
  SimOptions o;
  o.steps = 16;
  o.record = record;
  int64_t dispatches = 0, syncs = 0;
  for (auto _ : state) {
    const SimResult r = simulate(workload(), s, p, &peer, o);
    benchmark::DoNotOptimize(r.total_us);
    dispatches += r.counts.dispatches;
    syncs += r.counts.cpu_waits + r.counts.event_waits;
  }
  state.SetLabel(s.name);
  state.counters["dispatches_per_s"] = benchmark::Counter(double(dispatches), benchmark::Counter::kIsRate);
  state.counters["syncs_per_s"] = benchmark::Counter(double(syncs), benchmark::Counter::kIsRate);
}

void BM_SimgpuTiming(benchmark::State& state) { run(state, false); }
void BM_SimgpuRecorded(benchmark::State& state) { run(state, true); }

BENCHMARK(BM_SimgpuTiming)->DenseRange(0, 6)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SimgpuRecorded)->DenseRange(0, 6)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
