#pragma once
// A schedule: how the ops of a step are spread over the APIs of a device,
// cut into command buffers and synchronised. A small description a user can
// copy and change (simgpu/schedules/*.json), not code:
//
//   default_api   "portable" (WebGPU-style), "native" (Metal/CUDA-style) or
//                 "profile" (whichever API the --profile given is)
//   assign        rules, first match wins: {"api": "native", "kernel": "matmul",
//                 "weight_format": "q4_k"}; "op", "kernel", "weight_format" are globs (*, ?)
//   api_switch    how work passes from one API to the other: "cpu_wait" (commit,
//                 the host waits, then encodes on the other API), "shared_event"
//                 (commit with a signal; the other API's command buffer waits for
//                 it on the GPU), "defer" (ops of the non-default API are kept
//                 aside and run in one command buffer at the end of the step:
//                 note 3's idea 3, which breaks data dependencies)
//   split         extra command-buffer boundaries inside one API: {"at": "layer"}
//                 or {"at": "every", "every": 44}, with "sync" cpu_wait,
//                 shared_event or commit (commit and keep encoding, at most
//                 in_flight command buffers outstanding), "round_trip": true
//                 also flushes and waits on the other API at each boundary
//                 (control returns to the WebGPU runtime between layers);
//                 "api": "native" splits only that API's command buffers
//   token_end     "cpu_wait" (the logits are read back every token) or "commit"
//   wait          "spin" or "sleep", or {"portable": ..., "native": ...}
//   in_flight     command buffers the host lets run ahead before it waits
//   replay        command buffers recorded once and replayed every token
//   encode_ahead  the next token is encoded while the GPU runs this one
//                 (web-rwkv's TokioRuntime); needs no cpu_wait inside a token
//   pdl           programmatic dependent launch (CUDA sm_90+): a dispatch is
//                 launched while its predecessor runs and waits for it on the
//                 GPU, so back to back it costs the profile's pdl_gap_us
//                 instead of its gap (a profile without pdl_gap_us: no change)
//   dag           inside a command buffer a dispatch waits only for the ones it
//                 depends on (the plan's data dependencies), not for its
//                 predecessor, on up to dag_streams streams (the CUDA backend's
//                 cuda:graph,dag): their launch paths and latencies overlap,
//                 their roofline terms share the device one after another
//   merge         the CUDA backend's merged launches (cuda:...,merge): each
//                 group of reference/plan/merge_groups.h (a matmul and its
//                 element-wise epilogue, blit + layer_norm + token shifts, the
//                 time mix and its tail) is one dispatch: one launch and gap,
//                 its ops' bytes less what stays on chip, their FLOPs, the
//                 first op's kind and its ops' latencies added, less the
//                 profile's merged_load_us per op after the first
//                 (simgpu/merged_dispatch.h); under dag one node. A workload
//                 without merge groups (not a plan) runs unchanged
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simgpu/dispatch.h"

namespace rwkv::simgpu {

enum class Sync : uint8_t { none, cpu_wait, shared_event, commit, defer };
std::string_view sync_name(Sync s);

enum class WaitMode : uint8_t { spin, sleep };
std::string_view wait_name(WaitMode w);

struct AssignRule {
  std::string api;  // "portable" or "native"
  std::string op = "*", kernel = "*", weight_format = "*";
  bool matches(const Dispatch& d) const;
};

struct Split {
  std::string at = "none";  // "none", "layer", "every"
  int64_t every = 0;        // dispatches per command buffer when at == "every"
  std::string api = "*";    // only command buffers of this role are split ("*": all)
  Sync sync = Sync::cpu_wait;
  bool round_trip = false;
};

struct Schedule {
  std::string name, description, source, file;
  std::string default_api = "portable";
  std::vector<AssignRule> assign;
  Sync api_switch = Sync::cpu_wait;
  Split split;
  Sync token_end = Sync::cpu_wait;
  WaitMode wait_portable = WaitMode::spin, wait_native = WaitMode::spin;
  int64_t in_flight = 1;
  bool replay = false;
  bool encode_ahead = false;
  bool pdl = false;
  bool dag = false;
  int64_t dag_streams = 8;
  bool merge = false;

  // The API role ("portable", "native" or "profile") a dispatch runs on.
  const std::string& api_for(const Dispatch& d) const;
};

// Glob with * (any run) and ? (one character).
bool glob_match(std::string_view pattern, std::string_view text);

Schedule load_schedule(const std::string& path);
Schedule find_schedule(const std::string& name_or_path);
std::vector<std::string> schedule_names();  // sorted

}  // namespace rwkv::simgpu
