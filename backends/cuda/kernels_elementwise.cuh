// Element-wise kernels (reference/kernels/elementwise.simd.cpp): one thread per
// output element, each expression in the reference's order. Which FMAs the
// compiler may form is decided by the including file (-fmad).
// Included inside a kernel set's namespace, after device_common.cuh.

template <class F> inline void with_type(bool f16, F&& f) {
  if (f16) f(h16{});
  else f(float{});
}

inline unsigned flat_blocks(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 65535 * 16 ? (b > 0 ? b : 1) : 65535 * 16);
}

// Each element-wise op's expression, shared by its kernel and the fused chain
// (kernels_fused.cuh), so both compile the same arithmetic.
__device__ __forceinline__ float token_shift_value(float x, float prev, float mu) {
  const float d = prev - x;
  return x + d * mu;
}
__device__ __forceinline__ float binary_value(bool mul, int act, float u, float w) {
  return activate(act, mul ? u * w : u + w);
}
__device__ __forceinline__ float lerp_value(float y, float x, float f) {
  const float d = x - y;
  return y + d * f;
}
__device__ __forceinline__ float control_k_value(float k, float a, float k_a) {
  const float g = 1.0f + (a - 1.0f) * k_a;
  return k * g;
}
__device__ __forceinline__ float affine_value(float x, float scale, float bias) { return scale * x + bias; }

template <class TO>
__global__ void embedding_k(const h16* table, const uint32_t* ids, TO* out, int64_t C, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t s = i / C, c = i % C;
    st(out, i, h2f(table[int64_t(ids[s]) * C + c]));
  }
}

void embedding(const uint16_t* table, const uint32_t* ids, Dev out, cudaStream_t s) {
  with_type(out.f16, [&](auto to) {
    using TO = decltype(to);
    launch(embedding_k<TO>, flat_blocks(out.numel()), 256, 0, s, table, ids, static_cast<TO*>(out.p), out.d0, out.numel());
  });
}

// d = prev - x; e = d * mu; out = x + e.
template <class TX, class TM, class TO>
__global__ void token_shift_k(const TX* x, const TM* mu, int64_t mu_tstep, TO* out, const float* state, int64_t rows,
                              int64_t row, const DevCursor* cur, int64_t C, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t s = i / C, c = i % C;
    const DevCursor cu = cur[s];
    const float xv = ld(x, i);
    const float prev = s == int64_t(cu.start) ? state[(int64_t(cu.batch) * rows + row) * C + c] : ld(x, i - C);
    st(out, i, token_shift_value(xv, prev, ld(mu, s * mu_tstep + c)));
  }
}

void token_shift(Dev x, Dev mu, Dev out, DevState state, int64_t state_row, const DevCursor* cursors, cudaStream_t s) {
  const int64_t C = x.d0, n = x.d0 * x.d1;
  const int64_t mu_tstep = mu.d1 == 1 ? 0 : C;
  with_type(x.f16, [&](auto tx) {
    with_type(mu.f16, [&](auto tm) {
      with_type(out.f16, [&](auto to) {
        using TX = decltype(tx);
        using TM = decltype(tm);
        using TO = decltype(to);
        launch(token_shift_k<TX, TM, TO>, flat_blocks(n), 256, 0, s, static_cast<const TX*>(x.p), static_cast<const TM*>(mu.p),
                                                     mu_tstep, static_cast<TO*>(out.p), state.p, state.rows(),
                                                     state_row, cursors, C, n);
      });
    });
  });
}

template <class TI, class TO> __global__ void blit_k(const TI* in, TO* out, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) st(out, i, ld(in, i));
}

void blit(Dev in, int64_t in_offset, Dev out, int64_t out_offset, int64_t n, cudaStream_t s) {
  with_type(in.f16, [&](auto ti) {
    with_type(out.f16, [&](auto to) {
      using TI = decltype(ti);
      using TO = decltype(to);
      launch(blit_k<TI, TO>, flat_blocks(n), 256, 0, s, static_cast<const TI*>(in.p) + in_offset,
                                            static_cast<TO*>(out.p) + out_offset, n);
    });
  });
}

// u = in; w = out; r = u OP w; out = act(r). in broadcast: row (t, b) at t*ts + b*bs.
template <class TI, class TO>
__global__ void binary_k(bool mul, int act, const TI* in, int64_t ts, int64_t bs, TO* out, int64_t C, int64_t T,
                         int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t c = i % C, r = i / C, t = r % T, b = r / T;
    const float u = ld(in, t * ts + b * bs + c);
    const float w = ld(out, i);
    st(out, i, binary_value(mul, act, u, w));
  }
}

void binary(bool mul, Activation act, Dev in, Dev out, cudaStream_t s) {
  const int64_t C = out.d0, n = out.numel();
  const int64_t ts = in.d1 == 1 ? 0 : C, bs = in.d2 == 1 ? 0 : C * in.d1;
  with_type(in.f16, [&](auto ti) {
    with_type(out.f16, [&](auto to) {
      using TI = decltype(ti);
      using TO = decltype(to);
      launch(binary_k<TI, TO>, flat_blocks(n), 256, 0, s, mul, int(act), static_cast<const TI*>(in.p), ts, bs,
                                              static_cast<TO*>(out.p), C, out.d1, n);
    });
  });
}

// d = x - y; e = d * f; y = y + e (f broadcast like binary's in).
template <class TF, class TX, class TY>
__global__ void lerp_k(const TF* f, int64_t fts, int64_t fbs, const TX* x, TY* y, int64_t C, int64_t T, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t c = i % C, r = i / C, t = r % T, b = r / T;
    st(y, i, lerp_value(ld(y, i), ld(x, i), ld(f, t * fts + b * fbs + c)));
  }
}

void lerp(Dev f, Dev x, Dev y, cudaStream_t s) {
  const int64_t C = y.d0, n = y.numel();
  const int64_t ts = f.d1 == 1 ? 0 : C, bs = f.d2 == 1 ? 0 : C * f.d1;
  with_type(f.f16, [&](auto tf) {
    with_type(x.f16, [&](auto tx) {
      with_type(y.f16, [&](auto ty) {
        using TF = decltype(tf);
        using TX = decltype(tx);
        using TY = decltype(ty);
        launch(lerp_k<TF, TX, TY>, flat_blocks(n), 256, 0, s, static_cast<const TF*>(f.p), ts, bs, static_cast<const TX*>(x.p),
                                              static_cast<TY*>(y.p), C, y.d1, n);
      });
    });
  });
}

// d = a - 1; e = d * k_a; g = 1 + e; k = k * g.
template <class TK, class TA>
__global__ void control_k_k(TK* k, const TA* a, const h16* ka, int64_t C, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    st(k, i, control_k_value(ld(k, i), ld(a, i), h2f(ka[i % C])));
  }
}

void control_k(Dev k, Dev a, const uint16_t* k_a, cudaStream_t s) {
  const int64_t n = k.numel();
  with_type(k.f16, [&](auto tk) {
    with_type(a.f16, [&](auto ta) {
      using TK = decltype(tk);
      using TA = decltype(ta);
      launch(control_k_k<TK, TA>, flat_blocks(n), 256, 0, s, static_cast<TK*>(k.p), static_cast<const TA*>(a.p), k_a, k.d0, n);
    });
  });
}

// A chunk's last token stores x (f32) into state row N+1; then x = v.
template <class TV, class TX>
__global__ void channel_mix_k(const TV* v, TX* x, float* state, int64_t rows, const DevCursor* cur, int64_t C,
                              int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) {
    const int64_t s = i / C, c = i % C;
    const DevCursor cu = cur[s];
    if (s - int64_t(cu.start) + 1 == int64_t(cu.len)) state[(int64_t(cu.batch) * rows + rows - 1) * C + c] = ld(x, i);
    st(x, i, ld(v, i));
  }
}

void channel_mix(Dev v, Dev x, DevState state, const DevCursor* cursors, cudaStream_t s) {
  const int64_t n = x.d0 * x.d1;
  with_type(v.f16, [&](auto tv) {
    with_type(x.f16, [&](auto tx) {
      using TV = decltype(tv);
      using TX = decltype(tx);
      launch(channel_mix_k<TV, TX>, flat_blocks(n), 256, 0, s, static_cast<const TV*>(v.p), static_cast<TX*>(x.p), state.p,
                                                   state.rows(), cursors, x.d0, n);
    });
  });
}

// x = (scale * x) + bias.
template <class TX> __global__ void affine_k(TX* x, float scale, float bias, int64_t n) {
  pdl_enter();
  for (int64_t i = flat_index(); i < n; i += flat_stride()) st(x, i, affine_value(ld(x, i), scale, bias));
}

void affine(Dev x, float scale, float bias, cudaStream_t s) {
  with_type(x.f16, [&](auto tx) {
    using TX = decltype(tx);
    launch(affine_k<TX>, flat_blocks(x.numel()), 256, 0, s, static_cast<TX*>(x.p), scale, bias, x.numel());
  });
}
