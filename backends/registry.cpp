#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/backend.h"
#include "backends/cpu_reordered.h"
#include "backends/reference_backend.h"

namespace rwkv::backends {

std::vector<std::string> backend_names() { return {"reference", "cpu-reordered", "faulty"}; }

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
  if (name != "faulty" && !options.fault.empty())
    throw std::invalid_argument(fmt::format("--fault is for the faulty backend, not '{}'", name));
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  if (name == "cpu-reordered") return std::make_unique<CpuReordered>();
  if (name == "faulty") {
    if (options.fault.empty()) throw std::invalid_argument("the faulty backend needs --fault NAME");
    return std::make_unique<CpuReordered>(parse_fault(options.fault));
  }
  throw std::invalid_argument(
      fmt::format("unknown backend '{}' (expected one of {})", name, fmt::join(backend_names(), ", ")));
}

}  // namespace rwkv::backends
