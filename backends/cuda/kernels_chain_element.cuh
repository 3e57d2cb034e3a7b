// One element of a ChainOp (kernels.h): the element-wise kinds' values in
// their own kernels' expressions (kernels_elementwise.cuh), for the fused
// chain (kernels_fused.cuh) and the merged launches' epilogues
// (kernels_matmul_fast.cuh, kernels_merged.cuh). Element i of an op reads
// element i of its inputs (a token shift also the token before it, a
// broadcast operand its row's element), nothing else.
// Included inside a kernel set's namespace, after kernels_elementwise.cuh.

__device__ __forceinline__ float ldt(const void* p, bool f16, int64_t i) {
  return f16 ? h2f(static_cast<const h16*>(p)[i]) : static_cast<const float*>(p)[i];
}
__device__ __forceinline__ void stt(void* p, bool f16, int64_t i, float v) {
  if (f16) static_cast<h16*>(p)[i] = f2h(v);
  else static_cast<float*>(p)[i] = v;
}

// The value v reads back as once stored in a TO.
__device__ __forceinline__ float as_stored(const float*, float v) { return v; }
__device__ __forceinline__ float as_stored(const h16*, float v) { return h2f(f2h(v)); }

__device__ __forceinline__ void chain_element(const ChainOp& op, int64_t i) {
  const int64_t C = op.C;
  switch (op.kind) {
    case ChainKind::embedding: {
      const int64_t s = i / C, c = i % C;
      stt(op.c, op.c16, i, h2f(op.w[int64_t(op.tokens[s]) * C + c]));
      break;
    }
    case ChainKind::token_shift: {
      const int64_t s = i / C, c = i % C;
      const DevCursor cu = op.cursors[s];
      const float xv = ldt(op.a, op.a16, i);
      const float prev = s == int64_t(cu.start) ? op.state[(int64_t(cu.batch) * op.state_rows + op.state_row) * C + c]
                                                : ldt(op.a, op.a16, i - C);
      stt(op.c, op.c16, i, token_shift_value(xv, prev, ldt(op.b, op.b16, s * op.b_ts + c)));
      break;
    }
    case ChainKind::blit: stt(op.c, op.c16, i, ldt(op.a, op.a16, i)); break;
    case ChainKind::binary: {
      const int64_t c = i % C, r = i / C, t = r % op.T, b = r / op.T;
      const float u = ldt(op.a, op.a16, t * op.b_ts + b * op.b_bs + c);
      const float w = ldt(op.c, op.c16, i);
      stt(op.c, op.c16, i, binary_value(op.mul, op.act, u, w));
      break;
    }
    case ChainKind::lerp: {
      const int64_t c = i % C, r = i / C, t = r % op.T, b = r / op.T;
      stt(op.c, op.c16, i,
          lerp_value(ldt(op.c, op.c16, i), ldt(op.b, op.b16, i), ldt(op.a, op.a16, t * op.b_ts + b * op.b_bs + c)));
      break;
    }
    case ChainKind::control_k:
      stt(op.c, op.c16, i, control_k_value(ldt(op.c, op.c16, i), ldt(op.a, op.a16, i), h2f(op.w[i % C])));
      break;
    case ChainKind::channel_mix: {
      const int64_t s = i / C, c = i % C;
      const DevCursor cu = op.cursors[s];
      if (s - int64_t(cu.start) + 1 == int64_t(cu.len))
        op.state[(int64_t(cu.batch) * op.state_rows + op.state_rows - 1) * C + c] = ldt(op.c, op.c16, i);
      stt(op.c, op.c16, i, ldt(op.a, op.a16, i));
      break;
    }
    case ChainKind::affine: stt(op.c, op.c16, i, affine_value(ldt(op.c, op.c16, i), op.scale, op.bias)); break;
    case ChainKind::layer_norm:
    case ChainKind::time_first:
    case ChainKind::row_norm: break;  // not element-wise: whole rows (kernels_fused.cuh)
  }
}
