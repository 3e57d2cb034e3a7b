#include "reference/kernel_catalog.h"

#include <set>
#include <stdexcept>

namespace rwkv {

KernelVariant make_variant(std::string name, std::string format, std::string activation, std::string order,
                           std::string oracle, CaseFn cases, std::string policy) {
  KernelVariant v;
  v.key = name;
  if (format != "-") v.key += "." + format;
  if (activation != "-") v.key += "." + activation;
  if (!policy.empty()) v.key += "." + policy;
  v.name = std::move(name);
  v.format = std::move(format);
  v.activation = std::move(activation);
  v.order = std::move(order);
  v.oracle = std::move(oracle);
  v.sample = [cases](uint64_t seed) { return case_bytes(cases(seed, WithOracle::no)); };
  v.cases = std::move(cases);
  return v;
}

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
    std::set<std::string> keys;
    for (const KernelVariant& k : v)
      if (!keys.insert(k.key).second) throw std::logic_error("kernel catalog: two variants have the key " + k.key);
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
