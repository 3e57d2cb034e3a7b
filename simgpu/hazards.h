#pragma once
// The checker of a schedule against the data dependencies of its plan
// (reference/plan/dependencies.h: resources, read/write sets, hazards): it
// takes the times at which every op ran and names the ops that started before
// an op they depend on had completed: what a schedule that breaks a dependency
// (deferred batching) gets wrong.
#include <cstdint>
#include <span>
#include <vector>

#include "reference/plan/dependencies.h"

namespace rwkv::simgpu {

using plan::Access;
using plan::Dependency;
using plan::Hazard;
using plan::hazard_name;
using plan::op_resources;
using plan::ResourceTable;
using plan::step_dependencies;

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
