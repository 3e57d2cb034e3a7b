#pragma once
// Converting one batch slot of one layer's recurrent state between web-rwkv's
// layout (LayerState: f32 [C, N+2, B], each head's WKV block key-major) and
//   official  rwkv_v7_numpy.py / the crosscheck files: att_shift [C],
//             wkv [H][N][N] as [h][i = value][j = key], ffn_shift [C];
//   ggml      llama.cpp: wkv {N*N*H} per sequence, element h*N*N + i*N + j
//             (the same [h][i][j] order), token shift {C, 2} = att row, ffn row.
// Pure copies, so each pair is an exact inverse (bit for bit, NaN payloads too).
// Spans must hold exactly the sizes named; otherwise std::invalid_argument.
#include <cstdint>
#include <span>

#include "reference/kernels/batch.h"

namespace rwkv {

// wkv_official[(h*N + i)*N + j] = S_h[i][j] = web[(1 + j)*C + h*N + i].
void state_slot_to_official(const LayerState& state, int64_t batch, std::span<float> att_shift /*[C]*/,
                            std::span<float> wkv /*[H*N*N]*/, std::span<float> ffn_shift /*[C]*/);
void state_slot_from_official(std::span<const float> att_shift, std::span<const float> wkv,
                              std::span<const float> ffn_shift, const LayerState& state, int64_t batch);

// token_shift [2*C]: att_shift then ffn_shift; wkv as official.
void state_slot_to_ggml(const LayerState& state, int64_t batch, std::span<float> wkv /*[H*N*N]*/,
                        std::span<float> token_shift /*[2*C]*/);
void state_slot_from_ggml(std::span<const float> wkv, std::span<const float> token_shift, const LayerState& state,
                          int64_t batch);

}  // namespace rwkv
