#pragma once
// The discrete-event model: one host thread and one GPU shared by up to two
// APIs (a WebGPU-style and a Metal/CUDA-style one), each with its own queue,
// programmed with the objects an engineer uses:
//
//   begin(api)          a command buffer with one compute pass (encoder)
//   encode(cb, d)       one dispatch recorded into it (host pays encode_us; an
//                       immediate-launch API such as a CUDA stream launches it at once)
//   signal / wait_event a shared event: a GPU-side signal at the end of one command
//                       buffer and a GPU-side wait at the start of another, also
//                       across the two APIs
//   commit(cb)          submit (host pays submit_us; the GPU may start
//                       submit_latency_us later)
//   wait(cb)            the host blocks until the command buffer completes
//                       (fence): spinning (busy) or sleeping (idle), with the
//                       profile's wake-up latency
//   import_buffer(api)  zero-copy import of a buffer from the other API
//   handoff(api)        the host switches to the other API
//
// Timing rules. The GPU runs one dispatch at a time, command buffers in the
// order they were committed (each queue executes in order; the two queues
// share one engine). A dispatch occupies the GPU for gap_us (plus barrier_us
// if it depends on a dispatch earlier in the same pass) plus its kernel time
// from the roofline; each command buffer adds cb_overhead_us. A command
// buffer starts at the latest of: the GPU being free, its commit plus the
// submit latency, the events it waits for plus their latency.
// Idle GPU time is attributed to "sync" when the GPU drained while the host
// was blocked on it (or a command buffer waited for an event), else to
// "launch" (the host could not encode fast enough).
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/workload.h"

namespace rwkv::simgpu {

// A kernel's time on a profile: its kind's latency plus the roofline of its bytes
// and FLOPs with its kind's efficiencies (or its fixed_us). *bandwidth_bound tells
// which roof (the latency is charged with it).
double kernel_time_us(const Profile& p, const Dispatch& d, bool* bandwidth_bound = nullptr);
// Its fixed time: its kind's latency_us (a merged launch: the largest of its ops' kinds'; fixed_us: 0).
double kernel_latency_us(const Profile& p, const Dispatch& d);
// Its roofline term on the whole device: bytes at the profile's bandwidth or FLOPs at its kind's peak,
// efficiency 1 and a full grid (fixed_us as it is).
double device_roof_us(const Profile& p, const Dispatch& d);

// One API of the run: its profile, how the host waits on it, whether its
// command buffers are replays of recorded ones.
struct ApiSetup {
  const Profile* profile = nullptr;
  WaitMode wait = WaitMode::spin;
  bool replay = false;
  bool pdl = false;  // programmatic dependent launch (used when the profile has pdl_gap_us)
  bool dag = false;  // dispatches wait only for their producers (schedule.h: dag)
  int dag_streams = 8;
};

enum class HostKind : uint8_t { encode, submit, wait, host_work, handoff, import, readback };
std::string_view host_kind_name(HostKind k);

struct HostRecord {
  double start = 0, end = 0;
  HostKind kind = HostKind::encode;
  uint8_t api = 0;
  uint32_t arg = 0;  // dispatch for encode, command buffer for submit and wait
  uint32_t step = 0;
};

struct DeviceRecord {
  double start = 0, end = 0;
  uint32_t dispatch = 0, step = 0, cb = 0;
  uint8_t api = 0;
};

struct CommandBufferRecord {
  double commit = 0, ready = 0, start = 0, complete = 0;
  uint8_t api = 0;
  uint32_t dispatches = 0;
};

// Where the time went, in microseconds of the run.
struct TimeTotals {
  double kernel_bandwidth = 0;  // kernels limited by bytes / bandwidth
  double kernel_compute = 0;    // kernels limited by flops / peak
  double gap = 0;               // per-dispatch GPU overhead and barriers
  double cb_overhead = 0;       // per-command-buffer GPU overhead
  double idle_launch = 0;       // GPU idle while the host encodes or works
  double idle_sync = 0;         // GPU idle while the host wakes from a wait, or a submit/event is in flight
  double host_busy = 0;         // host encoding, submitting, spinning, working
  double gpu_busy() const { return kernel_bandwidth + kernel_compute + gap + cb_overhead; }
};

struct Counts {
  int64_t dispatches = 0, command_buffers = 0, submits = 0;
  int64_t cpu_waits = 0;    // host waits that blocked on the GPU
  int64_t event_waits = 0;  // GPU-side shared-event waits
  int64_t imports = 0, handoffs = 0;
};

class SimDevice {
 public:
  // `apis` indexed by the api numbers used below (the profiles are copied).
  // Kernel times are priced once per (dispatch, api) here. `record` keeps
  // every host and device interval (for traces, dependency checks and
  // functional mode). The workload must outlive the simulation's calls.
  SimDevice(std::vector<ApiSetup> apis, const Workload& workload, size_t steps, bool record);

  uint32_t begin(uint8_t api);
  void encode(uint32_t cb, uint32_t dispatch, uint32_t step);
  uint32_t new_event();
  void signal(uint32_t cb, uint32_t event);
  void wait_event(uint32_t cb, uint32_t event);
  void commit(uint32_t cb);
  // Blocks the host until `cb` completes; returns false (and costs nothing)
  // if it had already completed by the host's time.
  bool wait(uint32_t cb);
  void host_work(double us, HostKind kind, uint8_t api, uint32_t step, uint32_t dispatch = 0);
  void import_buffer(uint8_t api);
  void handoff(uint8_t to_api);
  // Starts the timed run at the host's current time: what happened before
  // (load-time imports) is not counted in the totals.
  void start_clock();
  // The run ends when the host does; attributes the GPU's idle tail.
  void finish();

  double host_now() const { return host_; }
  double device_free() const { return device_free_; }
  bool committed(uint32_t cb) const { return cbs_[cb].committed; }
  bool completed_by_host_time(uint32_t cb) const { return cbs_[cb].committed && cbs_[cb].complete <= host_; }
  const TimeTotals& totals() const { return totals_; }
  const Counts& counts() const { return counts_; }
  const std::vector<HostRecord>& host_records() const { return host_records_; }
  const std::vector<DeviceRecord>& device_records() const { return device_records_; }
  const std::vector<CommandBufferRecord>& command_buffers() const { return cb_records_; }
  // When each op instance (step * ops + op) ran (host ops on the host timeline). Needs record.
  const std::vector<OpRun>& op_runs() const { return op_runs_; }
  // The order in which op instances ran (device start order, host ops by host time). Needs record.
  const std::vector<uint64_t>& run_order() const { return run_order_; }
  const ApiSetup& api(uint8_t a) const { return apis_.at(a); }

 private:
  struct Entry {
    uint32_t dispatch, step;
    bool barrier;
  };
  struct Cb {
    uint8_t api = 0;
    bool committed = false;
    double commit_start = 0, ready = 0, complete = 0;
    bool event_delayed = false;
    int32_t signal_event = -1;
    std::vector<int32_t> wait_events;
    std::vector<Entry> entries;
    uint32_t launched = 0;  // dispatches scheduled so far
    uint64_t epoch = 0;
  };
  struct ApiCost {
    double encode, submit, submit_latency, gap, barrier, cb_overhead, wake, event, cross_event, handoff, import;
    double pdl_gap;
    bool immediate, pdl, dag;
    int dag_streams;
  };
  void schedule(uint32_t cb);
  // A command buffer of a dag schedule: each dispatch after its producers.
  double schedule_dag(Cb& cb, const ApiCost& c, double t);
  void attribute_idle(double idle_from, double start, bool event_delayed);
  void host_interval(double start, double end, HostKind kind, uint8_t api, uint32_t arg, uint32_t step, bool busy);
  bool needs_barrier(const Cb& cb, uint32_t dispatch);

  std::vector<Profile> profiles_;  // copies: the device outlives the caller's profiles
  std::vector<ApiSetup> apis_;
  std::vector<ApiCost> cost_;
  const Workload& w_;
  size_t ops_;
  bool record_;
  std::vector<std::vector<double>> kernel_us_;   // [api][dispatch]
  std::vector<std::vector<uint8_t>> bw_bound_;   // [api][dispatch]
  std::vector<std::vector<double>> latency_us_;  // [api][dispatch]: the kernel time's latency term
  std::vector<std::vector<double>> roof_share_;  // [api][dispatch]: the device share of its roofline term (dag)
  std::vector<std::vector<uint32_t>> producers_;  // dag: per dispatch, the earlier ones of its step it depends on
  std::vector<Cb> cbs_;
  std::vector<double> event_time_;     // < 0: not yet signalled
  std::vector<uint8_t> event_api_;
  double host_ = 0, device_free_ = 0, last_wait_end_ = 0;
  double last_kernel_start_ = 0;  // when the last dispatch's kernel began (after its gap)
  uint32_t step_ = 0;  // the step the host is working on (for the records)
  // Barrier tracking: per resource, the pass epoch it was last read / written in.
  std::vector<uint64_t> read_epoch_, write_epoch_;
  uint64_t epoch_ = 1;
  TimeTotals totals_;
  Counts counts_;
  std::vector<HostRecord> host_records_;
  std::vector<DeviceRecord> device_records_;
  std::vector<CommandBufferRecord> cb_records_;
  std::vector<OpRun> op_runs_;
  std::vector<uint64_t> run_order_;
};

}  // namespace rwkv::simgpu
