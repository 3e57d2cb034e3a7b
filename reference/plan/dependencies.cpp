#include "reference/plan/dependencies.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::plan {

std::string_view hazard_name(Hazard h) {
  switch (h) {
    case Hazard::read_after_write: return "RAW";
    case Hazard::write_after_read: return "WAR";
    case Hazard::write_after_write: return "WAW";
  }
  return "?";
}

uint32_t ResourceTable::id(const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return uint32_t(i);
  names.push_back(name);
  return uint32_t(names.size() - 1);
}

namespace {
void add_unique(std::vector<uint32_t>& v, uint32_t r) {
  if (std::find(v.begin(), v.end(), r) == v.end()) v.push_back(r);
}

// "n.plane2": the part of a buffer one plane blit writes.
std::string plane_resource(const std::string& buffer, int64_t plane) {
  return fmt::format("{}.plane{}", buffer, plane);
}

}  // namespace

ResourceTable op_resources(const Plan& plan) {
  ResourceTable t;
  for (const Buffer& b : plan.buffers) t.id(b.name);
  t.id("tokens");  // the embedding gather's host input
  // The planes each buffer is written by (blits with out_plane).
  std::vector<std::pair<std::string, int64_t>> planes;
  for (const Op& op : plan.ops)
    if (op.kernel == Kernel::blit && op.params.out_plane >= 0 && !op.outputs.empty()) {
      const std::pair<std::string, int64_t> bp{op.outputs[0], op.params.out_plane};
      if (std::find(planes.begin(), planes.end(), bp) == planes.end()) planes.push_back(bp);
    }
  // A whole-buffer access touches the buffer and every plane of it.
  auto whole = [&](std::vector<uint32_t>& into, const std::string& b) {
    add_unique(into, t.id(b));
    for (const auto& [buffer, plane] : planes)
      if (buffer == b) add_unique(into, t.id(plane_resource(b, plane)));
  };
  for (const Op& op : plan.ops) {
    Access a;
    for (const std::string& b : op.inputs) whole(a.reads, b);
    for (const std::string& b : op.outputs) {
      if (op.kernel == Kernel::blit && op.params.out_plane >= 0)
        add_unique(a.writes, t.id(plane_resource(b, op.params.out_plane)));
      else
        whole(a.writes, b);
    }
    if (op.params.state_layer >= 0) {
      const std::string att = fmt::format("state.{}.att", op.params.state_layer);
      const std::string ffn = fmt::format("state.{}.ffn", op.params.state_layer);
      switch (op.kernel) {
        case Kernel::token_shift:
          add_unique(a.reads, t.id(op.params.state_row == 0 ? att : ffn));
          break;
        case Kernel::time_mix_v7:
          add_unique(a.reads, t.id(att));
          add_unique(a.writes, t.id(att));
          break;
        case Kernel::channel_mix_v7: add_unique(a.writes, t.id(ffn)); break;
        default:
          throw std::invalid_argument(fmt::format(
              "plan dependencies: op {} ({}) has a state layer but its kernel's state access is not known", op.name,
              kernel_name(op.kernel)));
      }
    }
    t.ops.push_back(std::move(a));
  }
  return t;
}

std::vector<std::vector<Dependency>> step_dependencies(const ResourceTable& table) {
  const size_t R = table.names.size();
  std::vector<int64_t> last_writer(R, -1);
  std::vector<std::vector<uint32_t>> readers(R);
  std::vector<std::vector<Dependency>> deps(table.ops.size());
  for (size_t i = 0; i < table.ops.size(); ++i) {
    const Access& a = table.ops[i];
    for (uint32_t r : a.reads)
      if (last_writer[r] >= 0) deps[i].push_back({uint32_t(last_writer[r]), r, Hazard::read_after_write});
    for (uint32_t r : a.writes) {
      if (last_writer[r] >= 0 && uint32_t(last_writer[r]) != i)
        deps[i].push_back({uint32_t(last_writer[r]), r, Hazard::write_after_write});
      for (uint32_t reader : readers[r])
        if (reader != i) deps[i].push_back({reader, r, Hazard::write_after_read});
    }
    for (uint32_t r : a.reads) readers[r].push_back(uint32_t(i));
    for (uint32_t r : a.writes) {
      last_writer[r] = int64_t(i);
      readers[r].clear();
    }
  }
  return deps;
}

}  // namespace rwkv::plan
