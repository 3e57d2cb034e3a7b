#pragma once
// Data dependencies between the ops of a plan, from the names of the buffers
// they read and write (op_plan.h) and the recurrent state they touch:
// read-after-write, write-after-read and write-after-write on the same
// resource. simgpu checks schedules against them (simgpu/hazards.h); the CUDA
// backend's dependency graphs (cuda:graph,dag) are built from them.
//
// Resources: every plan buffer, each plane a blit writes ("n.plane2": the four
// blits into n write disjoint planes, so they do not depend on each other; a
// whole-buffer read or write touches the buffer and all its planes), and per
// layer two state resources, "state.L.att"
// (rows 0..N: the attention token-shift vector and the WKV state) and
// "state.L.ffn" (row N+1). token_shift reads the state (it never writes it),
// time_mix_v7 reads and writes state.L.att, channel_mix_v7 writes
// state.L.ffn (spec 3.2, 3.3, 3.7). Weights are read-only: no hazards.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reference/plan/op_plan.h"

namespace rwkv::plan {

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

ResourceTable op_resources(const Plan& plan);

// Within one step: for every op, the earlier ops it must follow and why.
struct Dependency {
  uint32_t producer = 0;  // op index
  uint32_t resource = 0;
  Hazard hazard = Hazard::read_after_write;
};
std::vector<std::vector<Dependency>> step_dependencies(const ResourceTable& table);

}  // namespace rwkv::plan
