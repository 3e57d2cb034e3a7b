#pragma once
// Per-kernel test vectors: every case of the chosen catalog variants
// (reference/kernel_case.h) written to one HDF5 file with its inputs, the
// reference's outputs, the float64 oracle's outputs and the distance between
// the two. Layout and meaning: vectors/KERNEL_VECTORS.md.
//
//   /                          attrs schema, tool_version, seed, max_cases, kernel_regex, variants
//   /<key>                     one group per variant (KernelVariant::key), in catalog order;
//                              attrs kernel, format, activation, order, oracle, cases
//   /<key>/<i>                 case i (0, 1, ...); attr label, one attribute per parameter
//   /<key>/<i>/inputs/<name>   every input, as the kernel read it
//   /<key>/<i>/outputs/<name>  every output, the reference's exact bits;
//                              attrs max_abs_err_f64, max_rel_err_f64 where it has an oracle
//   /<key>/<i>/oracle/<name>   f64, the oracle's value of outputs/<name>
//
// Identical input and oracle datasets (variants that differ only in the fused
// activation or the MMA order draw the same inputs) are written once and
// hard-linked: readers see ordinary datasets. Deterministic: the same
// variants, seed and max_cases give the same bytes on any thread count and
// SIMD level.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reference/kernel_catalog.h"
#include "vectors/h5_file.h"

namespace rwkv::vectors {

inline constexpr const char* kKernelVectorsSchema = "rwkv-oracle-kernel-vectors/1";

struct KernelVectorsOptions {
  uint64_t seed = 20261122;
  uint64_t max_cases = 0;         // 0: every case; else the first max_cases of each variant
  std::string kernel_regex = "";  // recorded in the file (the selection it was made with)
};

struct KernelVectorsSummary {
  uint64_t variants = 0, cases = 0;
  uint64_t datasets = 0;  // written
  uint64_t linked = 0;    // stored once already, hard-linked
};

// Writes the root attributes and every variant; `progress` (optional) is
// called after each variant with the number of its cases written. Does not
// close the writer.
KernelVectorsSummary write_kernel_vectors(H5Writer& w, const std::vector<const KernelVariant*>& variants,
                                          const KernelVectorsOptions& options,
                                          const std::function<void(const KernelVariant&, uint64_t)>& progress = {});

}  // namespace rwkv::vectors
