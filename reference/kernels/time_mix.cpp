// time_mix_v7 and time_first_v7: argument checks, cursor resolution and the
// OpenMP split (heads for the recurrence, tokens for time_first). The maths is
// in time_mix.simd.cpp and time_first.simd.cpp.
#include "reference/kernels/time_mix.h"

#include <vector>

#include "reference/kernels/time_mix_args.h"
#include "reference/simd/dispatch.h"

RWKV_SIMD_DECLARE(void time_mix_v7_head(const rwkv::TimeMixArgs& a, int64_t h))
RWKV_SIMD_DECLARE(void time_first_v7_token(const rwkv::TimeFirstArgs& a, int64_t t))

namespace rwkv {
namespace {

void require_head_size(const char* kernel, int64_t C, int64_t N) {
  if (!time_mix_head_size_supported(N))
    fail_arg("{}: head_size is {}, expected a multiple of 4 with head_size/4 dividing 32 (4, 8, 16, 32, 64 "
             "or 128)",
             kernel, N);
  if (C <= 0 || C % N != 0) fail_arg("{}: width C = {} is not a positive multiple of head_size {}", kernel, C, N);
}

void require_dtype(const char* kernel, const char* arg, const TensorView& v, DType want) {
  if (v.dtype != want)
    fail_arg("{}: {} is {}, expected {} (the activation dtype of the other inputs)", kernel, arg,
             dtype_name(v.dtype), dtype_name(want));
}

// Aliasing x with an input would change results mid-kernel.
void require_distinct(const char* kernel, const char* arg, const TensorView& x, const TensorView& other) {
  if (x.data == other.data && x.data != nullptr) fail_arg("{}: x must not alias {}", kernel, arg);
}

}  // namespace

bool time_mix_head_size_supported(int64_t N) { return N >= 4 && N % 4 == 0 && 32 % (N / 4) == 0; }

void time_mix_v7(const LayerState& state, const TensorView& r, const TensorView& w, const TensorView& n,
                 const TensorView& x, std::span<const Cursor> cursors, int64_t head_size,
                 const TimeMixParams& params) {
  const char* kName = "time_mix_v7";
  const int64_t C = state.C, N = head_size, T = int64_t(cursors.size());
  if (state.data == nullptr) fail_arg("{}: state has no data", kName);
  if (state.N != N) fail_arg("{}: state head size N = {} but head_size is {}", kName, state.N, N);
  if (state.B <= 0) fail_arg("{}: state has B = {} batch slots, expected at least 1", kName, state.B);
  require_head_size(kName, C, N);
  require_shape(kName, "r", r, Shape(C, T));
  require_shape(kName, "w", w, Shape(C, T));
  require_shape(kName, "n", n, Shape(C, T, 4));
  require_shape(kName, "x", x, Shape(C, T));
  require_dtype(kName, "w", w, r.dtype);
  require_dtype(kName, "n", n, r.dtype);
  require_dtype(kName, "x", x, r.dtype);
  require_distinct(kName, "r", x, r);
  require_distinct(kName, "w", x, w);
  require_distinct(kName, "n", x, n);

  // Cursors: each token lies inside its chunk and names an existing slot; the
  // chunk's last token (s == start + len - 1) saves xa.
  std::vector<uint32_t> slot(static_cast<size_t>(T));
  std::vector<uint8_t> saves(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    const Cursor& c = cursors[size_t(s)];
    if (int64_t(c.batch) >= state.B)
      fail_arg("{}: cursors[{}].batch = {} but the state has {} slots", kName, s, c.batch, state.B);
    if (int64_t(c.start) > s || s >= int64_t(c.start) + int64_t(c.len) || int64_t(c.start) + c.len > T)
      fail_arg("{}: cursors[{}] = {{batch {}, start {}, len {}}} does not contain token {} within T = {}", kName,
               s, c.batch, c.start, c.len, s, T);
    slot[size_t(s)] = c.batch;
    saves[size_t(s)] = uint8_t(s == int64_t(c.start) + int64_t(c.len) - 1);
  }
  if (T == 0) return;

  TimeMixArgs a;
  a.state = state.data;
  a.C = C;
  a.N = N;
  a.T = T;
  a.f16 = r.dtype == DType::f16;
  a.r = r.data;
  a.z = w.data;
  a.n = n.data;
  a.x = x.data;
  a.token_slot = slot.data();
  a.token_saves = saves.data();
  a.neg_decay = -params.decay;
  // Heads are independent (own state columns, own x channels); each runs its
  // tokens in order. Jobs under ~1M state multiply-adds (about 0.1 ms on one
  // core) stay on one thread: waking the team costs more, and far more when
  // the machine is busy. Threads change no bits, only speed.
  const int64_t H = C / N;
  const bool parallel = H > 1 && T * C * N >= (int64_t(1) << 20);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t h = 0; h < H; ++h) RWKV_SIMD_CALL(time_mix_v7_head, a, h);
}

void time_first_v7(const TensorView& r_k, const TensorView& r, const TensorView& n, const TensorView& x,
                   int64_t head_size) {
  const char* kName = "time_first_v7";
  const int64_t C = x.shape[0], N = head_size, T = x.shape[1];
  require_head_size(kName, C, N);
  if (!(r_k.shape == Shape(C) || r_k.shape == Shape(N, C / N)))
    fail_arg("{}: r_k has shape {}, expected [{}, 1, 1] or [{}, {}, 1]", kName, r_k.shape.str(), C, N, C / N);
  if (r_k.dtype != DType::f16) fail_arg("{}: r_k is {}, expected f16 (a weight vector)", kName, dtype_name(r_k.dtype));
  require_shape(kName, "r_k", r_k, r_k.shape);
  require_shape(kName, "x", x, Shape(C, T));
  require_shape(kName, "r", r, Shape(C, T));
  require_shape(kName, "n", n, Shape(C, T, 4));
  require_dtype(kName, "r", r, x.dtype);
  require_dtype(kName, "n", n, x.dtype);
  require_distinct(kName, "r", x, r);
  require_distinct(kName, "n", x, n);
  if (T == 0) return;

  TimeFirstArgs a;
  a.r_k = reinterpret_cast<const uint16_t*>(r_k.half());
  a.C = C;
  a.N = N;
  a.T = T;
  a.f16 = x.dtype == DType::f16;
  a.r = r.data;
  a.n = n.data;
  a.x = x.data;
  // Tokens are independent (the shader dispatches them in parallel); small
  // jobs stay on one thread.
  const bool parallel = T > 1 && T * C >= (int64_t(1) << 17);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < T; ++t) RWKV_SIMD_CALL(time_first_v7_token, a, t);
}

}  // namespace rwkv
