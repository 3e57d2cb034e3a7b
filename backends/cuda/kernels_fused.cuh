// The fused chain (kernels.h, ChainOp): one block runs a run of small plan ops
// in order, a barrier between ops (which also makes each op's global writes
// visible to the next), instead of one launch per op. In a decode step most
// of a layer's ops touch a few thousand values, so each kernel is mostly its
// launch and the wait for its predecessor; a chain pays those once. Measured
// on an H200 (reports/cuda-h200.md, run 10) that wins where a launch costs
// the host microseconds (stream strategies) and loses inside a replayed
// graph, where the ops in one block take longer than their own kernels.
//
// Every op computes element i exactly as its own kernel does: the same value
// functions (kernels_elementwise.cuh) and the same row functions of the norms,
// whose reduction orders do not depend on the block size. So a chain gives the
// bits of its ops run one by one, in either kernel set.
//
// Included inside a kernel set's namespace after the element-wise and norm
// kernels; the including file first defines chain_layer_norm_row(xr, orow, w,
// b, len, eps), its set's layer_norm on one row by the whole block, and
// chain_row_norm_row(l2, x, out, op, r, lane), row r of a group_norm or l2_norm
// by one warp (the fast set; the canonical set never puts one in a chain).

__device__ void chain_layer_norm(const ChainOp& op) {
  const int64_t rows = op.n / op.len;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * op.len;
    if (op.a16 && op.c16)
      chain_layer_norm_row(static_cast<const h16*>(op.a) + at, static_cast<h16*>(op.c) + at, op.w, op.wb, op.len, op.eps);
    else if (op.a16)
      chain_layer_norm_row(static_cast<const h16*>(op.a) + at, static_cast<float*>(op.c) + at, op.w, op.wb, op.len,
                           op.eps);
    else if (op.c16)
      chain_layer_norm_row(static_cast<const float*>(op.a) + at, static_cast<h16*>(op.c) + at, op.w, op.wb, op.len,
                           op.eps);
    else
      chain_layer_norm_row(static_cast<const float*>(op.a) + at, static_cast<float*>(op.c) + at, op.w, op.wb, op.len,
                           op.eps);
    __syncthreads();  // the row's statistics live in shared memory until every thread has used them
  }
}

// Rows spread over the warps; each row as the set's one-warp kernel does it.
__device__ void chain_row_norm(const ChainOp& op) {
  const int64_t rows = op.n / op.len;
  const int lane = int(threadIdx.x & 31);
  for (int64_t r = threadIdx.x >> 5; r < rows; r += blockDim.x >> 5) {
    if (op.a16 && op.c16) chain_row_norm_row(op.mul, static_cast<const h16*>(op.a), static_cast<h16*>(op.c), op, r, lane);
    else if (op.a16) chain_row_norm_row(op.mul, static_cast<const h16*>(op.a), static_cast<float*>(op.c), op, r, lane);
    else if (op.c16) chain_row_norm_row(op.mul, static_cast<const float*>(op.a), static_cast<h16*>(op.c), op, r, lane);
    else chain_row_norm_row(op.mul, static_cast<const float*>(op.a), static_cast<float*>(op.c), op, r, lane);
  }
}

// Heads side by side, kChainThreads / N of them a pass; each head's tree as
// time_first_k's (thread f of a head = its channel f).
__device__ void chain_time_first(const ChainOp& op) {
  __shared__ float sh[kChainThreads];
  const int N = int(op.len), tid = int(threadIdx.x), f = tid % N, head = tid - f;
  const int64_t total = op.C * op.T;
  for (int64_t base = 0; base < total; base += blockDim.x) {
    const int64_t at = base + tid;  // t * C + c
    const bool mine = at < total;
    const int64_t c = at % op.C;
    sh[tid] = mine ? (h2f(op.w[c]) * ldt(op.b, op.b16, at)) * ldt(op.a, op.a16, at) : 0.0f;
    __syncthreads();
    const float xx = time_first_tree(sh + head, f, N);
    if (mine) stt(op.c, op.c16, at, time_first_value(ldt(op.c, op.c16, at), xx, ldt(op.b, op.b16, total + at)));
    __syncthreads();
  }
}

__device__ void chain_elementwise(const ChainOp& op) {
  for (int64_t i = threadIdx.x; i < op.n; i += blockDim.x) chain_element(op, i);
}

__global__ void __launch_bounds__(kChainThreads) chain_k(const ChainOp* ops, int count) {
  pdl_enter();
  __shared__ alignas(ChainOp) unsigned char held[sizeof(ChainOp)];  // raw: a __shared__ object is not constructed
  ChainOp& op = *reinterpret_cast<ChainOp*>(held);
  for (int k = 0; k < count; ++k) {
    if (threadIdx.x == 0) op = ops[k];
    __syncthreads();
    if (op.kind == ChainKind::layer_norm) chain_layer_norm(op);
    else if (op.kind == ChainKind::row_norm) chain_row_norm(op);
    else if (op.kind == ChainKind::time_first) chain_time_first(op);
    else chain_elementwise(op);
    __syncthreads();
  }
}

void chain(const ChainOp* ops, int count, cudaStream_t s) { launch(chain_k, 1, kChainThreads, 0, s, ops, count); }
