#pragma once
// What a simulated step asks of the device: the dispatches of one step, in
// the order the program issues them, with the resources each reads and
// writes. Normally the op plan (plan_workload); a synthetic chain of
// fixed-length kernels reproduces the H100 sweep of
// ../shared/spec/validation-and-costs.md section 3.2; a kernel benchmark (the
// Metal notes' 192 matmuls) is a list of matmul dispatches.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reference/plan/op_plan.h"
#include "simgpu/dispatch.h"
#include "simgpu/hazards.h"

namespace rwkv::simgpu {

struct Workload {
  std::string name;
  std::vector<Dispatch> dispatches;  // one step, in issue order (plan order for a plan)
  ResourceTable resources;           // reads and writes of every dispatch (same indices)
  int64_t tokens_per_step = 1;       // T
  double weight_bytes_per_step = 0;  // weight traffic of one step (step_weight_bytes)
  int64_t gpu_dispatches() const;    // dispatches that are not host work
  // A plan's step as the CUDA backend's `merge` option launches it: a dispatch per merge group
  // (merged_dispatch.h); null for a workload that is not a plan.
  std::shared_ptr<const Workload> merged;
};

// The workload a schedule launches: `w.merged` under "merge" (when there is one), else w.
const Workload& launched(const Workload& w, bool merge);

// The plan's dispatches, and its merged launches (reference/plan/merge_groups.h, with the
// matrices' formats from `formats`) in `merged`.
Workload plan_workload(const plan::Plan& plan, const WeightFormats& formats);

// K kernels of `kernel_us` each, every one reading and writing one buffer
// (a dependent chain, as the measurement's kernels were).
Workload synthetic_workload(int64_t K, double kernel_us);

// Independent dispatches (a kernel benchmark: each reads the same input, writes its own output).
Workload dispatch_list_workload(std::string name, std::vector<Dispatch> dispatches);

}  // namespace rwkv::simgpu
