#include "reference/kernel_catalog.h"

namespace rwkv {

// Placeholder until this family's kernels land.
void register_elementwise_kernels(std::vector<KernelVariant>& /*out*/) {}

}  // namespace rwkv
