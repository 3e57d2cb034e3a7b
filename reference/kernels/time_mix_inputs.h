#pragma once
// Seeded, realistic inputs for time_mix_v7 / time_first_v7, shared by the
// catalog samples, the tests and the benchmark. Values look like a trained
// model's (see the crosscheck model's README): per-channel decay biases w0
// spread over -8 .. +3, a in (0, 1), kk L2-normalised per head.
#include <cstdint>
#include <utility>
#include <vector>

#include "reference/kernels/batch.h"
#include "reference/tensor.h"

namespace rwkv {

struct TimeMixInputs {
  int64_t C = 0, N = 0, T = 0;
  std::vector<Cursor> cursors;  // from the chunks, in stacking order
  Tensor r;                     // [C, T]     N(0, 1)
  Tensor z;                     // [C, T]     w0_c + N(0, 0.5^2), w0_c uniform in [-8, 3] per channel
  Tensor n;                     // [C, T, 4]  k N(0, 0.5^2), v N(0, 1), a U(0.001, 0.999), kk unit per head
  Tensor x;                     // [C, T]     xa, N(0, 1)
};

// chunks: (state slot, token count) in stacking order (make_cursors).
TimeMixInputs make_time_mix_inputs(uint64_t seed, DType dtype, int64_t C, int64_t N,
                                   const std::vector<std::pair<uint32_t, uint32_t>>& chunks);

// A layer state f32 [C, N+2, B] with every entry uniform with mean 0 and
// standard deviation `scale` (scale 0: zeros, web-rwkv's initial state).
std::vector<float> make_time_mix_state(uint64_t seed, int64_t C, int64_t N, int64_t B, float scale);

// r_k, f16 [C]: N(0, 0.5^2) like the init's per-channel bonus weights.
Tensor make_time_first_weight(uint64_t seed, int64_t C);

}  // namespace rwkv
