#pragma once
// A device profile: what one GPU API on one device costs, every value with
// its source (simgpu/profiles/*.json; see simgpu/README.md for the fields).
// Two profiles of one device (a WebGPU-style "portable" API and a
// Metal/CUDA-style "native" one) name each other as peers; a schedule that
// uses both APIs runs on the pair.
//
// Cost model (all times in microseconds):
//   kernel     latency_us + max(bytes / (bandwidth * eff_bw), flops / (peak * eff_compute)),
//              latency and eff per kernel kind ("matmul_vec.q4_k"; then "matmul_vec";
//              then "default"); latency_us is optional (0: a pure roofline); with the
//              kind's optional full_grid, a grid of fewer workgroups gets that fraction:
//              the roofline term / min(1, workgroups / full_grid)
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
//   pdl        (optional pdl_gap_us; schedules with "pdl": true) a dispatch launched
//              while its predecessor runs starts pdl_gap_us after it ends instead of
//              gap_us / replay_gap_us: start = max(prev end + pdl_gap_us, ready + gap)
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simgpu/json_fields.h"

namespace rwkv::simgpu {

struct KernelEfficiency {
  std::string kind;  // "matmul_vec.q4_k", "matmul_vec", "layer_norm", "default", ...
  Sourced bandwidth, compute;  // fractions of the device's bandwidth and peak
  // Fixed time of one kernel of this kind before its roofline term (launch ramp, the
  // dependent chain of a small grid); optional "latency_us", default 0.
  Sourced latency{0, "default: no per-kernel latency (a pure roofline)"};
  // Optional "full_grid": the workgroups this kind needs to reach its efficiencies (the
  // device runs about that many at once); a dispatch of fewer workgroups gets that fraction
  // of the bandwidth and peak. Absent: every grid reaches them.
  std::optional<Sourced> full_grid = std::nullopt;
  // Optional "peak_gflops": the kind's own compute peak, which `compute` is a fraction of
  // (a GEMM on the tensor cores runs an order of magnitude beyond the f32 FMA peak the
  // profile's peak_gflops measures). Absent: the profile's peak_gflops.
  std::optional<Sourced> peak_gflops = std::nullopt;
};

struct Profile {
  std::string name, description, device, api;
  std::string role;  // "portable" (WebGPU-style) or "native" (Metal/CUDA-style)
  std::string peer;  // the other API's profile on the same device ("" if none)
  std::string file;  // where it was loaded from
  bool immediate_launch = false;  // CUDA streams: each dispatch reaches the GPU as it is launched
  std::string immediate_launch_source;
  // Optional ("shared_roofline": {"value": true, "source": ...}): under a dag schedule concurrent
  // kernels share the device's bandwidth and compute, each at most at its own efficiency (a
  // kernel of efficiency e leaves 1 - e of the device to others), together at most the whole
  // device; absent or false: their roofline terms run one at a time.
  bool shared_roofline = false;
  std::string shared_roofline_source;

  Sourced bandwidth_gbps, peak_gflops;
  Sourced encode_us, gap_us, barrier_us, cb_overhead_us;
  Sourced submit_us, submit_latency_us;
  Sourced wait_spin_us, wait_sleep_us;
  Sourced event_us, cross_event_us;
  Sourced handoff_us, import_us;
  Sourced readback_us, host_token_us;
  Sourced replay_encode_us, replay_submit_us, replay_gap_us;
  // Optional: the gap of a dispatch launched by programmatic dependent launch while its
  // predecessor runs (stream or replay); absent: pdl schedules run as without it.
  std::optional<Sourced> pdl_gap_us;
  // Optional: per op of a merged launch after its first (schedule "merge"), the part of that op's
  // latency the merged kernel does not pay: the dependent load of its input from memory (it
  // comes from registers or shared memory; its other operands are loaded when the kernel
  // begins). Absent: 0, a merged kernel's latency is the sum of its ops'.
  std::optional<Sourced> merged_load_us;
  std::vector<KernelEfficiency> efficiency;  // includes "default"

  // The efficiency entry for a kernel kind: exact, then the part before '.', then "default".
  const KernelEfficiency& efficiency_for(std::string_view kind) const;
  KernelEfficiency& efficiency_for(std::string_view kind);
  // A scalar field by its JSON name ("gap_us", "pdl_gap_us" when present, or
  // "efficiency.<kind>.bandwidth" / ".compute" / ".latency"), for fitting and reports;
  // throws std::invalid_argument for an unknown name.
  Sourced& field(std::string_view name);
  const Sourced& field(std::string_view name) const;
  // Names of every required scalar field, in file order (not the optional pdl_gap_us).
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
