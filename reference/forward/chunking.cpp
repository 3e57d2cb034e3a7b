#include "reference/forward/chunking.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::forward {

void check_chunk_size(int64_t chunk) {
  if (chunk == 1 || (chunk >= kMatTokenMultiple && chunk % kMatTokenMultiple == 0)) return;
  throw std::invalid_argument(fmt::format(
      "chunk size {}: expected 1 (one token per step) or a multiple of {} (the matmul_mat path), e.g. 32, 128",
      chunk, kMatTokenMultiple));
}

std::vector<int64_t> chunk_lengths(int64_t n_tokens, int64_t chunk) {
  check_chunk_size(chunk);
  if (n_tokens < 1) throw std::invalid_argument(fmt::format("token list is empty: expected at least one token"));
  std::vector<int64_t> out;
  int64_t left = n_tokens;
  while (left > 0) {
    int64_t len = 1;
    if (chunk > 1) {
      if (left >= chunk) len = chunk;
      else if (left >= kMatTokenMultiple) len = left / kMatTokenMultiple * kMatTokenMultiple;
      else len = left;
    }
    out.push_back(len);
    left -= len;
  }
  return out;
}

}  // namespace rwkv::forward
