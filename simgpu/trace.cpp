#include "simgpu/trace.h"

#include <stdexcept>

#include <fmt/format.h>

#include "simgpu/output_file.h"

namespace rwkv::simgpu {

namespace {
constexpr int kHostPid = 1, kDevicePid = 2;
constexpr int kCbTid = 10;  // + api

nlohmann::json meta(const char* what, int pid, int tid, const std::string& name) {
  return {{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}};
}
}  // namespace

nlohmann::json chrome_trace(const SimResult& r, const Workload& w) {
  if (!r.device) throw std::invalid_argument("simgpu: chrome_trace needs a result simulated with record = true");
  const SimDevice& dev = *r.device;
  nlohmann::json events = nlohmann::json::array();
  events.push_back(meta("process_name", kHostPid, 0, "host"));
  events.push_back(meta("thread_name", kHostPid, 1, "host thread"));
  std::string device = "device";
  for (size_t i = 0; i < 2; ++i)
    if (r.apis[i]) device = fmt::format("device: {}", r.apis[i]->device);
  events.push_back(meta("process_name", kDevicePid, 0, device));
  // Device API numbers follow the roles in use, portable first.
  std::vector<const ApiInfo*> by_api;
  for (size_t i = 0; i < 2; ++i)
    if (r.apis[i]) by_api.push_back(&*r.apis[i]);
  for (size_t a = 0; a < by_api.size(); ++a) {
    events.push_back(meta("thread_name", kDevicePid, int(1 + a), fmt::format("queue: {}", by_api[a]->name)));
    events.push_back(
        meta("thread_name", kDevicePid, int(kCbTid + a), fmt::format("command buffers: {}", by_api[a]->name)));
  }
  for (const HostRecord& h : dev.host_records()) {
    std::string name(host_kind_name(h.kind));
    nlohmann::json args = {{"api", by_api.at(h.api)->name}, {"step", h.step}};
    if (h.kind == HostKind::encode || (h.kind == HostKind::host_work && h.arg < w.dispatches.size())) {
      name += " " + w.dispatches.at(h.arg).name;
    } else if (h.kind == HostKind::submit || h.kind == HostKind::wait) {
      args["command_buffer"] = h.arg;
    }
    events.push_back({{"name", name}, {"cat", "host"}, {"ph", "X"}, {"pid", kHostPid}, {"tid", 1}, {"ts", h.start},
                      {"dur", h.end - h.start}, {"args", args}});
  }
  for (const DeviceRecord& d : dev.device_records()) {
    const Dispatch& disp = w.dispatches.at(d.dispatch);
    events.push_back({{"name", disp.name},
                      {"cat", "dispatch"},
                      {"ph", "X"},
                      {"pid", kDevicePid},
                      {"tid", 1 + d.api},
                      {"ts", d.start},
                      {"dur", d.end - d.start},
                      {"args",
                       {{"step", d.step},
                        {"kind", disp.kind},
                        {"command_buffer", d.cb},
                        {"grid", disp.grid},
                        {"workgroup", disp.workgroup},
                        {"bytes", disp.bytes_read + disp.bytes_written},
                        {"flops", disp.flops}}}});
  }
  const std::vector<CommandBufferRecord>& cbs = dev.command_buffers();
  for (size_t i = 0; i < cbs.size(); ++i) {
    const CommandBufferRecord& c = cbs[i];
    events.push_back({{"name", fmt::format("command buffer {}", i)},
                      {"cat", "command_buffer"},
                      {"ph", "X"},
                      {"pid", kDevicePid},
                      {"tid", kCbTid + c.api},
                      {"ts", c.start},
                      {"dur", c.complete - c.start},
                      {"args", {{"committed_at", c.commit}, {"ready_at", c.ready}, {"dispatches", c.dispatches}}}});
  }
  return {{"traceEvents", events},
          {"displayTimeUnit", "ns"},
          {"otherData",
           {{"schedule", r.schedule},
            {"workload", r.workload},
            {"tokens", r.tokens},
            {"tokens_per_second", r.tokens_per_second()}}}};
}

void write_chrome_trace(const SimResult& r, const Workload& w, const std::string& path, bool force) {
  write_text_file(path, chrome_trace(r, w).dump(), force);
}

}  // namespace rwkv::simgpu
