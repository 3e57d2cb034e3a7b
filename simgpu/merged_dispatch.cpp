#include "simgpu/merged_dispatch.h"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace rwkv::simgpu {

Dispatch merged_dispatch(const plan::Plan& plan, const plan::MergeGroup& g, const std::vector<Dispatch>& ops,
                         DType act) {
  if (g.begin >= g.end || g.end > ops.size())
    throw std::invalid_argument(fmt::format("simgpu: merge group [{}, {}) outside {} dispatches", g.begin, g.end,
                                            ops.size()));
  Dispatch d = ops[g.begin];
  if (g.size() == 1) return d;
  if (std::any_of(ops.begin() + std::ptrdiff_t(g.begin), ops.begin() + std::ptrdiff_t(g.end),
                  [](const Dispatch& o) { return o.host; }))
    throw std::invalid_argument(fmt::format("simgpu: merge group at {} holds host work", ops[g.begin].name));
  d.name = fmt::format("{}+{}", ops[g.begin].name, g.size() - 1);
  d.ops = uint32_t(g.size());
  d.merged_kinds.clear();
  d.bytes_read = d.bytes_written = d.weight_bytes = d.flops = 0;
  std::set<std::string> touched;  // buffers an earlier op of the group read or wrote
  for (size_t j = g.begin; j < g.end; ++j) {
    const Dispatch& o = ops[j];
    const plan::Op& op = plan.ops[j];
    d.merged_kinds.push_back(o.kind);
    d.bytes_read += o.bytes_read;
    d.bytes_written += o.bytes_written;
    d.weight_bytes += o.weight_bytes;
    d.flops += o.flops;
    std::set<std::string> read_here;
    for (const std::string& b : op.inputs)
      if (b != "tokens" && read_here.insert(b).second && touched.count(b)) d.bytes_read -= input_buffer_bytes(plan, j, b, act);
    // A write that a later op of the group overwrites never leaves the kernel.
    for (const std::string& b : op.outputs)
      for (size_t k = j + 1; k < g.end; ++k)
        if (std::find(plan.ops[k].outputs.begin(), plan.ops[k].outputs.end(), b) != plan.ops[k].outputs.end()) {
          d.bytes_written -= output_buffer_bytes(plan, j, b, act);
          break;
        }
    touched.insert(op.inputs.begin(), op.inputs.end());
    touched.insert(op.outputs.begin(), op.outputs.end());
  }
  return d;
}

ResourceTable merged_resources(const ResourceTable& ops, const std::vector<plan::MergeGroup>& groups) {
  ResourceTable out;
  out.names = ops.names;
  for (const plan::MergeGroup& g : groups) {
    Access a;
    for (size_t j = g.begin; j < g.end; ++j) {
      const Access& o = ops.ops.at(j);
      a.reads.insert(a.reads.end(), o.reads.begin(), o.reads.end());
      a.writes.insert(a.writes.end(), o.writes.begin(), o.writes.end());
    }
    for (std::vector<uint32_t>* v : {&a.reads, &a.writes}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    out.ops.push_back(std::move(a));
  }
  return out;
}

}  // namespace rwkv::simgpu
