#pragma once
// How a prompt is cut into steps (web-rwkv RnnIter with token_chunk_size,
// spec 3.6): a step of a multiple of 32 tokens takes the matmul_mat path, any
// other length the matmul_vec path. So the chunk size must be 1 (token by
// token, decode-like) or a multiple of 32; while more than 32 tokens are
// pending, steps are cut to multiples of 32 (at most `chunk`); the last
// fewer-than-32 tokens go as one vec step.
#include <cstdint>
#include <vector>

namespace rwkv::forward {

inline constexpr int64_t kMatTokenMultiple = 32;  // web-rwkv MIN_TOKEN_CHUNK_SIZE
inline constexpr int64_t kDefaultChunk = 128;

// Throws std::invalid_argument naming the value and what is allowed.
void check_chunk_size(int64_t chunk);

// Lengths of the successive steps for n_tokens (>= 1) tokens; they sum to n_tokens.
std::vector<int64_t> chunk_lengths(int64_t n_tokens, int64_t chunk);

}  // namespace rwkv::forward
