#pragma once
// Fast-mode prefill matmuls (matmul_mat with f16 activations) through cuBLAS.
//
// cuBLAS is opened at run time (dlopen: $RWKV_ORACLE_CUBLAS, then
// libcublas.so.13, libcublas.so), never linked: the backend builds without
// the library's headers and runs where it is missing, taking the built-in
// tensor-core kernel (kernels_matmul_fast.cuh) instead and saying so once on
// stderr. Canonical mode never comes here (its matmul_mat has the reference's
// bits; a library GEMM's order is its own).
//
// One matmul y[M, T] = act(W[M, K] x[K, T]) (f16 x, f16 or f32 y):
//   1. the weights as an f16 matrix: fp16 weights are used in place; any
//      other format is dequantised into a scratch matrix by a kernel
//      (kernels_gemm_prep.cuh, the decoders of the fast set), every call;
//   2. cublasGemmEx: f16 A and B, f32 accumulation (CUBLAS_COMPUTE_32F,
//      reduced-precision split-K reductions disallowed), the tensor cores;
//   3. the output: with no activation cuBLAS writes y itself (f16: one
//      rounding of the f32 sum, as the reference's); with one, the f32 sums
//      go to a scratch matrix (or y, when y is f32) and a small kernel applies
//      tanh / sigmoid / squared ReLU and stores y (cublasLt's epilogues have
//      none of them).
// An f32 output of a quantised matrix (the head's logits) also takes the
// weight's f16 rounding error (~2^-12 of each weight) that an f16 output's
// own rounding (>= 2^-11, and the tolerance's 16 E above it) hides, so there
// the weights are split as in the built-in kernel: hi = f16(w),
// lo = f16((w - hi) * 4096), and a second GEMM adds lo x / 4096 (beta = 1).
#include <cstddef>
#include <cstdint>
#include <string>

#include "backends/cuda/kernels.h"

namespace rwkv::cuda {

struct CublasLibrary;

// The library, opened once per process; nullptr (with the reason in *why)
// where no libcublas can be opened or it lacks a function we call.
const CublasLibrary* cublas_library(std::string* why = nullptr);
// "cuBLAS 13.1.0 (libcublas.so.13)", or why it is not used.
std::string cublas_description();

class CublasGemm {
 public:
  // A handle on the current device with a 32 MiB workspace of its own (set
  // again on every call: cublasSetStream resets it), so no call allocates and
  // every call can be captured in a CUDA graph. Throws naming the failing call.
  explicit CublasGemm(const CublasLibrary& lib);
  ~CublasGemm();
  CublasGemm(const CublasGemm&) = delete;
  CublasGemm& operator=(const CublasGemm&) = delete;

  // Whether run() takes this matmul: f16 activations x [K, T], K a multiple
  // of 16 (the dequantiser's piece), dimensions within cuBLAS's int.
  static bool takes(const DevMatrix& w, const Dev& x, const Dev& y);
  // Grows the scratch matrices this matmul needs. Call outside any stream
  // capture (it may cudaMalloc); run() throws if it was not called.
  void reserve(const DevMatrix& w, const Dev& x, const Dev& y, Activation act);
  // Enqueues y = act(W x) on `s`; `op` names the op in errors.
  void run(const DevMatrix& w, const Dev& x, const Dev& y, Activation act, cudaStream_t s, const std::string& op);
  // Enqueues only step 1 of run() (for timing the dequantisation apart).
  void dequantise(const DevMatrix& w, const Dev& y, cudaStream_t s, const std::string& op);
  // C[m, n] (f16) = A^T B for f16 A [k, m] and B [k, n] (column-major, ld =
  // k, m): the peak measurement's product.
  void gemm_f16(const void* A, const void* B, void* C, int m, int n, int k, cudaStream_t s);

 private:
  void gemm(cudaStream_t s, int m, int n, int k, float alpha, const void* A, const void* B, float beta, void* C,
            bool c_f16, const std::string& what);
  static void grow(void*& p, size_t& have, size_t need, const char* what);
  const CublasLibrary& lib_;
  void* handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* hi_ = nullptr;  // f16 [M, K]: the weights (hi part)
  void* lo_ = nullptr;  // f16 [M, K]: (w - hi) * 4096 (f32 outputs of quantised matrices)
  void* c32_ = nullptr;  // f32 [M, T]: sums before the activation (f16 outputs)
  size_t hi_bytes_ = 0, lo_bytes_ = 0, c32_bytes_ = 0;
};

}  // namespace rwkv::cuda
