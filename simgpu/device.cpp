#include "simgpu/device.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

std::string_view host_kind_name(HostKind k) {
  switch (k) {
    case HostKind::encode: return "encode";
    case HostKind::submit: return "submit";
    case HostKind::wait: return "wait";
    case HostKind::host_work: return "host work";
    case HostKind::handoff: return "handoff";
    case HostKind::import: return "import";
    case HostKind::readback: return "readback";
  }
  return "?";
}

double kernel_time_us(const Profile& p, const Dispatch& d, bool* bandwidth_bound) {
  if (d.fixed_us >= 0) {
    if (bandwidth_bound) *bandwidth_bound = true;
    return d.fixed_us;
  }
  const KernelEfficiency& e = p.efficiency_for(d.kind);
  const double tb = (d.bytes_read + d.bytes_written) / (p.bandwidth_gbps.value * 1e3 * e.bandwidth.value);
  const double peak = e.peak_gflops ? e.peak_gflops->value : p.peak_gflops.value;
  const double tc = d.flops / (peak * 1e3 * e.compute.value);
  if (bandwidth_bound) *bandwidth_bound = tb >= tc;
  // A grid smaller than the kind's full grid leaves part of the device idle.
  const double fill = e.full_grid ? std::min(1.0, double(d.workgroups()) / e.full_grid->value) : 1.0;
  return kernel_latency_us(p, d) + std::max(tb, tc) / fill;
}

double device_roof_us(const Profile& p, const Dispatch& d) {
  if (d.fixed_us >= 0) return d.fixed_us;
  const KernelEfficiency& e = p.efficiency_for(d.kind);
  const double peak = e.peak_gflops ? e.peak_gflops->value : p.peak_gflops.value;
  return std::max((d.bytes_read + d.bytes_written) / (p.bandwidth_gbps.value * 1e3), d.flops / (peak * 1e3));
}

double kernel_latency_us(const Profile& p, const Dispatch& d) {
  if (d.fixed_us >= 0) return 0;
  if (d.merged_kinds.empty()) return p.efficiency_for(d.kind).latency.value;
  // A merged launch's stages follow one another in each block, so their latencies (each op's own
  // chain of loads, arithmetic and stores, as calibrated: an empty kernel's cost taken out) add,
  // less the dependent input load each later stage no longer makes (merged_load_us); never less
  // than its slowest stage.
  const double saved = p.merged_load_us ? p.merged_load_us->value : 0.0;
  double sum = 0, slowest = 0;
  for (size_t k = 0; k < d.merged_kinds.size(); ++k) {
    const double l = p.efficiency_for(d.merged_kinds[k]).latency.value;
    sum += k == 0 ? l : std::max(0.0, l - saved);
    slowest = std::max(slowest, l);
  }
  return std::max(sum, slowest);
}

SimDevice::SimDevice(std::vector<ApiSetup> apis, const Workload& workload, size_t steps, bool record)
    : apis_(std::move(apis)), w_(workload), ops_(workload.dispatches.size()), record_(record) {
  if (workload.resources.ops.size() != ops_)
    throw std::invalid_argument(fmt::format("simgpu: workload '{}' has {} dispatches but {} resource entries",
                                            workload.name, ops_, workload.resources.ops.size()));
  profiles_.reserve(apis_.size());
  for (ApiSetup& a : apis_) {
    if (!a.profile) throw std::invalid_argument("simgpu: an API without a profile");
    profiles_.push_back(*a.profile);
    a.profile = &profiles_.back();
    const Profile& p = *a.profile;
    ApiCost c;
    c.encode = a.replay ? p.replay_encode_us.value : p.encode_us.value;
    c.submit = a.replay ? p.replay_submit_us.value : p.submit_us.value;
    c.gap = a.replay ? p.replay_gap_us.value : p.gap_us.value;
    c.submit_latency = p.submit_latency_us.value;
    c.barrier = p.barrier_us.value;
    c.cb_overhead = p.cb_overhead_us.value;
    c.wake = a.wait == WaitMode::spin ? p.wait_spin_us.value : p.wait_sleep_us.value;
    c.event = p.event_us.value;
    c.cross_event = p.cross_event_us.value;
    c.handoff = p.handoff_us.value;
    c.import = p.import_us.value;
    c.immediate = p.immediate_launch && !a.replay;
    c.pdl = a.pdl && p.pdl_gap_us.has_value();
    c.pdl_gap = c.pdl ? p.pdl_gap_us->value : c.gap;
    c.dag = a.dag;
    c.dag_streams = std::max(1, a.dag_streams);
    cost_.push_back(c);
    // Price every dispatch on this API once.
    std::vector<double> t(ops_), lat(ops_), share(ops_, 1.0);
    std::vector<uint8_t> bw(ops_);
    for (size_t i = 0; i < ops_; ++i) {
      bool b = true;
      const Dispatch& d = workload.dispatches[i];
      t[i] = kernel_time_us(p, d, &b);
      lat[i] = std::min(t[i], kernel_latency_us(p, d));
      // The share of the device its roofline term takes (1: the whole device, the terms one at a time).
      if (p.shared_roofline && t[i] > lat[i]) share[i] = std::min(1.0, device_roof_us(p, d) / (t[i] - lat[i]));
      bw[i] = b;
    }
    kernel_us_.push_back(std::move(t));
    latency_us_.push_back(std::move(lat));
    roof_share_.push_back(std::move(share));
    bw_bound_.push_back(std::move(bw));
  }
  if (std::any_of(apis_.begin(), apis_.end(), [](const ApiSetup& a) { return a.dag; })) {
    producers_.resize(ops_);
    const std::vector<std::vector<plan::Dependency>> deps = step_dependencies(workload.resources);
    auto add = [&](size_t i, uint32_t producer) {
      if (std::find(producers_[i].begin(), producers_[i].end(), producer) == producers_[i].end())
        producers_[i].push_back(producer);
    };
    int64_t last_mat = -1;
    for (size_t i = 0; i < ops_; ++i) {
      for (const plan::Dependency& d : deps[i]) add(i, d.producer);
      // As the CUDA backend's dag graphs: the mat-path matmuls (GEMMs) run one after another, as they
      // share its GEMM scratch and cuBLAS workspace.
      if (workload.dispatches[i].kind.starts_with("matmul_mat")) {
        if (last_mat >= 0) add(i, uint32_t(last_mat));
        last_mat = int64_t(i);
      }
    }
  }
  read_epoch_.assign(workload.resources.names.size(), 0);
  write_epoch_.assign(workload.resources.names.size(), 0);
  if (record_) {
    op_runs_.assign(steps * ops_, OpRun{-1, -1});
    run_order_.reserve(steps * ops_);
  }
}

void SimDevice::host_interval(double start, double end, HostKind kind, uint8_t api, uint32_t arg, uint32_t step,
                              bool busy) {
  if (busy) totals_.host_busy += end - start;
  if (record_ && end > start) host_records_.push_back({start, end, kind, api, arg, step});
}

uint32_t SimDevice::begin(uint8_t api) {
  if (api >= apis_.size()) throw std::invalid_argument(fmt::format("simgpu: no API {}", api));
  Cb cb;
  cb.api = api;
  cb.epoch = ++epoch_;
  cbs_.push_back(std::move(cb));
  if (record_) cb_records_.push_back({0, 0, 0, 0, api, 0});
  ++counts_.command_buffers;
  return uint32_t(cbs_.size() - 1);
}

bool SimDevice::needs_barrier(const Cb& cb, uint32_t d) {
  const Access& a = w_.resources.ops[d];
  for (uint32_t r : a.reads)
    if (write_epoch_[r] == cb.epoch) return true;
  for (uint32_t r : a.writes)
    if (write_epoch_[r] == cb.epoch || read_epoch_[r] == cb.epoch) return true;
  return false;
}

void SimDevice::encode(uint32_t cbi, uint32_t dispatch, uint32_t step) {
  Cb& cb = cbs_.at(cbi);
  if (cb.committed) throw std::logic_error("simgpu: encode into a committed command buffer");
  const ApiCost& c = cost_[cb.api];
  step_ = step;
  const double t0 = host_;
  host_ += c.encode;
  host_interval(t0, host_, HostKind::encode, cb.api, dispatch, step, true);
  const bool barrier = needs_barrier(cb, dispatch);
  if (barrier) cb.epoch = ++epoch_;  // a barrier starts a new epoch within the pass
  const Access& a = w_.resources.ops[dispatch];
  for (uint32_t r : a.reads) read_epoch_[r] = cb.epoch;
  for (uint32_t r : a.writes) write_epoch_[r] = cb.epoch;
  cb.entries.push_back({dispatch, step, barrier});
  ++counts_.dispatches;
  if (c.immediate) {
    // A CUDA-style stream: the launch is the submission of this one dispatch.
    cb.commit_start = t0;
    cb.ready = host_ + c.submit_latency;
    schedule(cbi);
  }
}

uint32_t SimDevice::new_event() {
  event_time_.push_back(-1);
  event_api_.push_back(0);
  return uint32_t(event_time_.size() - 1);
}

void SimDevice::signal(uint32_t cb, uint32_t event) {
  if (cbs_.at(cb).committed) throw std::logic_error("simgpu: signal on a committed command buffer");
  cbs_[cb].signal_event = int32_t(event);
}

void SimDevice::wait_event(uint32_t cb, uint32_t event) {
  if (cbs_.at(cb).committed) throw std::logic_error("simgpu: wait_event on a committed command buffer");
  cbs_[cb].wait_events.push_back(int32_t(event));
}

void SimDevice::commit(uint32_t cbi) {
  Cb& cb = cbs_.at(cbi);
  if (cb.committed) throw std::logic_error("simgpu: command buffer committed twice");
  const ApiCost& c = cost_[cb.api];
  cb.commit_start = host_;
  const double t0 = host_;
  host_ += c.submit;
  host_interval(t0, host_, HostKind::submit, cb.api, cbi, step_, true);
  ++counts_.submits;
  cb.ready = host_ + c.submit_latency;
  for (int32_t e : cb.wait_events) {
    const double t = event_time_.at(size_t(e));
    if (t < 0)
      throw std::logic_error("simgpu: a command buffer waits on an event that no committed command buffer signals "
                             "(it would never start)");
    const double released = t + (event_api_[size_t(e)] == cb.api ? c.event : c.cross_event);
    if (released > cb.ready) cb.ready = released, cb.event_delayed = true;
    ++counts_.event_waits;
  }
  if (!c.immediate || cb.launched == 0) {
    // (A stream's dispatches ran as they were launched; it completes with the last of them.
    // An empty one completes when the GPU has seen it.)
    schedule(cbi);
  }
  cb.committed = true;
  if (cb.signal_event >= 0) {
    event_time_[size_t(cb.signal_event)] = cb.complete;
    event_api_[size_t(cb.signal_event)] = cb.api;
  }
  cb.entries.shrink_to_fit();
}

// A dag command buffer (a graph whose edges are the plan's dependencies): a
// dispatch goes on the stream of its latest-ending producer when that one
// ended its stream, else on an unused stream, else on the stream free the
// earliest (as the CUDA backend's capture assigns them); it starts its launch
// path (the gap, pdl_gap after its stream's previous dispatch under pdl) when
// its stream and its producers are done. Its latency then runs in parallel
// with other dispatches; its roofline term (bytes or flops) waits for the
// device, which serves those terms one at a time. The producers are those of
// the dispatch's own step; a command buffer holding several steps starts each
// step after the whole previous one (the state and buffers carry over; the
// simulator's walker commits each step on its own, the device API allows more).
// Totals: each category's share of the command buffer's wall time.
double SimDevice::schedule_dag(Cb& cb, const ApiCost& c, double t0) {
  const std::vector<double>& kt = kernel_us_[cb.api];
  const std::vector<double>& lat = latency_us_[cb.api];
  const std::vector<uint8_t>& bw = bw_bound_[cb.api];
  const std::vector<double>& share = roof_share_[cb.api];
  std::vector<double> end(ops_, -1.0);  // this command buffer's dispatches (one step each)
  std::vector<int64_t> stream_last(size_t(c.dag_streams), -1);
  std::vector<double> stream_free(size_t(c.dag_streams), t0);
  std::vector<int> on(ops_, -1);
  double roof_free = t0, finish = t0, gaps = 0, bw_sum = 0, comp_sum = 0, step_start = t0;
  uint32_t step = cb.entries.empty() ? 0 : cb.entries.front().step;
  for (const Entry& e : cb.entries) {
    const uint32_t i = e.dispatch;
    if (e.step != step) step = e.step, step_start = finish;
    double ready = step_start;
    int64_t latest = -1;
    for (uint32_t p : producers_[i])
      if (end[p] >= 0 && end[p] >= ready) ready = end[p], latest = p;
    int s = -1;
    if (latest >= 0 && stream_last[size_t(on[size_t(latest)])] == latest) s = on[size_t(latest)];
    for (int k = 0; k < c.dag_streams && s < 0; ++k)
      if (stream_last[size_t(k)] < 0) s = k;
    if (s < 0) s = int(std::min_element(stream_free.begin(), stream_free.end()) - stream_free.begin());
    const bool follows = latest >= 0 && stream_last[size_t(s)] == latest;
    const double from = std::max(ready, stream_free[size_t(s)]);
    const double gap = (c.pdl && follows ? c.pdl_gap : c.gap) + (e.barrier ? c.barrier : 0.0);
    const double start = from + gap;
    const double roof = kt[i] - lat[i];
    // The device serves the roofline terms as one resource: each takes its share of it for its own
    // duration (share 1: one at a time, as a queue), so it ends when both it and the device's
    // earlier work are done.
    const double roof_start = std::max(start + lat[i], share[i] >= 1.0 ? roof_free : start + lat[i]);
    if (roof > 0) roof_free = std::max(roof_free, start + lat[i]) + roof * share[i];
    end[i] = std::max(roof_start + roof, roof > 0 ? roof_free : 0.0);
    stream_free[size_t(s)] = end[i];
    stream_last[size_t(s)] = int64_t(i);
    on[i] = s;
    finish = std::max(finish, end[i]);
    last_kernel_start_ = std::max(last_kernel_start_, start);
    gaps += gap;
    (bw[i] ? bw_sum : comp_sum) += kt[i];
    if (record_) {
      device_records_.push_back({from, end[i], i, e.step, uint32_t(&cb - cbs_.data()), cb.api});
      const uint64_t inst = uint64_t(e.step) * ops_ + i;
      op_runs_.at(inst) = {from, end[i]};
      run_order_.push_back(inst);
    }
  }
  const double sum = gaps + bw_sum + comp_sum, wall = finish - t0;
  if (sum > 0) {
    totals_.gap += gaps * wall / sum;
    totals_.kernel_bandwidth += bw_sum * wall / sum;
    totals_.kernel_compute += comp_sum * wall / sum;
  }
  return finish;
}

void SimDevice::attribute_idle(double idle_from, double start, bool event_delayed) {
  const double idle = start - idle_from;
  if (idle <= 0) return;
  // The GPU drained because the host was blocked on it (or a command buffer
  // waited for an event): the whole gap is the price of that sync. Otherwise
  // the host was still encoding or working: launch.
  if (event_delayed || last_wait_end_ > idle_from) totals_.idle_sync += idle;
  else totals_.idle_launch += idle;
}

void SimDevice::schedule(uint32_t cbi) {
  Cb& cb = cbs_[cbi];
  const ApiCost& c = cost_[cb.api];
  double t = std::max(device_free_, cb.ready);
  // With programmatic dependent launch the first dispatch may start before the
  // launch path (gap) after the previous one ends: its time is taken from the
  // previous end below, and the GPU is idle only until the command buffer is ready.
  double ready = cb.ready;
  if (c.pdl) t = device_free_;
  attribute_idle(device_free_, std::max(device_free_, cb.ready), cb.event_delayed);
  const double cb_start = std::max(device_free_, cb.ready);
  if (c.cb_overhead > 0 && !c.immediate) {
    (c.pdl ? ready : t) += c.cb_overhead;
    totals_.cb_overhead += c.cb_overhead;
  }
  const std::vector<double>& kt = kernel_us_[cb.api];
  const std::vector<uint8_t>& bw = bw_bound_[cb.api];
  if (c.dag) t = schedule_dag(cb, c, std::max(t, ready));
  const std::vector<Entry> none;
  for (const Entry& e : c.dag ? none : cb.entries) {
    double start = t;
    double over = c.gap + (e.barrier ? c.barrier : 0.0);
    if (c.pdl) {
      // Its launch path (gap) runs from when it is launched: when it is ready, but not before
      // its predecessor's kernel started (that triggers the launch); then it waits for the
      // predecessor (which ended at `start`) only for the dependency release (pdl_gap).
      // The GPU idles from `start` until ready (attributed above); the rest is the dispatch's gap.
      const double from = std::max(start, ready);
      const double launched = std::max(ready, last_kernel_start_);
      over = std::max(start + c.pdl_gap, launched + c.gap) + (e.barrier ? c.barrier : 0.0) - from;
      t = start = from;
    }
    last_kernel_start_ = t + over;
    t += over + kt[e.dispatch];
    totals_.gap += over;
    (bw[e.dispatch] ? totals_.kernel_bandwidth : totals_.kernel_compute) += kt[e.dispatch];
    if (record_) {
      device_records_.push_back({start, t, e.dispatch, e.step, cbi, cb.api});
      const uint64_t inst = uint64_t(e.step) * ops_ + e.dispatch;
      op_runs_.at(inst) = {start, t};
      run_order_.push_back(inst);
    }
  }
  device_free_ = t;
  cb.complete = t;
  cb.launched += uint32_t(cb.entries.size());
  if (record_) {
    CommandBufferRecord& r = cb_records_.at(cbi);
    if (r.dispatches == 0) r.commit = cb.commit_start, r.ready = cb.ready, r.start = cb_start;
    r.complete = t;
    r.dispatches += uint32_t(cb.entries.size());
  }
  cb.entries.clear();
}

bool SimDevice::wait(uint32_t cbi) {
  Cb& cb = cbs_.at(cbi);
  if (!cb.committed) throw std::logic_error("simgpu: wait on a command buffer that was never committed");
  if (cb.complete <= host_) return false;  // a status check finds it done: no wait
  const ApiCost& c = cost_[cb.api];
  const double t0 = host_;
  host_ = cb.complete + c.wake;
  host_interval(t0, host_, HostKind::wait, cb.api, cbi, step_, apis_[cb.api].wait == WaitMode::spin);
  last_wait_end_ = host_;
  ++counts_.cpu_waits;
  return true;
}

void SimDevice::host_work(double us, HostKind kind, uint8_t api, uint32_t step, uint32_t dispatch) {
  if (kind != HostKind::import && kind != HostKind::handoff) step_ = step;
  const double t0 = host_;
  host_ += us;
  host_interval(t0, host_, kind, api, dispatch, step, true);
  if (record_ && kind == HostKind::host_work && dispatch < ops_ && w_.dispatches[dispatch].host) {
    const uint64_t inst = uint64_t(step) * ops_ + dispatch;
    op_runs_.at(inst) = {t0, host_};
    run_order_.push_back(inst);
  }
}

void SimDevice::import_buffer(uint8_t api) {
  host_work(cost_.at(api).import, HostKind::import, api, step_, uint32_t(ops_));
  ++counts_.imports;
}

void SimDevice::handoff(uint8_t to_api) {
  host_work(cost_.at(to_api).handoff, HostKind::handoff, to_api, step_, uint32_t(ops_));
  ++counts_.handoffs;
}

void SimDevice::start_clock() {
  totals_ = TimeTotals{};
  device_free_ = std::max(device_free_, host_);
  last_wait_end_ = host_;
}

void SimDevice::finish() {
  const double end = std::max(host_, device_free_);
  if (end > device_free_) attribute_idle(device_free_, end, false);
  device_free_ = end;
}

}  // namespace rwkv::simgpu
