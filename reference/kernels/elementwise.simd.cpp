// Lane code for the element-wise kernels (elementwise.h). Lanes are channels of
// one token row; OpenMP splits rows (tokens x batches) or fixed blocks of a flat
// tensor. Every element is one GPU thread's work, so the canonical order is the
// order of operations inside each expression, which is written below exactly as
// in the spec (left to right, one IEEE f32 operation at a time, never fused),
// with the result rounded once to the output type on store.
#include "reference/simd/variant.h"
#include "reference/kernels/elementwise_rows.h"
#include "reference/kernels/parallel_work.h"

namespace rwkv::RWKV_SIMD_NS {
#include "reference/kernels/lane_loops.inc"

namespace {

// Rows (t, b) of a [C, T, B] activation, split across OpenMP threads when
// there is enough work (C elements per row).
template <class F> void for_each_row(int64_t C, int64_t T, int64_t B, F&& f) {
#pragma omp parallel for schedule(static) if (C * T * B >= kParallelMinElements)
  for (int64_t r = 0; r < T * B; ++r) f(r % T, r / T, r);
}

// Blocks of a flat tensor, split across OpenMP threads.
constexpr int64_t kFlatBlock = 4096;
template <class F> void for_each_block(int64_t n, F&& f) {
  const int64_t blocks = (n + kFlatBlock - 1) / kFlatBlock;
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t begin = k * kFlatBlock;
    f(begin, (n - begin < kFlatBlock ? n - begin : kFlatBlock));
  }
}

}  // namespace

// token_shift: d = prev - x; e = d * mu; out = x + e.
void token_shift_rows(const TokenShiftRows& a) {
  with_typed_ptr(a.x, a.x_f16, [&](auto* x) {
    with_typed_ptr(a.mu.data, a.mu.f16, [&](auto* mu) {
      with_typed_ptr(a.out.data, a.out.f16, [&](auto* out) {
        for_each_row(a.C, a.T, 1, [&](int64_t s, int64_t, int64_t) {
          const auto* xs = x + s * a.C;
          const auto* ms = mu + s * a.mu.t_step;
          auto* os = out + s * a.C;
          auto shift = [&](const auto* prev) {
            lane_blocks(a.C, [&](auto tag, int64_t i) {
              using V = typename decltype(tag)::type;
              const V xv = lane_load_any<V>(xs + i);
              const V d = lane_load_any<V>(prev + i) - xv;
              lane_store_any(os + i, xv + d * lane_load_any<V>(ms + i));
            });
          };
          if (a.state_prev[s] != nullptr)
            shift(a.state_prev[s]);  // first token of its chunk: the state row
          else
            shift(xs - a.C);  // x[s - 1]
        });
      });
    });
  });
}

// lerp (REVERSED): d = x - y; e = d * f; y = y + e.
void lerp_rows(ActRows f, ActRows x, ActOut y, int64_t C, int64_t T, int64_t B) {
  with_typed_ptr(f.data, f.f16, [&](auto* fp) {
    with_typed_ptr(x.data, x.f16, [&](auto* xp) {
      with_typed_ptr(y.data, y.f16, [&](auto* yp) {
        for_each_row(C, T, B, [&](int64_t t, int64_t b, int64_t r) {
          const auto* fr = fp + t * f.t_step + b * f.b_step;
          const auto* xr = xp + t * x.t_step + b * x.b_step;
          auto* yr = yp + r * C;
          lane_blocks(C, [&](auto tag, int64_t i) {
            using V = typename decltype(tag)::type;
            const V yv = lane_load_any<V>(yr + i);
            const V d = lane_load_any<V>(xr + i) - yv;
            lane_store_any(yr + i, yv + d * lane_load_any<V>(fr + i));
          });
        });
      });
    });
  });
}

// binary: u = ACT_X(in); w = ACT_Y(out); r = u + w (or u * w); out = ACT_OUT(r).
void binary_rows(bool mul, Activation act_x, Activation act_y, Activation act_out, ActRows in, ActOut out,
                 int64_t C, int64_t T, int64_t B) {
  with_typed_ptr(in.data, in.f16, [&](auto* ip) {
    with_typed_ptr(out.data, out.f16, [&](auto* op) {
      for_each_row(C, T, B, [&](int64_t t, int64_t b, int64_t r) {
        const auto* ir = ip + t * in.t_step + b * in.b_step;
        auto* orow = op + r * C;
        lane_blocks(C, [&](auto tag, int64_t i) {
          using V = typename decltype(tag)::type;
          const V u = canon_activate(act_x, lane_load_any<V>(ir + i));
          const V w = canon_activate(act_y, lane_load_any<V>(orow + i));
          lane_store_any(orow + i, canon_activate(act_out, mul ? u * w : u + w));
        });
      });
    });
  });
}

// affine: x = (scale * x) + bias.
void affine_rows(ActOut x, int64_t n, float scale, float bias) {
  with_typed_ptr(x.data, x.f16, [&](auto* xp) {
    for_each_block(n, [&](int64_t begin, int64_t len) {
      auto* xb = xp + begin;
      lane_blocks(len, [&](auto tag, int64_t i) {
        using V = typename decltype(tag)::type;
        lane_store_any(xb + i, lane_splat<V>(scale) * lane_load_any<V>(xb + i) + lane_splat<V>(bias));
      });
    });
  });
}

// blit: out = in, through f32 (f16 -> f32 exact, f32 -> f16 nearest-even).
void blit_rows(const void* in, bool in_f16, ActOut out, int64_t n) {
  with_typed_ptr(in, in_f16, [&](auto* ip) {
    with_typed_ptr(out.data, out.f16, [&](auto* op) {
      for_each_block(n, [&](int64_t begin, int64_t len) {
        lane_blocks(len, [&](auto tag, int64_t i) {
          using V = typename decltype(tag)::type;
          lane_store_any(op + begin + i, lane_load_any<V>(ip + begin + i));
        });
      });
    });
  });
}

// embedding: out[:, s] = table[:, ids[s]] (ids checked by the caller).
void embedding_rows(const f16* table, const uint32_t* ids, ActOut out, int64_t C, int64_t T) {
  with_typed_ptr(out.data, out.f16, [&](auto* op) {
    for_each_row(C, T, 1, [&](int64_t s, int64_t, int64_t) {
      const f16* src = table + int64_t(ids[s]) * C;
      auto* dst = op + s * C;
      lane_blocks(C, [&](auto tag, int64_t i) {
        using V = typename decltype(tag)::type;
        lane_store_any(dst + i, lane_load_f16<V>(src + i));
      });
    });
  });
}

// control_k_v7: d = a - 1; e = d * k_a; g = 1 + e; k = k * g.
void control_k_rows(ActOut k, ActRows a, const f16* k_a, int64_t C, int64_t T, int64_t B) {
  with_typed_ptr(k.data, k.f16, [&](auto* kp) {
    with_typed_ptr(a.data, a.f16, [&](auto* ap) {
      for_each_row(C, T, B, [&](int64_t t, int64_t b, int64_t r) {
        auto* kr = kp + r * C;
        const auto* ar = ap + t * a.t_step + b * a.b_step;
        lane_blocks(C, [&](auto tag, int64_t i) {
          using V = typename decltype(tag)::type;
          const V one = lane_splat<V>(1.0f);
          const V g = one + (lane_load_any<V>(ar + i) - one) * lane_load_f16<V>(k_a + i);
          lane_store_any(kr + i, lane_load_any<V>(kr + i) * g);
        });
      });
    });
  });
}

// channel_mix_v7: state = x (f32, exact) for a chunk's last token; then x = v.
void channel_mix_rows(const ChannelMixRows& a) {
  with_typed_ptr(a.x.data, a.x.f16, [&](auto* xp) {
    with_typed_ptr(a.v, a.v_f16, [&](auto* vp) {
      for_each_row(a.C, a.T, 1, [&](int64_t s, int64_t, int64_t) {
        auto* xs = xp + s * a.C;
        const auto* vs = vp + s * a.C;
        float* state = a.state_dst[s];
        lane_blocks(a.C, [&](auto tag, int64_t i) {
          using V = typename decltype(tag)::type;
          if (state != nullptr) lane_store(state + i, lane_load_any<V>(xs + i));
          lane_store_any(xs + i, lane_load_any<V>(vs + i));
        });
      });
    });
  });
}

}  // namespace rwkv::RWKV_SIMD_NS
