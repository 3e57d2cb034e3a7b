#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/backend.h"
#include "backends/cpu_reordered.h"
#include "backends/reference_backend.h"
#ifdef RWKV_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace rwkv::backends {

std::vector<std::string> backend_names() {
#ifdef RWKV_HAVE_CUDA
  return {"reference", "cpu-reordered", "faulty", "cuda"};
#else
  return {"reference", "cpu-reordered", "faulty"};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
  if (name != "faulty" && !options.fault.empty())
    throw std::invalid_argument(fmt::format("--fault is for the faulty backend, not '{}'", name));
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  if (name == "cpu-reordered") return std::make_unique<CpuReordered>();
#ifdef RWKV_HAVE_CUDA
  // "cuda" or "cuda:OPTIONS" (backends/cuda/cuda_backend.h).
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) return std::make_unique<CudaBackend>(parse_cuda_backend_name(name));
#endif
  if (name == "faulty") {
    if (options.fault.empty()) throw std::invalid_argument("the faulty backend needs --fault NAME");
    return std::make_unique<CpuReordered>(parse_fault(options.fault));
  }
  throw std::invalid_argument(
      fmt::format("unknown backend '{}' (expected one of {})", name, fmt::join(backend_names(), ", ")));
}

}  // namespace rwkv::backends
