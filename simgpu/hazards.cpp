#include "simgpu/hazards.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

using plan::Kernel;

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
}  // namespace

ResourceTable op_resources(const plan::Plan& plan) {
  ResourceTable t;
  for (const plan::Buffer& b : plan.buffers) t.id(b.name);
  t.id("tokens");  // the embedding gather's host input
  for (const plan::Op& op : plan.ops) {
    Access a;
    for (const std::string& b : op.inputs) add_unique(a.reads, t.id(b));
    for (const std::string& b : op.outputs) add_unique(a.writes, t.id(b));
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
          throw std::invalid_argument(fmt::format("simgpu: op {} ({}) has a state layer but its kernel's state access "
                                                  "is not known",
                                                  op.name, plan::kernel_name(op.kernel)));
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

std::vector<Violation> find_violations(const ResourceTable& table, size_t steps, std::span<const OpRun> runs) {
  const size_t ops = table.ops.size();
  if (runs.size() != steps * ops)
    throw std::invalid_argument(
        fmt::format("simgpu: find_violations got {} op runs for {} steps of {} ops", runs.size(), steps, ops));
  const size_t R = table.names.size();
  constexpr uint64_t kNone = ~uint64_t(0);
  std::vector<uint64_t> last_writer(R, kNone);
  // The reader since the last write that completes last (the one a writer must wait for).
  std::vector<uint64_t> latest_reader(R, kNone);
  std::vector<Violation> out;
  auto late = [&](uint64_t consumer, uint64_t producer) {
    return producer != kNone && runs[consumer].start < runs[producer].end;
  };
  for (size_t s = 0; s < steps; ++s) {
    for (size_t i = 0; i < ops; ++i) {
      const uint64_t x = s * ops + i;
      const Access& a = table.ops[i];
      for (uint32_t r : a.reads)
        if (late(x, last_writer[r]))
          out.push_back({x, last_writer[r], r, Hazard::read_after_write, runs[x].start, runs[last_writer[r]].end});
      for (uint32_t r : a.writes) {
        if (late(x, last_writer[r]))
          out.push_back({x, last_writer[r], r, Hazard::write_after_write, runs[x].start, runs[last_writer[r]].end});
        if (latest_reader[r] != x && late(x, latest_reader[r]))
          out.push_back({x, latest_reader[r], r, Hazard::write_after_read, runs[x].start, runs[latest_reader[r]].end});
      }
      for (uint32_t r : a.reads)
        if (latest_reader[r] == kNone || runs[x].end > runs[latest_reader[r]].end) latest_reader[r] = x;
      for (uint32_t r : a.writes) {
        last_writer[r] = x;
        latest_reader[r] = kNone;
      }
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Violation& a, const Violation& b) {
    if (a.consumer_start != b.consumer_start) return a.consumer_start < b.consumer_start;
    return a.consumer < b.consumer;
  });
  return out;
}

}  // namespace rwkv::simgpu
