#include "simgpu/dispatch.h"

#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/formats/blocks.h"

namespace rwkv::simgpu {

using plan::Kernel;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

size_t element_bytes(const plan::Buffer& b, DType act) {
  switch (b.type) {
    case plan::BufferType::f16: return 2;
    case plan::BufferType::f32: return 4;
    case plan::BufferType::activation: return dtype_size(act);
  }
  return 4;
}

double buffer_bytes(const plan::Plan& p, const std::string& name, DType act) {
  const plan::Buffer& b = p.buffer(name);
  return double(b.d0) * double(b.d1) * double(b.d2) * double(element_bytes(b, act));
}

// One plane [C, T] of a [C, T, 4] buffer.
double plane_bytes(const plan::Plan& p, const std::string& name, DType act) {
  const plan::Buffer& b = p.buffer(name);
  return double(b.d0) * double(b.d1) * double(element_bytes(b, act));
}

}  // namespace

WeightFormat matrix_format(const std::string& weight, const WeightFormats& formats) {
  if (weight == "head.weight") return formats.head;
  static const char* kLayerMatrices[] = {".att.receptance.weight", ".att.key.weight", ".att.value.weight",
                                         ".att.output.weight",     ".ffn.key.weight", ".ffn.value.weight"};
  for (const char* tail : kLayerMatrices)
    if (ends_with(weight, tail)) return formats.layer;
  return WeightFormat::fp16;  // LoRA factors
}

double matrix_bytes(WeightFormat f, int64_t K, int64_t M, const std::string& what) {
  const double n = double(K) * double(M);
  switch (f) {
    case WeightFormat::fp16: return 2 * n;
    case WeightFormat::q4_k:
    case WeightFormat::q6_k:
      if (K % blocks::kQK_K)
        throw std::invalid_argument(fmt::format("simgpu: matrix {} has K = {}, not a multiple of 256 as {} needs", what,
                                                K, format_name(f)));
      return double(blocks::ggml_row_bytes(f, K)) * double(M);
    case WeightFormat::q8_0:
      if (K % blocks::kQ8_0Values)
        throw std::invalid_argument(
            fmt::format("simgpu: matrix {} has K = {}, not a multiple of 32 as q8_0 needs", what, K));
      return double(blocks::ggml_row_bytes(f, K)) * double(M);
    case WeightFormat::int8:
      return n + 2.0 * 2.0 * double(ceil_div(K * M, blocks::kInt8Block));  // u8 values + (min, max) f16 per block
    case WeightFormat::nf4:
    case WeightFormat::sf4:
      return n / 2 + 2.0 * double(ceil_div(K * M, blocks::kNf4Block));  // nibbles + f16 absmax per block
  }
  return 2 * n;
}

Dispatch matmul_dispatch(const std::string& name, int64_t K, int64_t M, int64_t T, WeightFormat f, DType act,
                         size_t out_bytes) {
  Dispatch d;
  d.name = name;
  d.kernel = "matmul";
  // Path choice (spec 3.6): matmul_mat iff T is a multiple of 32.
  const bool mat = T % 32 == 0;
  d.kind = fmt::format("{}.{}", mat ? "matmul_mat" : "matmul_vec", format_name(f));
  d.weight_format = std::string(format_name(f));
  if (mat) {
    d.grid = {ceil_div(M, 32), ceil_div(T, 32), 1};  // 32 x 32 output tile per workgroup
    d.workgroup = {8, 8, 1};
  } else {
    d.grid = {ceil_div(M, 4), T, 1};  // 4 output rows of one token per workgroup
    d.workgroup = {128, 1, 1};
  }
  d.weight_bytes = matrix_bytes(f, K, M, name);
  d.bytes_read = d.weight_bytes + double(K) * double(T) * double(dtype_size(act));
  d.bytes_written = double(M) * double(T) * double(out_bytes);
  d.flops = 2.0 * double(K) * double(M) * double(T);
  return d;
}

Dispatch describe_dispatch(const plan::Plan& p, size_t index, const WeightFormats& formats) {
  const plan::Op& op = p.ops.at(index);
  const plan::ModelConfig& c = p.config;
  const DType act = formats.activations;
  // Tokens this op covers: its first input's columns (the head may run on fewer than the step's T).
  const int64_t T = op.kernel == Kernel::embedding ? p.T : p.buffer(op.inputs.at(0)).d1;
  const double C = double(c.C);
  const double vector_bytes = 2.0 * C;  // an f16 [C] weight vector ([N, H] views are C too)
  Dispatch d;
  if (op.kernel == Kernel::matmul) {
    const plan::Buffer& in = p.buffer(op.inputs.at(0));
    const plan::Buffer& out = p.buffer(op.outputs.at(0));
    const std::string& w = op.params.weights.at(0);
    d = matmul_dispatch(op.name, in.d0, out.d0, in.d1, matrix_format(w, formats), act, element_bytes(out, act));
  } else {
    d.name = op.name;
    d.kernel = std::string(plan::kernel_name(op.kernel));
    d.kind = d.kernel;
    // Reads: each distinct input buffer once, then the weight vectors; writes: the outputs.
    std::set<std::string> seen;
    for (const std::string& b : op.inputs)
      if (b != "tokens" && seen.insert(b).second) d.bytes_read += buffer_bytes(p, b, act);
    d.weight_bytes = double(op.params.weights.size()) * vector_bytes;
    for (const std::string& b : op.outputs) d.bytes_written += buffer_bytes(p, b, act);
    const double elems = C * double(T);
    const int64_t H = c.H();
    switch (op.kernel) {
      case Kernel::embedding:
        // Host gather of T rows of emb.weight (spec 2.1): no GPU dispatch.
        d.host = true;
        d.weight_bytes = vector_bytes * double(T);
        d.bytes_read = 0;
        break;
      case Kernel::layer_norm:
        d.grid = {1, T, 1}, d.workgroup = {128, 1, 1};
        d.flops = 9 * elems;  // Welford (5) + normalise and affine (4) per element
        break;
      case Kernel::group_norm:
        d.grid = {1, H, T}, d.workgroup = {32, 1, 1};
        d.flops = 9 * elems;
        break;
      case Kernel::l2_norm:
        d.grid = {1, H, T}, d.workgroup = {128, 1, 1};
        d.flops = 3 * elems;
        break;
      case Kernel::token_shift:
        d.grid = {ceil_div(c.C, 512), T, 1}, d.workgroup = {128, 1, 1};
        d.bytes_read += 4.0 * C;  // the f32 state row of the previous token
        d.flops = 3 * elems;
        break;
      case Kernel::blit: {
        const plan::Buffer& src = p.buffer(op.inputs.at(0));
        const int64_t tokens = op.params.token_count > 0 ? op.params.token_count : src.d1;
        if (tokens < 8) d.grid = {ceil_div(src.d0, 512), tokens, src.d2}, d.workgroup = {128, 1, 1};
        else d.grid = {ceil_div(src.d0, 64), ceil_div(tokens, 16), src.d2}, d.workgroup = {16, 16, 1};
        // Into one plane of n: writes only that plane; a run of tokens (the head): only those.
        if (op.params.out_plane >= 0) d.bytes_written = plane_bytes(p, op.outputs.at(0), act);
        if (op.params.token_count > 0) {
          const double run = double(src.d0) * double(op.params.token_count) * double(dtype_size(act));
          d.bytes_read = run, d.bytes_written = run;
        }
        break;
      }
      case Kernel::add:
      case Kernel::add_activate:
      case Kernel::mul:
      case Kernel::lerp:
      case Kernel::control_k_v7:
      case Kernel::affine:
        d.grid = {ceil_div(c.C, 512), T, 1}, d.workgroup = {128, 1, 1};
        d.flops = 3 * elems;
        break;
      case Kernel::channel_mix_v7:
        d.grid = {ceil_div(c.C, 512), T, 1}, d.workgroup = {128, 1, 1};
        d.bytes_written += 4.0 * C;  // the last xf into state row N+1
        break;
      case Kernel::time_mix_v7: {
        d.grid = {ceil_div(c.C, 128), 1, 1}, d.workgroup = {32, 1, 1};
        // Per token each thread reads its N x 4 f32 state slice twice and writes it once (spec 3.7),
        // plus state row 0 (the token-shift vector).
        const double state = C * double(c.N) * 4.0;
        d.bytes_read += 2.0 * state * double(T);
        d.bytes_written += state * double(T) + 4.0 * C;
        d.flops = 9.0 * C * double(c.N) * double(T);  // sa, the update and y per state element
        break;
      }
      case Kernel::time_first_v7:
        d.grid = {ceil_div(c.C, 128), T, 1}, d.workgroup = {32, 1, 1};
        // Reads only the k and v planes of n.
        d.bytes_read -= buffer_bytes(p, "n", act) - 2.0 * plane_bytes(p, "n", act);
        d.flops = 5 * elems;
        break;
      case Kernel::softmax: {
        // softmax.wgsl (spec 3.9): a workgroup of 128 per column; max, sum of exp, divide.
        const plan::Buffer& in = p.buffer(op.inputs.at(0));
        d.grid = {1, in.d1, in.d2}, d.workgroup = {128, 1, 1};
        d.flops = 4.0 * double(in.d0) * double(in.d1) * double(in.d2);
        break;
      }
      case Kernel::matmul: break;  // handled above
    }
    d.bytes_read += d.host ? 0.0 : d.weight_bytes;
  }
  d.op = uint32_t(index);
  d.layer = op.layer;
  return d;
}

std::vector<Dispatch> describe_dispatches(const plan::Plan& p, const WeightFormats& formats) {
  std::vector<Dispatch> out;
  out.reserve(p.ops.size());
  for (size_t i = 0; i < p.ops.size(); ++i) out.push_back(describe_dispatch(p, i, formats));
  return out;
}

double input_buffer_bytes(const plan::Plan& p, size_t index, const std::string& buffer, DType act) {
  const plan::Op& op = p.ops.at(index);
  if (op.kernel == Kernel::time_first_v7 && buffer == "n") return 2.0 * plane_bytes(p, buffer, act);
  return buffer_bytes(p, buffer, act);
}

double output_buffer_bytes(const plan::Plan& p, size_t index, const std::string& buffer, DType act) {
  const plan::Op& op = p.ops.at(index);
  if (op.kernel == Kernel::blit && op.params.out_plane >= 0) return plane_bytes(p, buffer, act);
  return buffer_bytes(p, buffer, act);
}

double step_weight_bytes(const std::vector<Dispatch>& dispatches) {
  double total = 0;
  for (const Dispatch& d : dispatches) total += d.weight_bytes;
  return total;
}

}  // namespace rwkv::simgpu
