#pragma once
// The CUDA kernels of the op plan as host-callable launchers on raw device
// pointers. Two sets with one signature (Kernels): `canonical` (compiled with
// -fmad=false, the reference's accumulation orders and canonical math, so the
// element-wise, normalisation, time-mix and matmul_vec kernels give the
// reference's bits) and `fast` (FMA contraction on, warp-shuffle GEMVs and
// tensor-core GEMMs). A launcher only enqueues work on `stream`; the caller
// checks cudaGetLastError() and names the op.
//
// Plain C++ (no CUDA headers beyond the runtime's stream type), so the host
// side of the backend is compiled by the project's C++ compiler.
#include <cstdint>

#include "reference/kernels/activation.h"

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::cuda {

// A device activation tensor [d0, d1, d2] (d0 contiguous), f16 bits or f32.
struct Dev {
  void* p = nullptr;
  bool f16 = false;
  int64_t d0 = 0, d1 = 1, d2 = 1;
  int64_t numel() const { return d0 * d1 * d2; }
};

// Same layout as rwkv::Cursor (reference/kernels/batch.h): {batch, start, len}.
struct DevCursor {
  uint32_t batch, start, len;
};

// Matches rwkv::WeightFormat's order.
enum class Fmt : uint8_t { fp16, q4_k, q6_k, q8_0, int8, nf4, sf4 };

// A weight matrix [K, M] on the device in its format's bytes (formats/matrix.h).
struct DevMatrix {
  Fmt fmt = Fmt::fp16;
  int64_t K = 0, M = 0;
  const uint8_t* data = nullptr;
  const uint16_t* meta = nullptr;  // int8: (min, max) f16 per 128 values; nf4/sf4: absmax per 64
  const float* table = nullptr;    // nf4/sf4: the 16 levels (device)
  int64_t row_bytes = 0;           // q4_k, q6_k, q8_0: bytes of one row
};

// One layer's state, web-rwkv layout f32 [C, N+2, slots].
struct DevState {
  float* p = nullptr;
  int64_t C = 0, N = 0;
  int64_t rows() const { return N + 2; }
};

// One op of a fused chain (kernels_fused.cuh): a run of small ops that one
// block of kChainThreads executes in plan order, a barrier between ops, in
// place of one launch each. Each op computes what its own kernel computes, in
// the same expressions, so the chain gives the same bits. a, b: inputs; c: the
// output (in place where the op is); *16: whether each holds f16 bits.
enum class ChainKind : uint8_t {
  embedding, layer_norm, token_shift, blit, binary, lerp, control_k, channel_mix, affine,
  time_first,  // a: r, b: n, c: x, w: r_k, len: the head size (a divisor of kChainThreads)
  row_norm,    // group_norm (weights) or l2_norm (mul set) on rows of up to 128: the fast set only
};

struct ChainOp {
  ChainKind kind = ChainKind::blit;
  uint8_t act = 0;  // binary: rwkv::Activation
  bool mul = false;  // binary: multiply (else add)
  bool a16 = false, b16 = false, c16 = false;
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  const uint16_t* w = nullptr;   // layer_norm weight, control_k k_a, embedding table
  const uint16_t* wb = nullptr;  // layer_norm bias
  float* state = nullptr;        // token_shift, channel_mix: the layer's state
  const DevCursor* cursors = nullptr;
  const uint32_t* tokens = nullptr;
  int64_t n = 0;                 // elements of the output
  int64_t C = 0, T = 1;          // channels, tokens of the output
  int64_t b_ts = 0, b_bs = 0;    // broadcast strides of the operand (binary: a; lerp: a; token_shift: b per token)
  int64_t state_rows = 0, state_row = 0;
  int64_t len = 0;               // layer_norm, row_norm: row length
  int64_t weight_rows = 1;       // row_norm: row r takes weight row r % weight_rows
  float eps = 0, scale = 1, bias = 0;
};

// Threads of the chain's block, and the most elements one op of a chain may
// have (beyond it a single block is slower than a launch of many).
constexpr int kChainThreads = 1024;
constexpr int64_t kChainMaxElements = 16384;

// Merged launches (the `merge` option, fast set; kernels_merged.cuh): an op's
// kernel does the small ops that follow it in the plan and need nothing but
// its output, so a decode step's chain of dependent launches gets shorter.
// Each merged op computes its values in its own kernel's expressions, so a
// merged step gives the bits of the ops run one by one. Descriptors go by
// value (kernel parameters), so a captured graph holds them.
//
// A matmul_vec and up to kEpilogueOps element-wise ops on its output (binary,
// lerp, control_k, channel_mix, affine: element i of each reads element i
// only): the lane that stores y[i] runs them on element i. An operand that
// the matmul or an earlier op of the epilogue writes is taken from that op's
// value as stored (from), every other one is loaded when the matmul begins.
constexpr int kEpilogueOps = 3;
constexpr int8_t kFromMemory = -2, kFromMatmul = -1;  // else the index of an earlier op
struct Epilogue {
  int count = 0;
  ChainOp op[kEpilogueOps];
  int8_t from[kEpilogueOps][3] = {};  // operands a, b, c of each op
};
// The blit of a row into a buffer, the one-row layer_norm of that buffer in
// place (129..4096 channels: the fast set's 256-thread row) and up to
// kShiftOps token shifts of its output: a block per 256 channels, each block
// computing the row's statistics from the blit's source.
constexpr int kShiftOps = 6;
struct NormShift {
  ChainOp norm;  // a: the blit's source (the row to normalise), c: the layer_norm's output
  int shifts = 0;
  ChainOp shift[kShiftOps];
};
// time_mix_v7 of one token, then per head: its group_norm (rows of the head
// size), time_first_v7 and the mul by g, in the time mix's block.
struct TimeMixTail {
  ChainOp group_norm, time_first, mul;
};

struct Kernels {
  const char* name;
  // Programmatic dependent launch on or off for the launches that follow (sm_90+ only).
  void (*set_pdl)(bool on);
  // out[:, s] = table[:, ids[s]] (table f16 [C, V]).
  void (*embedding)(const uint16_t* table, const uint32_t* ids, Dev out, cudaStream_t);
  // Rows of `len` channels, weight row (r % weight_rows); bs = the emulated workgroup (128 LN, 32 GN).
  void (*layer_norm)(Dev x, Dev out, const uint16_t* w, const uint16_t* b, int64_t len, int64_t weight_rows, int bs,
                     float eps, cudaStream_t);
  void (*l2_norm)(Dev x, Dev out, int64_t len, float eps, cudaStream_t);
  void (*token_shift)(Dev x, Dev mu, Dev out, DevState state, int64_t state_row, const DevCursor* cursors,
                      cudaStream_t);
  // out[out_offset + i] = in[in_offset + i], i < n (element offsets).
  void (*blit)(Dev in, int64_t in_offset, Dev out, int64_t out_offset, int64_t n, cudaStream_t);
  // out = act(in OP out), in broadcast over size-1 dimensions.
  void (*binary)(bool mul, Activation act, Dev in, Dev out, cudaStream_t);
  void (*lerp)(Dev f, Dev x, Dev y, cudaStream_t);
  void (*control_k)(Dev k, Dev a, const uint16_t* k_a, cudaStream_t);
  void (*channel_mix)(Dev v, Dev x, DevState state, const DevCursor* cursors, cudaStream_t);
  void (*affine)(Dev x, float scale, float bias, cudaStream_t);
  // Returns false for an unsupported head size (nothing launched).
  bool (*time_mix)(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay, cudaStream_t);
  void (*time_first)(const uint16_t* r_k, Dev r, Dev n, Dev x, int64_t head_size, cudaStream_t);
  void (*matmul_vec)(const DevMatrix& w, Dev x, Dev y, Activation act, bool sparse, cudaStream_t);
  void (*matmul_mat)(const DevMatrix& w, Dev x, Dev y, Activation act, cudaStream_t);
  void (*softmax)(Dev x, Dev out, cudaStream_t);
  // ops[0 .. count) (device memory) in one block, in order.
  void (*chain)(const ChainOp* ops, int count, cudaStream_t);
  bool chain_row_norms;  // whether chains may hold row_norm ops (group_norm, l2_norm)
  // Merged launches (null in a set without them): matmul_vec then its
  // epilogue (a format gemv_takes_epilogue accepts); the norm and its shifts;
  // time_mix_v7 (head size 16..128, one token) then its tail.
  void (*matmul_vec_then)(const DevMatrix& w, Dev x, Dev y, Activation act, const Epilogue& epi, cudaStream_t);
  void (*norm_shift)(const NormShift& ns, cudaStream_t);
  bool (*time_mix_then)(DevState state, Dev r, Dev z, Dev n, Dev x, const DevCursor* cursors, float decay,
                        const TimeMixTail& tail, cudaStream_t);
};

// Whether the fast set's warp GEMV (and so matmul_vec_then) takes matrix w.
inline bool gemv_takes_epilogue(const DevMatrix& w) {
  return (w.fmt == Fmt::fp16 && w.K % 8 == 0) || ((w.fmt == Fmt::q4_k || w.fmt == Fmt::q6_k) && w.K % 256 == 0);
}

const Kernels& canonical_kernels();
const Kernels& fast_kernels();

// Around a library GEMM (cublas_gemm.h; kernels_gemm_prep.cuh), fast set:
// w [M, K] (K a multiple of 16) as f16 rows into hi, and with lo non-null the
// residuals f16((w - hi) * 4096) into lo; y = act(c) for f32 sums c with y's
// shape (c may be y's own memory when y is f32).
void dequant_f16(const DevMatrix& w, uint16_t* hi, uint16_t* lo, cudaStream_t s);
void gemm_epilogue(const float* c, Dev y, Activation act, cudaStream_t s);

}  // namespace rwkv::cuda
