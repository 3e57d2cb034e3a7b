#include "reference/kernel_catalog.h"

namespace rwkv {

const std::vector<KernelVariant>& kernel_catalog() {
  static const std::vector<KernelVariant> all = [] {
    std::vector<KernelVariant> v;
    register_numeric_kernels(v);
    register_norm_kernels(v);
    register_elementwise_kernels(v);
    register_time_mix_kernels(v);
    register_matmul_kernels(v);
    register_format_kernels(v);
    register_metal_kernels(v);
    return v;
  }();
  return all;
}

uint64_t fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace rwkv
