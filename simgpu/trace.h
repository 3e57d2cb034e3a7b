#pragma once
// A Chrome trace-event file (JSON, opens in Perfetto and chrome://tracing) of
// a recorded simulation: process "host" with one thread (encode, submit,
// wait, host work), process "device" with one lane per API queue (every
// dispatch, named by its op, with its step, kernel kind, bytes and FLOPs in
// args) and one lane of command buffers (commit to completion).
#include <string>

#include <nlohmann/json.hpp>

#include "simgpu/simulate.h"

namespace rwkv::simgpu {

// Needs a result simulated with SimOptions::record.
nlohmann::json chrome_trace(const SimResult& result, const Workload& workload);

// Writes chrome_trace to `path` (temporary file + rename). Refuses an
// existing file unless `force` (std::runtime_error naming the path).
void write_chrome_trace(const SimResult& result, const Workload& workload, const std::string& path, bool force);

}  // namespace rwkv::simgpu
