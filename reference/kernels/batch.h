#pragma once
// How the tokens of one job map to batches and their recurrent state
// (web-rwkv Cursor, v7::State). Token-shift, time-mix and channel-mix kernels
// take these.
#include <cstdint>
#include <vector>

namespace rwkv {

// One per stacked token s of a job (web-rwkv Cursor::pack, repeated for each
// token of a chunk): the token belongs to state slot `batch`; its chunk starts
// at stack index `start` and holds `len` tokens. Position in chunk: s - start.
struct Cursor {
  uint32_t batch = 0;
  uint32_t start = 0;
  uint32_t len = 0;
};

// Cursors for chunks given as (batch, token count) in stacking order.
inline std::vector<Cursor> make_cursors(const std::vector<std::pair<uint32_t, uint32_t>>& chunks) {
  std::vector<Cursor> out;
  uint32_t s = 0;
  for (auto [batch, len] : chunks) {
    for (uint32_t i = 0; i < len; ++i) out.push_back(Cursor{batch, s, len});
    s += len;
  }
  return out;
}

// One layer's recurrent state in web-rwkv's layout: f32 [C, N+2, B].
//   row 0      attention token-shift vector (last xa)
//   rows 1..N  WKV: element [row 1+j, column h*N+i] = S_h[i][j] (i value, j key):
//              each head's block transposed relative to the official [h][i][j]
//   row N+1    FFN token-shift vector (last xf)
struct LayerState {
  float* data = nullptr;
  int64_t C = 0;  // width
  int64_t N = 0;  // head size
  int64_t B = 0;  // batch slots
  int64_t rows() const { return N + 2; }
  float* row(int64_t batch, int64_t r) const { return data + (batch * rows() + r) * C; }
  float* att_shift(int64_t batch) const { return row(batch, 0); }
  float* ffn_shift(int64_t batch) const { return row(batch, N + 1); }
  // Offset of S_h[i][j] within a batch slot: (1 + j)*C + h*N + i.
  int64_t wkv_offset(int64_t h, int64_t i, int64_t j) const { return (1 + j) * C + h * N + i; }
};

}  // namespace rwkv
