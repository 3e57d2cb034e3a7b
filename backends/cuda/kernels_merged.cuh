// Merged launches (kernels.h: NormShift, TimeMixTail; the matmul epilogue is
// in kernels_matmul_fast.cuh). In a decode step a layer is a chain of about
// twenty dependent launches, most of them a few thousand values; on the GPU
// each costs its launch and the wait for its predecessor, more than its work.
// These kernels do the next ops of the chain in the same block, with each op's
// own expressions (the same row functions, value functions and trees), so the
// bits are those of the ops run one by one.
// Included inside the fast set's namespace, after kernels_matmul_fast.cuh.

// Block b of ceil(C / kLnThreads) computes the row's statistics as the set's
// layer_norm block does (every block the same sums), then for its channel
// c = b * kLnThreads + threadIdx.x (the value that thread holds at k = b) the
// norm's output and the token shifts' outputs from it as stored:
// token_shift_value(y, state row, mu) (the step's one token starts its batch).
// Weights and mu are loaded before waiting for the kernel before (constants
// of the step), the state rows right after, so the row's loads and sums hide
// them. The source row is not the output (the blit's source), so no block
// reads what another writes.
template <class TX, class TO>
__global__ void __launch_bounds__(kLnThreads) norm_shift_k(const NormShift p) {
  const int64_t C = p.norm.len;
  const int part = int(blockIdx.x);
  const int64_t c = int64_t(part) * kLnThreads + threadIdx.x;
  const bool mine = c < C;
  float w = 0.0f, b = 0.0f, mu[kShiftOps], prev[kShiftOps];
  if (mine) w = hf(p.norm.w[c]), b = hf(p.norm.wb[c]);
#pragma unroll
  for (int k = 0; k < kShiftOps; ++k)
    mu[k] = k < p.shifts && mine ? ldt(p.shift[k].b, p.shift[k].b16, c) : 0.0f;
  pdl_enter();
#pragma unroll
  for (int k = 0; k < kShiftOps; ++k) {
    const ChainOp& op = p.shift[k];
    prev[k] = k < p.shifts && mine
                  ? op.state[(int64_t(op.cursors[0].batch) * op.state_rows + op.state_row) * C + c]
                  : 0.0f;
  }
  float v[kLnPer], mean, rstd;
  layer_norm_fast_stats(static_cast<const TX*>(p.norm.a), C, p.norm.eps, v, mean, rstd);
  if (!mine) return;
  float x = 0.0f;
#pragma unroll
  for (int k = 0; k < kLnPer; ++k)
    if (k == part) x = v[k];
  TO* out = static_cast<TO*>(p.norm.c);
  const float y = layer_norm_fast_value(x, mean, rstd, w, b);
  st(out, c, y);
  const float ys = as_stored(out, y);
#pragma unroll
  for (int k = 0; k < kShiftOps; ++k)
    if (k < p.shifts) stt(p.shift[k].c, p.shift[k].c16, c, token_shift_value(ys, prev[k], mu[k]));
}

void norm_shift(const NormShift& p, cudaStream_t s) {
  with_type(p.norm.a16, [&](auto tx) {
    with_type(p.norm.c16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      launch(norm_shift_k<TX, TO>, unsigned((p.norm.len + kLnThreads - 1) / kLnThreads), kLnThreads, 0, s, p);
    });
  });
}

// time_mix_v7 of head h for the step's one token, then the head's tail:
// its group_norm row (row_norm_warp_row's arithmetic, by warp 0 on the row as
// stored), time_first_v7 (time_first_k's tree for block (h, 0)) and x = g * x.
// The tail's weights are loaded before waiting for the kernel before, its
// other operands right after; the parts pass values through shared memory,
// a barrier between them; each part stores its output as its kernel would.
template <int N, class TA>
__global__ void __launch_bounds__(N) time_mix_tail_k(float* state, int64_t C, const TA* r, const TA* z, const TA* n,
                                                     TA* x, const DevCursor* cur, float neg_decay,
                                                     const TimeMixTail tail) {
  constexpr int kPer = 4;  // the group_norm row's values a lane (row_norm_warp_row's)
  __shared__ float sh[N], row[N];
  const int64_t h = blockIdx.x;
  const int f = threadIdx.x;
  const int64_t c = h * N + f;
  const ChainOp& gn = tail.group_norm;
  const ChainOp& mul = tail.mul;
  const int64_t wo = (h % gn.weight_rows) * N;
  float gw[kPer], gb[kPer];
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int j = f + 32 * k;
    gw[k] = f < 32 && j < N ? hf(gn.w[wo + j]) : 0.0f;
    gb[k] = f < 32 && j < N ? hf(gn.wb[wo + j]) : 0.0f;
  }
  const float rk = hf(tail.time_first.w[c]);
  pdl_enter();
  const float kc = ld(n, c), vc = ld(n, C + c), rc = ld(r, c), g = ldt(mul.a, mul.a16, c);
  row[f] = time_mix_head<N>(state, C, 1, r, z, n, x, cur, neg_decay);  // y as stored
  __syncthreads();
  if (f < 32) {
    float v[kPer];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int j = f + 32 * k;
      v[k] = j < N ? row[j] : 0.0f;
      s += v[k];
    }
    s = warp_sum(s);
    const float mean = s / float(N);
    float q = 0.0f;
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const float d = v[k] - mean;
      if (f + 32 * k < N) q += d * d;
    }
    const float rstd = 1.0f / sqrtf(warp_sum(q) / float(N) + gn.eps);
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      const int j = f + 32 * k;
      if (j < N) {
        const float o = (v[k] - mean) * rstd * gw[k] + gb[k];
        st(x, h * N + j, o);
        row[j] = as_stored(x, o);
      }
    }
  }
  sh[f] = (rk * kc) * rc;
  __syncthreads();
  const float xx = time_first_tree(sh, f, N);
  const float t = time_first_value(row[f], xx, vc);
  st(x, c, t);
  st(x, c, binary_value(true, mul.act, g, as_stored(x, t)));
}

template <int N>
void launch_time_mix_tail(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay,
                          const TimeMixTail& tail, cudaStream_t s) {
  with_type(x.f16, [&](auto tx) {
    using T_ = decltype(tx);
    launch(time_mix_tail_k<N, T_>, unsigned(x.d0 / N), N, 0, s, state.p, x.d0, static_cast<const T_*>(r.p),
           static_cast<const T_*>(z.p), static_cast<const T_*>(n.p), static_cast<T_*>(x.p), cursors, -decay, tail);
  });
}

bool time_mix_then(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay,
                   const TimeMixTail& tail, cudaStream_t s) {
  switch (state.N) {
    case 16: launch_time_mix_tail<16>(state, r, z, n, x, cursors, decay, tail, s); return true;
    case 32: launch_time_mix_tail<32>(state, r, z, n, x, cursors, decay, tail, s); return true;
    case 64: launch_time_mix_tail<64>(state, r, z, n, x, cursors, decay, tail, s); return true;
    case 128: launch_time_mix_tail<128>(state, r, z, n, x, cursors, decay, tail, s); return true;
    default: return false;
  }
}
