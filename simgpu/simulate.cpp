// The schedule walker: turns a schedule description into the calls an
// engine would make (begin, encode, commit, wait, signal, ...) on SimDevice,
// step after step.
#include "simgpu/simulate.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

namespace {

constexpr const char* kRoleNames[2] = {"portable", "native"};

int role_index(const std::string& role, const Profile& given) {
  if (role == "portable") return 0;
  if (role == "native") return 1;
  return given.role == "portable" ? 0 : 1;  // "profile"
}

}  // namespace

ApiPair resolve_apis(const Schedule& s, const Workload& w, const Profile& given, const Profile* peer) {
  bool need[2] = {false, false};
  need[role_index(s.default_api, given)] = true;
  for (const Dispatch& d : w.dispatches)
    if (!d.host) need[role_index(s.api_for(d), given)] = true;
  if (s.split.round_trip) need[0] = need[1] = true;
  const Profile* chosen[2] = {nullptr, nullptr};
  for (int i = 0; i < 2; ++i) {
    if (!need[i]) continue;
    if (given.role == kRoleNames[i]) {
      chosen[i] = &given;
    } else if (peer && peer->role == kRoleNames[i]) {
      chosen[i] = peer;
    } else {
      throw std::invalid_argument(fmt::format(
          "schedule '{}' runs work on the {} API, but profile '{}' is {} and {}", s.name, kRoleNames[i], given.name,
          given.role,
          given.peer.empty() ? "names no peer profile" : fmt::format("its peer '{}' is not {}", given.peer, kRoleNames[i])));
    }
  }
  return {chosen[0], chosen[1]};
}

std::array<double, 4> SimResult::shares() const {
  const double t = total_us > 0 ? total_us : 1;
  return {time.kernel_bandwidth / t, time.kernel_compute / t, (time.gap + time.idle_launch) / t,
          (time.cb_overhead + time.idle_sync) / t};
}

std::string SimResult::bound() const {
  static const char* names[4] = {"bandwidth", "compute", "launch", "sync"};
  const std::array<double, 4> s = shares();
  return names[std::max_element(s.begin(), s.end()) - s.begin()];
}

namespace {

class Walker {
 public:
  Walker(const Workload& w, const Schedule& s, const ApiPair& apis, const Profile& given, const SimOptions& o)
      : w_(w), s_(s), opt_(o) {
    // Device API numbers for the roles in use.
    std::vector<ApiSetup> setups;
    for (int i = 0; i < 2; ++i) {
      if (!apis[size_t(i)]) continue;
      dev_api_[i] = int(setups.size());
      setups.push_back({apis[size_t(i)], i == 0 ? s.wait_portable : s.wait_native, s.replay, s.pdl, s.dag,
                        int(s.dag_streams)});
    }
    const size_t n = w.dispatches.size();
    api_.resize(n);
    deferred_.resize(n);
    default_api_ = uint8_t(dev_api_[role_index(s.default_api, given)]);
    for (int i = 0; i < 2; ++i)
      if (dev_api_[i] >= 0)
        split_applies_[dev_api_[i]] = s.split.api == "*" || role_index(s.split.api, given) == i;
    for (size_t i = 0; i < n; ++i) {
      const Dispatch& d = w.dispatches[i];
      const int role = d.host ? role_index(s.default_api, given) : role_index(s.api_for(d), given);
      api_[i] = uint8_t(dev_api_[role]);
      deferred_[i] = !d.host && s.api_switch == Sync::defer && api_[i] != default_api_;
      if (!d.host) last_gpu_api_ = api_[i];
      any_deferred_ = any_deferred_ || deferred_[i];
    }
    reads_back_ = std::any_of(w.dispatches.begin(), w.dispatches.end(), [](const Dispatch& d) { return d.host; });
    dev_ = std::make_shared<SimDevice>(std::move(setups), w, size_t(o.steps), o.record);
    validate();
  }

  std::shared_ptr<SimDevice> run() {
    setup_imports();
    if (s_.encode_ahead) run_encode_ahead();
    else
      for (int64_t step = 0; step < opt_.steps; ++step) run_step(uint32_t(step));
    dev_->finish();
    return dev_;
  }
  double setup_us() const { return setup_us_; }

 private:
  void validate() const {
    if (s_.api_switch == Sync::defer && !any_deferred_ && w_.gpu_dispatches() > 0) {
      // Nothing matched the non-default API: the schedule degenerates to one API. Allowed.
    }
    if (s_.encode_ahead) {
      const bool one_api = std::all_of(api_.begin(), api_.end(), [&](uint8_t a) { return a == api_[0]; });
      if (!one_api || s_.split.at != "none" || s_.token_end != Sync::cpu_wait)
        throw std::invalid_argument(fmt::format(
            "schedule '{}': encode_ahead needs one API, no split and token_end cpu_wait (one command buffer per step)",
            s_.name));
    }
  }

  // Buffers both APIs touch are imported once, zero-copy, at load time (not in the timed run).
  void setup_imports() {
    if (dev_api_[0] < 0 || dev_api_[1] < 0) return;
    std::vector<uint8_t> seen(w_.resources.names.size(), 0);
    for (size_t i = 0; i < w_.dispatches.size(); ++i) {
      if (w_.dispatches[i].host) continue;
      const uint8_t bit = uint8_t(1u << api_[i]);
      for (uint32_t r : w_.resources.ops[i].reads) seen[r] |= bit;
      for (uint32_t r : w_.resources.ops[i].writes) seen[r] |= bit;
    }
    for (uint8_t m : seen)
      if (m == 3) dev_->import_buffer(uint8_t(dev_api_[1]));
    setup_us_ = dev_->host_now();
    dev_->start_clock();
  }

  void open(uint8_t a) {
    if (open_[a] >= 0) return;
    while (int64_t(outstanding_.size()) >= s_.in_flight) {
      dev_->wait(outstanding_.front());
      outstanding_.pop_front();
    }
    open_[a] = int64_t(dev_->begin(a));
    if (pending_event_[a] >= 0) {
      dev_->wait_event(uint32_t(open_[a]), uint32_t(pending_event_[a]));
      pending_event_[a] = -1;
    }
    in_cb_ = 0;
  }

  uint32_t commit(uint8_t a) {
    const uint32_t cb = uint32_t(open_[a]);
    dev_->commit(cb);
    open_[a] = -1;
    last_cb_[a] = int64_t(cb);
    return cb;
  }

  // A boundary after the work of API `from`, before work on API `to`.
  void boundary(Sync kind, uint8_t from, uint8_t to, bool round_trip) {
    if (open_[from] < 0) return;
    switch (kind) {
      case Sync::cpu_wait: {
        dev_->wait(commit(from));
        outstanding_.clear();  // one engine, commit order: everything committed earlier is done too
        if (round_trip) {
          const uint8_t other = uint8_t(dev_api_[0] == from ? dev_api_[1] : dev_api_[0]);
          const uint32_t empty = dev_->begin(other);
          dev_->commit(empty);
          dev_->wait(empty);
        }
        break;
      }
      case Sync::shared_event: {
        // The host goes on encoding; the GPU orders the two command buffers.
        const uint32_t ev = dev_->new_event();
        dev_->signal(uint32_t(open_[from]), ev);
        commit(from);
        pending_event_[to] = ev;
        break;
      }
      case Sync::commit: outstanding_.push_back(commit(from)); break;
      case Sync::none:
      case Sync::defer: break;
    }
    if (from != to) dev_->handoff(to);
  }

  void encode(uint32_t step, size_t i) {
    const uint8_t a = api_[i];
    const Dispatch& d = w_.dispatches[i];
    if (cur_ >= 0 && a != cur_) {
      boundary(s_.api_switch, uint8_t(cur_), a, false);
    } else if (cur_ == a && open_[a] >= 0 && split_applies_[a]) {
      const bool cut = (s_.split.at == "layer" && d.layer != last_layer_) ||
                       (s_.split.at == "every" && in_cb_ >= s_.split.every);
      if (cut) boundary(s_.split.sync, a, a, s_.split.round_trip);
    }
    open(a);
    dev_->encode(uint32_t(open_[a]), uint32_t(i), step);
    cur_ = a;
    last_layer_ = d.layer;
    ++in_cb_;
  }

  void host_op(uint32_t step, size_t i) {
    dev_->host_work(dev_->api(api_[i]).profile->host_token_us.value, HostKind::host_work, api_[i], step,
                    uint32_t(i));
  }

  void end_step(uint32_t step) {
    if (!deferred_list_.empty()) {
      // Idea 3: the deferred ops go into one command buffer at the end of the step.
      if (cur_ >= 0 && open_[cur_] >= 0) commit(uint8_t(cur_));
      const uint8_t a = api_[deferred_list_.front()];
      open(a);
      for (size_t i : deferred_list_) dev_->encode(uint32_t(open_[a]), uint32_t(i), step);
      cur_ = a;
      deferred_list_.clear();
    }
    for (uint8_t a = 0; a < 2; ++a)
      if (open_[a] >= 0) {
        const uint32_t cb = commit(a);
        if (s_.token_end == Sync::commit) outstanding_.push_back(cb);
      }
    if (s_.token_end == Sync::cpu_wait) {
      for (uint8_t a = 0; a < 2; ++a)
        if (last_cb_[a] >= 0) dev_->wait(uint32_t(last_cb_[a]));
      outstanding_.clear();
      if (reads_back_)
        dev_->host_work(dev_->api(last_gpu_api_).profile->readback_us.value, HostKind::readback, last_gpu_api_,
                        step);
      cur_ = -1;  // everything is done: the next step needs no hand-off
    }
    last_layer_ = std::numeric_limits<int64_t>::min();
  }

  void run_step(uint32_t step) {
    for (size_t i = 0; i < w_.dispatches.size(); ++i) {
      if (w_.dispatches[i].host) host_op(step, i);
      else if (deferred_[i]) deferred_list_.push_back(i);
      else encode(step, i);
    }
    end_step(step);
  }

  // web-rwkv's TokioRuntime: step s + 1 is encoded while the GPU runs step s;
  // its host work (the embedding gather) waits for step s's logits.
  void run_encode_ahead() {
    const uint8_t a = api_[0];
    auto encode_all = [&](uint32_t step) {
      const uint32_t cb = dev_->begin(a);
      for (size_t i = 0; i < w_.dispatches.size(); ++i)
        if (!w_.dispatches[i].host) dev_->encode(cb, uint32_t(i), step);
      return cb;
    };
    uint32_t cb = encode_all(0);
    for (int64_t step = 0; step < opt_.steps; ++step) {
      for (size_t i = 0; i < w_.dispatches.size(); ++i)
        if (w_.dispatches[i].host) host_op(uint32_t(step), i);
      dev_->commit(cb);
      const uint32_t done = cb;
      if (step + 1 < opt_.steps) cb = encode_all(uint32_t(step + 1));
      dev_->wait(done);
      if (reads_back_)
        dev_->host_work(dev_->api(a).profile->readback_us.value, HostKind::readback, a, uint32_t(step));
    }
  }

  const Workload& w_;
  const Schedule& s_;
  const SimOptions& opt_;
  int dev_api_[2] = {-1, -1};
  std::vector<uint8_t> api_;
  std::vector<uint8_t> deferred_;
  uint8_t default_api_ = 0, last_gpu_api_ = 0;
  bool any_deferred_ = false, reads_back_ = false;
  bool split_applies_[2] = {false, false};  // by device API
  std::shared_ptr<SimDevice> dev_;
  int64_t open_[2] = {-1, -1};
  int64_t last_cb_[2] = {-1, -1};
  int64_t pending_event_[2] = {-1, -1};
  int cur_ = -1;
  int64_t last_layer_ = std::numeric_limits<int64_t>::min();
  int64_t in_cb_ = 0;
  std::deque<uint32_t> outstanding_;  // committed by a "commit" boundary, not yet waited for (in_flight)
  std::vector<size_t> deferred_list_;
  double setup_us_ = 0;
};

}  // namespace

SimResult simulate(const Workload& given_work, const Schedule& s, const Profile& given, const Profile* peer,
                   const SimOptions& options) {
  // Under "merge" the device runs the plan's merged launches (a dispatch per group; they live as long as given_work).
  const Workload& w = launched(given_work, s.merge);
  if (options.steps < 1) throw std::invalid_argument(fmt::format("simgpu: steps = {}, expected >= 1", options.steps));
  SimResult r;
  r.schedule = s.name;
  r.workload = w.name;
  const ApiPair apis = resolve_apis(s, w, given, peer);
  for (size_t i = 0; i < 2; ++i)
    if (apis[i]) r.apis[i] = ApiInfo{apis[i]->name, apis[i]->role, apis[i]->device, apis[i]->api};
  Walker walker(w, s, apis, given, options);
  std::shared_ptr<SimDevice> dev = walker.run();
  r.steps = options.steps;
  r.tokens = options.steps * w.tokens_per_step;
  r.total_us = dev->device_free() - walker.setup_us();
  r.time = dev->totals();
  r.counts = dev->counts();
  if (options.record) r.device = dev;
  return r;
}

}  // namespace rwkv::simgpu
