#include "simgpu/hazards.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

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
