#pragma once
// The CUDA backend: the op plan on an NVIDIA GPU (backends/backend.h).
//
//   load        uploads every weight once (one device allocation, plain
//               cudaMalloc, no managed memory) and zeroed states.
//   begin_step  finds or makes the device buffers of the plan's shape (by plan
//               buffer name, cached per T and output runs) with each op
//               resolved to its kernel arguments, and uploads the step's
//               cursors and token ids.
//   run_op(s)   launch the ops on the stream(s) as the strategy says.
//   read/write  copies of a plan buffer; read_state/write_state of a layer's.
//
// The backend's name carries its options: "cuda[:opt,opt...]" with
//   op | layer | token | graph | inflight=N   how a step is submitted:
//     op        a stream sync after every op
//     layer     a sync after each layer's last op (and the embedding's, the head's)
//     token     no sync inside the step; one when the step ends (the logits read)   [default]
//     graph     each run_ops range captured once per plan shape as a CUDA graph
//               and replayed (run_op: a one-op graph); one sync per step
//     inflight=N N streams, step k on stream k % N after an event of step k-1;
//               the host waits only when N steps are outstanding; each step's
//               logits are copied back asynchronously (logits_of())
//   canonical   the canonical kernel set (kernels.h): the reference's orders,
//               canonical math, no FMA contraction
//   pdl         programmatic dependent launch (sm_90+): each kernel's launch
//               overlaps its predecessor's run (it waits for it on the GPU);
//               with any strategy, e.g. "cuda:graph,pdl"
//   fuse        runs of small consecutive ops (element-wise, layer_norm, token
//               shifts, blits; in the fast set group_norm and l2_norm too) of
//               up to 16384 values each go to the GPU as one fused chain, one
//               block running them in order (kernels_fused.cuh), with the bits
//               of the ops run one by one; only where a run_ops range holds
//               two or more of them (run_op alone runs the op's own kernel).
//               Off by default: on an H200 it speeds up `token` and slows
//               down the graph strategies (reports/cuda-h200.md, run 10)
//   merge       fast set: a kernel does the small ops that follow it and need
//               nothing but its output (kernels_merged.cuh): a vec-path matmul
//               the ops on its outputs (o-proj + residual add, the ffn value +
//               channel_mix + add, the LoRA second stages + their adds and
//               lerp), the blit before a one-row layer_norm, the norm and
//               the token shifts after it, a one-token time_mix its head's group_norm,
//               time_first and mul by g; with the bits of the ops run one by
//               one. Fewer dependent launches in a decode step. A merged launch
//               goes first where fuse is on too
//   wmma        prefill matmuls on the built-in tensor-core kernel even where
//               cuBLAS is found (fast mode; by default f16-activation prefill
//               matmuls go through cuBLAS, cublas_gemm.h)
// e.g. "cuda:graph", "cuda:canonical", "cuda:inflight=3". Every CUDA call and
// launch is checked; an error names the op (or the buffer, the layer).
#include <memory>
#include <string>

#include "backends/backend.h"

namespace rwkv::backends {

enum class CudaStrategy { op, layer, token, graph, inflight };

struct CudaOptions {
  CudaStrategy strategy = CudaStrategy::token;
  int in_flight = 2;  // inflight: steps in flight (1..8)
  bool canonical = false;
  bool pdl = false;
  bool wmma = false;  // prefill GEMMs on the built-in kernel, not cuBLAS
  bool dag = false;   // graph only: the captured graph keeps the plan's data dependencies, no more (ops in parallel)
  bool fuse = false;  // runs of small ops as one fused chain launch
  bool merge = false;  // fast set: an op's kernel does the small ops after it that need only its output
  int device = 0;
};

// Parses "cuda" and "cuda:..." (above). Throws std::invalid_argument naming
// the bad option and listing the valid ones.
CudaOptions parse_cuda_backend_name(const std::string& name);
// "cuda:graph", "cuda:inflight=3,canonical": the name parse_cuda_backend_name reads back.
std::string cuda_backend_name(const CudaOptions& o);
const char* strategy_name(CudaStrategy s);

// True when a CUDA device this build can run on is present; otherwise false
// with the reason in *why (no driver, no device, compute capability too low).
bool cuda_available(std::string* why = nullptr);
// "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB), driver 13.0, runtime 13.0" (device 0).
std::string cuda_device_description(int device = 0);

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(CudaOptions options = {});
  ~CudaBackend() override;
  std::string name() const override;
  void load(const Rwkv7Weights& weights, const BackendOptions& options) override;
  void begin_step(const plan::Plan& plan, const forward::StepLayout& layout) override;
  void run_op(size_t index) override;
  void run_ops(size_t begin, size_t end) override;
  void end_step() override;
  Tensor read(const std::string& buffer) override;
  void write(const std::string& buffer, const TensorView& data) override;
  std::vector<float> read_state(int64_t layer) override;
  void write_state(int64_t layer, std::span<const float> state) override;

  const CudaOptions& options() const;
  // Changes the strategy (and kernel set) between steps, keeping the weights,
  // states and buffers; captured graphs are dropped.
  void set_options(const CudaOptions& options);
  // Waits for every stream.
  void synchronize();
  // inflight: the logits of step `step` (counted from load), waiting for it;
  // valid until N more steps are submitted. Throws if it is no longer held.
  const float* logits_of(int64_t step);
  // Steps begun since load (the next step's number, for logits_of).
  int64_t steps_begun() const;
  // Which code runs the prefill (matmul_mat) matmuls: "cuBLAS 13.1.0
  // (libcublas.so.13): ...", or the built-in kernel and why.
  std::string prefill_gemm_path() const;
  // CUDA graphs captured so far (graph strategy), over all plan shapes.
  size_t graph_count() const;
  // The kernels run_ops(begin, end) launches for the current (or last) step
  // under the current options: one per op, less with `fuse`.
  size_t launches(size_t begin, size_t end) const;
  // Device time of each op of the current step, in microseconds: `repeats`
  // launches of the op captured in a CUDA graph, replayed between two events,
  // so host launch costs stay out (a replayed graph's per-kernel gap stays in).
  // Buffers and states are left with whatever the repeats computed. For calibrate.
  std::vector<double> time_ops(int repeats);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv::backends
