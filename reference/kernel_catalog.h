#pragma once
// Every kernel and variant of the reference, in one list: what
// `rwkv-oracle kernels` prints, what the determinism tests run at every SIMD
// level and thread count, what the GCC-vs-Clang comparison hashes, and what
// `rwkv-oracle vectors` writes (vectors/KERNEL_VECTORS.md).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reference/kernel_case.h"

namespace rwkv {

struct KernelVariant {
  std::string name;        // kernel, e.g. "matmul_vec"
  std::string format;      // weight format ("fp16", "q4_k", ...) or "-"
  std::string activation;  // fused activation ("none", "tanh", ...) or "-"
  std::string order;       // the canonical accumulation order, in a few words
  // What the float64 oracle of the outputs is, in a few words.
  std::string oracle;
  // Unique among all variants: name, then format and activation unless "-",
  // then the policy where one kernel has several (Metal's MMA order), joined
  // by '.': "matmul_vec.q4_k.tanh", "layer_norm", "metal_simdgroup_mma.pairwise_f32".
  std::string key;
  // Runs the kernel on inputs drawn from `seed`: several cases (shapes that
  // matter: awkward tails, both activation dtypes, ...), listed smallest and
  // most telling first, so that the first few make a good small set. Must be
  // deterministic and take well under 100 ms without oracles.
  CaseFn cases;
  // Every input and output byte of cases(seed, WithOracle::no), in order.
  std::function<std::vector<uint8_t>(uint64_t seed)> sample;
};

// A variant with its key and its sample derived from `cases`. `policy` is
// empty unless one kernel, format and activation has several variants.
KernelVariant make_variant(std::string name, std::string format, std::string activation, std::string order,
                           std::string oracle, CaseFn cases, std::string policy = {});

// All variants, in a stable order (families in forward-pass order). Throws
// std::logic_error on first use if two variants share a key.
const std::vector<KernelVariant>& kernel_catalog();

// Each kernel family appends its variants (reference/*/..._catalog.cpp).
void register_numeric_kernels(std::vector<KernelVariant>& out);
void register_format_kernels(std::vector<KernelVariant>& out);
void register_norm_kernels(std::vector<KernelVariant>& out);
void register_elementwise_kernels(std::vector<KernelVariant>& out);
void register_time_mix_kernels(std::vector<KernelVariant>& out);
void register_matmul_kernels(std::vector<KernelVariant>& out);
void register_metal_kernels(std::vector<KernelVariant>& out);

// 64-bit FNV-1a of a byte string (for digests printed by tools).
uint64_t fnv1a64(const std::vector<uint8_t>& bytes);

}  // namespace rwkv
