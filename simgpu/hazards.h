#pragma once
// Data dependencies between the ops of a plan, from the names of the buffers
// they read and write (reference/plan/op_plan.h) and the recurrent state they
// touch: read-after-write, write-after-read and write-after-write on the same
// resource. The checker takes the times at which every op ran and names the
// ops that started before an op they depend on had completed: what a schedule
// that breaks a dependency (deferred batching) gets wrong.
//
// Resources: every plan buffer (n is one resource: its four planes are
// written by four blits), and per layer two state resources, "state.L.att"
// (rows 0..N: the attention token-shift vector and the WKV state) and
// "state.L.ffn" (row N+1). token_shift reads the state (it never writes it),
// time_mix_v7 reads and writes state.L.att, channel_mix_v7 writes
// state.L.ffn (spec 3.2, 3.3, 3.7). Weights are read-only: no hazards.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reference/plan/op_plan.h"

namespace rwkv::simgpu {

enum class Hazard : uint8_t { read_after_write, write_after_read, write_after_write };
std::string_view hazard_name(Hazard h);  // "RAW", "WAR", "WAW"

struct Access {
  std::vector<uint32_t> reads, writes;  // resource ids
};

struct ResourceTable {
  std::vector<std::string> names;  // resource id -> name
  std::vector<Access> ops;         // per op, in plan order
  uint32_t id(const std::string& name);  // interns
};

ResourceTable op_resources(const plan::Plan& plan);

// Within one step: for every op, the earlier ops it must follow and why.
struct Dependency {
  uint32_t producer = 0;  // op index
  uint32_t resource = 0;
  Hazard hazard = Hazard::read_after_write;
};
std::vector<std::vector<Dependency>> step_dependencies(const ResourceTable& table);

// When one op instance (step s, op i: instance s * ops + i) ran.
struct OpRun {
  double start = 0, end = 0;  // microseconds
};

struct Violation {
  uint64_t consumer = 0, producer = 0;  // instances
  uint32_t resource = 0;
  Hazard hazard = Hazard::read_after_write;
  double consumer_start = 0, producer_end = 0;
};

// Every instance that started before an instance it depends on (the last
// writer before it in plan order, or the readers since that write) had
// completed, ordered by the consumer's start time (then instance). Steps run
// one after another in plan order semantics: step s + 1 depends on step s
// through the buffers and the state. `runs` holds steps * table.ops.size()
// entries.
std::vector<Violation> find_violations(const ResourceTable& table, size_t steps, std::span<const OpRun> runs);

}  // namespace rwkv::simgpu
