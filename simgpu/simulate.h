#pragma once
// Runs a schedule over a workload for a number of steps on a device profile
// (and its peer, when the schedule uses both APIs) and reports what an
// engineer asks first: tokens per second, dispatches and syncs per token, how
// busy the CPU and the GPU are, and which bound limits.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "simgpu/device.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/workload.h"

namespace rwkv::simgpu {

// The two API roles of a run: [0] portable, [1] native (null if unused).
struct ApiPair {
  const Profile* portable = nullptr;
  const Profile* native = nullptr;
  const Profile* operator[](size_t i) const { return i == 0 ? portable : native; }
};

// Which profile runs each role the schedule uses: the given profile for its
// own role (and for "profile"), its peer for the other. Throws
// std::invalid_argument when the schedule needs the other role and `peer` is null.
ApiPair resolve_apis(const Schedule& s, const Workload& w, const Profile& given, const Profile* peer);

// What a result keeps of a profile (the profiles themselves may be gone).
struct ApiInfo {
  std::string name, role, device, api;
};

struct SimOptions {
  int64_t steps = 16;   // steps (tokens, for T = 1) simulated
  bool record = false;  // keep every interval (trace, dependency check, functional order)
};

struct SimResult {
  std::string schedule, workload;
  std::array<std::optional<ApiInfo>, 2> apis;  // [0] portable, [1] native, as resolved
  int64_t steps = 0, tokens = 0;
  double total_us = 0;
  TimeTotals time;
  Counts counts;
  double tokens_per_second() const { return total_us > 0 ? double(tokens) / total_us * 1e6 : 0; }
  double per_token(int64_t n) const { return tokens ? double(n) / double(tokens) : 0; }
  double dispatches_per_token() const { return per_token(counts.dispatches); }
  double syncs_per_token() const { return per_token(counts.cpu_waits + counts.event_waits); }
  double cpu_busy() const { return total_us > 0 ? time.host_busy / total_us : 0; }
  double gpu_busy() const { return total_us > 0 ? time.gpu_busy() / total_us : 0; }
  // "bandwidth", "compute", "launch" or "sync": the largest share of the run's time.
  std::string bound() const;
  // Shares of the run's time: kernels (bandwidth, compute), launch (gaps + launch idle), sync (cb overhead + sync idle).
  std::array<double, 4> shares() const;
  std::shared_ptr<const SimDevice> device;  // the whole timeline when SimOptions::record
};

SimResult simulate(const Workload& w, const Schedule& s, const Profile& given, const Profile* peer,
                   const SimOptions& options);

}  // namespace rwkv::simgpu
