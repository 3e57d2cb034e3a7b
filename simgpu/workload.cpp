#include "simgpu/workload.h"

#include <fmt/format.h>

#include "reference/plan/merge_groups.h"
#include "simgpu/merged_dispatch.h"

namespace rwkv::simgpu {

int64_t Workload::gpu_dispatches() const {
  int64_t n = 0;
  for (const Dispatch& d : dispatches) n += !d.host;
  return n;
}

Workload plan_workload(const plan::Plan& plan, const WeightFormats& formats) {
  Workload w;
  w.name = fmt::format("{} T={}", plan.config.name, plan.T);
  w.dispatches = describe_dispatches(plan, formats);
  w.resources = op_resources(plan);
  w.tokens_per_step = plan.T;
  w.weight_bytes_per_step = step_weight_bytes(w.dispatches);
  const std::vector<plan::MergeGroup> groups =
      plan::merge_groups(plan, [&](const std::string& weight) { return matrix_format(weight, formats); });
  auto m = std::make_shared<Workload>();
  m->name = w.name + " merged";
  for (const plan::MergeGroup& g : groups)
    m->dispatches.push_back(merged_dispatch(plan, g, w.dispatches, formats.activations));
  m->resources = merged_resources(w.resources, groups);
  m->tokens_per_step = w.tokens_per_step;
  m->weight_bytes_per_step = step_weight_bytes(m->dispatches);
  w.merged = std::move(m);
  return w;
}

const Workload& launched(const Workload& w, bool merge) { return merge && w.merged ? *w.merged : w; }

Workload synthetic_workload(int64_t K, double kernel_us) {
  Workload w;
  w.name = fmt::format("{} kernels of {} us", K, kernel_us);
  const uint32_t x = w.resources.id("x");
  for (int64_t k = 0; k < K; ++k) {
    Dispatch d;
    d.op = uint32_t(k);
    d.name = fmt::format("kernel.{}", k);
    d.kernel = "synthetic";
    d.kind = "synthetic";
    d.layer = -1;
    d.fixed_us = kernel_us;
    w.dispatches.push_back(d);
    w.resources.ops.push_back(Access{{x}, {x}});
  }
  return w;
}

Workload dispatch_list_workload(std::string name, std::vector<Dispatch> dispatches) {
  Workload w;
  w.name = std::move(name);
  const uint32_t in = w.resources.id("input");
  for (size_t i = 0; i < dispatches.size(); ++i) {
    dispatches[i].op = uint32_t(i);
    w.resources.ops.push_back(Access{{in}, {w.resources.id(fmt::format("out.{}", i))}});
    w.weight_bytes_per_step += dispatches[i].weight_bytes;
  }
  w.dispatches = std::move(dispatches);
  return w;
}

}  // namespace rwkv::simgpu
