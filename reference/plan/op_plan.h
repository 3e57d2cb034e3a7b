#pragma once
// The OP PLAN: the RWKV-7 forward pass of one step as an ordered list of
// kernel launches, in web-rwkv's dispatch order (spec section 2: embedding,
// 44 ops per layer (41 on layer 0), head). It is the single description of
// the model graph: the reference executor (reference/forward/) and later
// backends walk it; none of them re-describes the graph.
//
// Names: an op's `inputs` and `outputs` name activation buffers declared in
// Plan::buffers (e.g. "x", "att_x", "r", "n"); an op updating a buffer in
// place lists it in both. Weights are named by their web-rwkv safetensors
// tensor names (e.g. "blocks.3.att.w0") in params.weights; an op touching
// the recurrent state has params.state_layer >= 0.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reference/kernels/activation.h"
#include "reference/plan/model_config.h"

namespace rwkv::plan {

enum class Kernel : uint8_t {
  embedding,  // host gather (RnnJob::load), not a GPU dispatch
  layer_norm,
  group_norm,
  l2_norm,
  token_shift,
  blit,
  add,           // out = in + out; in may be a weight vector (params.weights[0])
  add_activate,  // out = act(in + out)
  mul,           // out = in * out
  lerp,          // y = y + (x - y) * f
  matmul,
  control_k_v7,
  time_mix_v7,
  time_first_v7,
  channel_mix_v7,
  affine,
};
std::string_view kernel_name(Kernel k);

// Where a buffer's element type comes from (spec section 4).
enum class BufferType : uint8_t {
  activation,  // the run's activation type F (f16 or f32)
  f16,         // always f16 (the embedding input: ln0 is rounded to f16 even when F = f32)
  f32,         // always f32 (logits)
};

struct Buffer {
  std::string name;
  int64_t d0 = 0, d1 = 1, d2 = 1;  // shape [d0, d1, d2], d0 contiguous
  BufferType type = BufferType::activation;
};

struct OpParams {
  std::vector<std::string> weights;  // safetensors names, in the order the kernel takes them
  Activation act = Activation::none; // matmul / add_activate (ACT_OUT)
  float eps = 0;                     // norms
  int64_t head_size = 0;             // group_norm, l2_norm, time_mix_v7, time_first_v7
  int64_t state_layer = -1;          // the layer whose state the op reads or writes
  int64_t state_row = -1;            // token_shift: 0 attention, N+1 FFN
  int64_t out_plane = -1;            // blit into plane p of a [C, T, 4] buffer
  bool sparse_input = false;         // matmul of the squared-ReLU FFN hidden
  float scale = 1, bias = 0;         // affine
  // blit of a run of tokens (the head's wanted rows): source tokens
  // [src_token, src_token + token_count) into [dst_token, ...). token_count 0: the whole buffer.
  int64_t src_token = 0, dst_token = 0, token_count = 0;
};

struct Op {
  Kernel kernel = Kernel::blit;
  std::string name;  // e.g. "blocks.3.att.token_shift_r"
  int64_t layer = -1;  // -1 for embedding and head
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  OpParams params;
};

// A run of consecutive stacked tokens of a step that want logits (spec 2.4).
struct TokenRun {
  int64_t first = 0, count = 0;
  bool operator==(const TokenRun&) const = default;
};

struct Plan {
  ModelConfig config;
  int64_t T = 1;  // tokens in the step: every batch's chunk, stacked
  // The stacked tokens whose logits the head computes, in order; `logits` is
  // [V, n_out] with n_out the sum of the runs' counts.
  std::vector<TokenRun> outputs;
  int64_t n_out() const;
  std::vector<Buffer> buffers;
  std::vector<Op> ops;
  // GPU dispatches: every op but the host gather (spec 6.1: 44L + 1 for T = 1).
  int64_t dispatch_count() const;
  const Buffer& buffer(const std::string& name) const;  // throws if undeclared
};

struct PlanOptions {
  int64_t rescale = 1024;  // affine(x, 0.5) after layer l when (l + 1) % rescale == 0
};

// The ops of one step of T stacked tokens whose logits are wanted for the
// `outputs` runs (ascending, non-overlapping, inside [0, T), at least one
// token). When every token wants logits the head runs in place on x (web-rwkv's
// RnnRedirect); otherwise each run is blitted into head_x first, one blit per
// run. Throws std::invalid_argument on a bad config, T < 1 or bad runs.
Plan build_plan(const ModelConfig& config, int64_t T, std::vector<TokenRun> outputs,
                const PlanOptions& options = {});
// Every token of the step wants logits.
Plan build_plan(const ModelConfig& config, int64_t T = 1, const PlanOptions& options = {});

// One line per op: "index name kernel inputs -> outputs params".
std::string describe(const Op& op);

}  // namespace rwkv::plan
