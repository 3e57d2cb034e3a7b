#pragma once
// What one kernel launch asks of a GPU, derived from one op of the op plan
// (reference/plan/op_plan.h): the kernel kind the cost model prices, the grid
// and workgroup size web-rwkv dispatches it with (../shared/spec/rwkv7-forward.md
// section 3), the bytes it reads and writes and its FLOPs. The model graph is
// the plan's; this file only prices its ops.
//
// Byte counts: every input buffer is read once and every output written once
// (an in-place op reads and writes its buffer); weight vectors are f16 [C];
// matrices are their format's bytes (reference/formats/blocks.h); the WKV
// state (f32) is counted where a kernel touches it. Caches are not modelled:
// a dispatch's bytes all come from memory, which is exact for the weights of
// a decode step (read once per token) and an upper bound for activations.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "reference/formats/matrix.h"
#include "reference/plan/op_plan.h"
#include "reference/tensor.h"

namespace rwkv::simgpu {

// Where each matrix's format comes from: --quant sets the six large matrices
// of every layer (att.{receptance,key,value,output}, ffn.{key,value}: the
// matrices web-rwkv and llama.cpp quantise, ../shared/spec/quant-formats.md
// sections 4 and 5); the LoRA factors always stay fp16; the head is fp16 in
// web-rwkv ("always Fp16") unless told otherwise.
struct WeightFormats {
  WeightFormat layer = WeightFormat::fp16;
  WeightFormat head = WeightFormat::fp16;
  DType activations = DType::f16;  // web-rwkv's default F
};

// The format of the matrix named `weight` (a safetensors name).
WeightFormat matrix_format(const std::string& weight, const WeightFormats& formats);

// Bytes of a [K, M] matrix in format f (data + metadata). Throws
// std::invalid_argument naming `what` if K does not fit the format's blocks.
double matrix_bytes(WeightFormat f, int64_t K, int64_t M, const std::string& what);

struct Dispatch {
  uint32_t op = 0;           // index in Plan::ops (or in a synthetic workload)
  std::string name;          // the op's name, e.g. "blocks.3.att.matmul_r"
  std::string kernel;        // plan kernel name, e.g. "matmul"
  std::string kind;          // cost-model key: "matmul_vec.q4_k", "layer_norm", ...
  std::string weight_format; // format of the op's matrix ("" when it has none)
  int64_t layer = -1;
  bool host = false;         // the embedding gather: host work, no GPU dispatch
  std::array<int64_t, 3> grid{1, 1, 1};
  std::array<int64_t, 3> workgroup{1, 1, 1};
  double bytes_read = 0, bytes_written = 0;
  double weight_bytes = 0;   // the part of bytes_read that is weights (matrices and vectors)
  double flops = 0;
  double fixed_us = -1;      // >= 0: the kernel takes exactly this long (synthetic workloads)
  // A merged launch (schedule "merge", merged_dispatch.h) runs plan ops [op, op + ops); its kind is its
  // first op's, merged_kinds every op's kind (its latency is theirs added, less merged_load_us per later
  // op: device.h kernel_latency_us).
  uint32_t ops = 1;
  std::vector<std::string> merged_kinds;
  int64_t workgroups() const { return grid[0] * grid[1] * grid[2]; }
};

// The dispatch of plan.ops[index].
Dispatch describe_dispatch(const plan::Plan& plan, size_t index, const WeightFormats& formats);
// Every op of the plan, in plan order (the host gather included, flagged host).
std::vector<Dispatch> describe_dispatches(const plan::Plan& plan, const WeightFormats& formats);

// A matmul of a [K, M] matrix in format f over T tokens of activations in
// `act` (output `out_bytes` per element): what describe_dispatch gives a
// matmul op, for workloads that are not a whole plan (a kernel benchmark).
Dispatch matmul_dispatch(const std::string& name, int64_t K, int64_t M, int64_t T, WeightFormat f, DType act,
                         size_t out_bytes);

// The bytes plan.ops[index] reads of its input buffer `buffer`, as describe_dispatch counts them
// (a whole buffer, but the k and v planes of n for time_first_v7).
double input_buffer_bytes(const plan::Plan& plan, size_t index, const std::string& buffer, DType act);
// The bytes it writes of its output buffer `buffer` (one plane of n for a blit into a plane).
double output_buffer_bytes(const plan::Plan& plan, size_t index, const std::string& buffer, DType act);

// Weight bytes one step of `plan` reads (every dispatch's weight_bytes plus
// the embedding rows the host gathers): the traffic a decode step cannot avoid.
double step_weight_bytes(const std::vector<Dispatch>& dispatches);

}  // namespace rwkv::simgpu
