#pragma once
// Argument checks shared by the encoders: a bad length throws
// std::invalid_argument naming the function, the format and what was expected.
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv {

inline void require_block_multiple(const char* function, const char* format, int64_t k, int64_t block) {
  if (k < 0 || k % block != 0)
    throw std::invalid_argument(fmt::format("{}: k = {} is not a multiple of {} ({} blocks hold {} values)",
                                            function, k, block, format, block));
}

}  // namespace rwkv
