// Merged launches (kernels.h: NormShift, TimeMixTail; the matmul epilogue is
// in kernels_matmul_fast.cuh). In a decode step a layer is a chain of about
// twenty dependent launches, most of them a few thousand values; on the GPU
// each costs its launch and the wait for its predecessor, more than its work.
// These kernels do the next ops of the chain in the same block, with each op's
// own expressions (the same row functions, value functions and trees), so the
// bits are those of the ops run one by one.
// Included inside the fast set's namespace, after kernels_matmul_fast.cuh.

// The layer_norm row by the block's first kLnThreads threads (its value of
// each channel kept as stored), then every thread on the token shifts of that
// row: out[c] = token_shift_value(row[c], state row, mu[c]), the step's one
// token being the start of its batch.
template <class TX, class TO>
__global__ void __launch_bounds__(kNormShiftThreads) norm_shift_k(const NormShift p) {
  pdl_enter();
  __shared__ float row[kLnThreads * kLnPer];
  layer_norm_fast_row(static_cast<const TX*>(p.norm.a), static_cast<TO*>(p.norm.c), p.norm.w, p.norm.wb, p.norm.len,
                      p.norm.eps, row);
  __syncthreads();
  const int64_t C = p.norm.len;
#pragma unroll
  for (int k = 0; k < kShiftOps; ++k) {
    if (k >= p.shifts) break;
    const ChainOp& op = p.shift[k];
    const float* prev = op.state + (int64_t(op.cursors[0].batch) * op.state_rows + op.state_row) * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      stt(op.c, op.c16, c, token_shift_value(row[c], prev[c], ldt(op.b, op.b16, c)));
  }
}

void norm_shift(const NormShift& p, cudaStream_t s) {
  with_type(p.norm.a16, [&](auto tx) {
    with_type(p.norm.c16, [&](auto to) {
      using TX = decltype(tx);
      using TO = decltype(to);
      launch(norm_shift_k<TX, TO>, 1, kNormShiftThreads, 0, s, p);
    });
  });
}

// time_mix_v7 of head h for the step's one token, then the head's tail: its
// group_norm row by warp 0 (row_norm_warp_row, as the set's group_norm of
// rows up to 128), time_first_v7 as time_first_k's block (h, 0), and
// x = g * x. A barrier between the parts makes each one's stores visible.
template <int N, class TA>
__global__ void __launch_bounds__(N) time_mix_tail_k(float* state, int64_t C, const TA* r, const TA* z, const TA* n,
                                                     TA* x, const DevCursor* cur, float neg_decay,
                                                     const TimeMixTail tail) {
  pdl_enter();
  __shared__ float sh[N];
  const int64_t h = blockIdx.x;
  const int f = threadIdx.x;
  time_mix_head<N>(state, C, 1, r, z, n, x, cur, neg_decay);
  __syncthreads();
  const ChainOp& gn = tail.group_norm;
  if (f < 32) row_norm_warp_row<false>(x, x, gn.w, gn.wb, h, N, gn.weight_rows, gn.eps, f);
  __syncthreads();
  const int64_t c = h * N + f;
  sh[f] = (h2f(tail.time_first.w[c]) * ld(n, c)) * ld(r, c);
  __syncthreads();
  const float xx = time_first_tree(sh, f, N);
  st(x, c, time_first_value(ld(x, c), xx, ld(n, C + c)));
  const ChainOp& mul = tail.mul;
  st(x, c, binary_value(true, mul.act, ldt(mul.a, mul.a16, c), ld(x, c)));
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
