#pragma once
// The CUDA backend's merged launches (schedule "merge") as simgpu dispatches:
// each group of reference/plan/merge_groups.h becomes one Dispatch that the
// device prices as one kernel, with one launch and one gap.
//
// What a merged kernel costs, and why:
//   bytes    the sum of its ops' bytes, less what stays on chip: an op's read
//            of a buffer that an earlier op of the group read or wrote (the
//            matmul's output y[i] in the lane that stored it, the normalised
//            row in the block, the time mix's output and r, n in its block),
//            and every write of a buffer but the group's last one to it (an
//            in-place op rewrites its value before it leaves the kernel).
//            Weights, the WKV state and every buffer first touched in the
//            group are still read from memory, each output still written once.
//   flops    the sum of its ops' FLOPs
//   kind     the first op's (the kernel that runs the group: the GEMV, the
//            norm's blocks, the time mix's grid): its efficiencies, its full
//            grid, its workgroups
//   latency  its ops' kinds' latencies added (the stages follow one another
//            in each block; calibrate's latencies already exclude an empty
//            kernel's cost, the launch that merging saves), less the profile's
//            merged_load_us for each op after the first (the dependent load of
//            its input it no longer makes), at least the slowest op's
//            (device.h kernel_latency_us)
// Resources: the union of its ops' reads and writes, so under dag a group is
// one node whose producers are those of its ops outside it.
#include <vector>

#include "reference/plan/merge_groups.h"
#include "reference/plan/op_plan.h"
#include "simgpu/dispatch.h"
#include "simgpu/hazards.h"

namespace rwkv::simgpu {

// The dispatch of ops [g.begin, g.end), from their own dispatches (describe_dispatches).
Dispatch merged_dispatch(const plan::Plan& plan, const plan::MergeGroup& g, const std::vector<Dispatch>& ops,
                         DType act);

// The reads and writes of the groups' dispatches, from the plan's per-op ones.
ResourceTable merged_resources(const ResourceTable& ops, const std::vector<plan::MergeGroup>& groups);

}  // namespace rwkv::simgpu
