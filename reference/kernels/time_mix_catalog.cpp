#include "reference/kernel_catalog.h"

namespace rwkv {

// Placeholder until this family's kernels land.
void register_time_mix_kernels(std::vector<KernelVariant>& /*out*/) {}

}  // namespace rwkv
