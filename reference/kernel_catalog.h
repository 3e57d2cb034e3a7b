#pragma once
// Every kernel and variant of the reference, in one list: what
// `rwkv-oracle kernels` prints, what the determinism tests run at every SIMD
// level and thread count, and what the GCC-vs-Clang comparison hashes.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rwkv {

struct KernelVariant {
  std::string name;        // kernel, e.g. "matmul_vec"
  std::string format;      // weight format ("fp16", "q4_k", ...) or "-"
  std::string activation;  // fused activation ("none", "tanh", ...) or "-"
  std::string order;       // the canonical accumulation order, in a few words
  // Runs the kernel on inputs drawn from `seed` (a few shapes, including awkward
  // tails) and returns every output byte it produced. Must be deterministic
  // and take well under 100 ms.
  std::function<std::vector<uint8_t>(uint64_t seed)> sample;
};

// All variants, in a stable order (families in forward-pass order).
const std::vector<KernelVariant>& kernel_catalog();

// Each kernel family appends its variants (reference/*/..._catalog.cpp).
void register_numeric_kernels(std::vector<KernelVariant>& out);
void register_format_kernels(std::vector<KernelVariant>& out);
void register_norm_kernels(std::vector<KernelVariant>& out);
void register_elementwise_kernels(std::vector<KernelVariant>& out);
void register_time_mix_kernels(std::vector<KernelVariant>& out);
void register_matmul_kernels(std::vector<KernelVariant>& out);
void register_metal_kernels(std::vector<KernelVariant>& out);

// Helpers for sample functions: append a buffer's bytes.
template <class T> void append_bytes(std::vector<uint8_t>& out, const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  out.insert(out.end(), p, p + v.size() * sizeof(T));
}

// 64-bit FNV-1a of a byte string (for digests printed by tools).
uint64_t fnv1a64(const std::vector<uint8_t>& bytes);

}  // namespace rwkv
