#pragma once
// A device profile: what one GPU API on one device costs, every value with
// its source (simgpu/profiles/*.json; see simgpu/README.md for the fields).
// Two profiles of one device (a WebGPU-style "portable" API and a
// Metal/CUDA-style "native" one) name each other as peers; a schedule that
// uses both APIs runs on the pair.
//
// Cost model (all times in microseconds):
//   kernel     max(bytes / (bandwidth * eff_bw), flops / (peak * eff_compute)),
//              eff per kernel kind ("matmul_vec.q4_k"; then "matmul_vec"; then "default")
//   host       encode_us per dispatch recorded (or launched, for immediate_launch APIs),
//              submit_us per commit, handoff_us per switch to the other API,
//              readback_us + host_token_us per token
//   device     gap_us per dispatch, barrier_us per dispatch that depends on one in
//              the same pass, cb_overhead_us per command buffer, a command buffer
//              may start submit_latency_us after its commit
//   sync       a waiting host resumes wait_spin_us or wait_sleep_us after the
//              work completes; a shared-event wait releases event_us
//              (cross_event_us across the two APIs) after the signal
//   replay     a command buffer recorded once and replayed (CUDA graph,
//              pre-recorded Vulkan): replay_encode_us per dispatch,
//              replay_submit_us per launch, replay_gap_us per dispatch
#include <string>
#include <string_view>
#include <vector>

#include "simgpu/json_fields.h"

namespace rwkv::simgpu {

struct KernelEfficiency {
  std::string kind;  // "matmul_vec.q4_k", "matmul_vec", "layer_norm", "default", ...
  Sourced bandwidth, compute;  // fractions of the device's bandwidth and peak
};

struct Profile {
  std::string name, description, device, api;
  std::string role;  // "portable" (WebGPU-style) or "native" (Metal/CUDA-style)
  std::string peer;  // the other API's profile on the same device ("" if none)
  std::string file;  // where it was loaded from
  bool immediate_launch = false;  // CUDA streams: each dispatch reaches the GPU as it is launched
  std::string immediate_launch_source;

  Sourced bandwidth_gbps, peak_gflops;
  Sourced encode_us, gap_us, barrier_us, cb_overhead_us;
  Sourced submit_us, submit_latency_us;
  Sourced wait_spin_us, wait_sleep_us;
  Sourced event_us, cross_event_us;
  Sourced handoff_us, import_us;
  Sourced readback_us, host_token_us;
  Sourced replay_encode_us, replay_submit_us, replay_gap_us;
  std::vector<KernelEfficiency> efficiency;  // includes "default"

  // The efficiency entry for a kernel kind: exact, then the part before '.', then "default".
  const KernelEfficiency& efficiency_for(std::string_view kind) const;
  KernelEfficiency& efficiency_for(std::string_view kind);
  // A scalar field by its JSON name ("gap_us", or "efficiency.<kind>.bandwidth"), for fitting
  // and reports; throws std::invalid_argument for an unknown name.
  Sourced& field(std::string_view name);
  const Sourced& field(std::string_view name) const;
  // Names of every scalar field, in file order.
  static const std::vector<std::string>& scalar_field_names();
};

// Loads and checks a profile file; throws std::runtime_error naming the file
// and the field on a missing or malformed value.
Profile load_profile(const std::string& path);

// `name_or_path`: a path (contains '/' or ends in .json) or a name under
// <data dir>/profiles/.
Profile find_profile(const std::string& name_or_path);
std::vector<std::string> profile_names();  // sorted

// simgpu's data directory (profiles/, schedules/, plot script): $RWKV_SIMGPU_DIR
// if set, else the source tree's simgpu/.
std::string data_dir();

}  // namespace rwkv::simgpu
