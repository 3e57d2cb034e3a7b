// build_plan: the forward pass of spec section 2, op by op. Each numbered
// comment is the row of spec 2.2 / 2.3 it implements.
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reference/kernels/norm.h"
#include "reference/plan/op_plan.h"

namespace rwkv::plan {

std::string_view kernel_name(Kernel k) {
  switch (k) {
    case Kernel::embedding: return "embedding";
    case Kernel::layer_norm: return "layer_norm";
    case Kernel::group_norm: return "group_norm";
    case Kernel::l2_norm: return "l2_norm";
    case Kernel::token_shift: return "token_shift";
    case Kernel::blit: return "blit";
    case Kernel::add: return "add";
    case Kernel::add_activate: return "add_activate";
    case Kernel::mul: return "mul";
    case Kernel::lerp: return "lerp";
    case Kernel::matmul: return "matmul";
    case Kernel::control_k_v7: return "control_k_v7";
    case Kernel::time_mix_v7: return "time_mix_v7";
    case Kernel::time_first_v7: return "time_first_v7";
    case Kernel::channel_mix_v7: return "channel_mix_v7";
    case Kernel::affine: return "affine";
  }
  return "?";
}

int64_t Plan::n_out() const {
  int64_t n = 0;
  for (const TokenRun& r : outputs) n += r.count;
  return n;
}

int64_t Plan::dispatch_count() const {
  int64_t n = 0;
  for (const Op& op : ops) n += op.kernel != Kernel::embedding;
  return n;
}

const Buffer& Plan::buffer(const std::string& name) const {
  for (const Buffer& b : buffers)
    if (b.name == name) return b;
  throw std::invalid_argument(fmt::format("plan: no buffer named '{}'", name));
}

namespace {

// Appends ops with a fixed prefix ("blocks.3.att.") and layer.
struct Emitter {
  std::vector<Op>& ops;
  std::string prefix;
  int64_t layer;

  Op& emit(Kernel k, const std::string& name, std::vector<std::string> in, std::vector<std::string> out,
           OpParams p = {}) {
    ops.push_back(Op{k, prefix + name, layer, std::move(in), std::move(out), std::move(p)});
    return ops.back();
  }
  std::string w(const std::string& tensor) const { return prefix + tensor; }  // a weight of this block
  void matmul(const std::string& name, const std::string& weight, const std::string& in, const std::string& out,
              Activation act = Activation::none, bool sparse = false) {
    OpParams p;
    p.weights = {w(weight)};
    p.act = act;
    p.sparse_input = sparse;
    emit(Kernel::matmul, name, {in}, {out}, p);
  }
};

OpParams weights(std::vector<std::string> names) {
  OpParams p;
  p.weights = std::move(names);
  return p;
}

void emit_attention(std::vector<Op>& ops, const ModelConfig& c, int64_t l) {
  Emitter e{ops, fmt::format("blocks.{}.att.", l), l};
  const std::string block = fmt::format("blocks.{}.", l);
  // 1-2: att_x <- x; xa = ln1(att_x) in place.
  e.emit(Kernel::blit, "blit_x", {"x"}, {"att_x"});
  OpParams ln = weights({block + "ln1.weight", block + "ln1.bias"});
  ln.eps = kLayerNormEps;
  e.emit(Kernel::layer_norm, "ln1", {"att_x"}, {"att_x"}, ln);
  // 3-8: six token shifts from state row 0.
  for (const char* m : {"r", "w", "k", "v", "a", "g"}) {
    OpParams p = weights({e.w(fmt::format("x_{}", m))});
    p.state_layer = l;
    p.state_row = 0;
    e.emit(Kernel::token_shift, fmt::format("token_shift_{}", m), {"att_x"}, {fmt::format("att_{}x", m)}, p);
  }
  // 9-11: r, k, v.
  e.matmul("matmul_r", "receptance.weight", "att_rx", "r");
  e.matmul("matmul_k", "key.weight", "att_kx", "k");
  e.matmul("matmul_v", "value.weight", "att_vx", "v");
  // 12-14: z = w0 + W2 tanh(W1 xw), left unactivated (time_mix_v7 applies the decay).
  e.matmul("matmul_w1", "w1", "att_wx", "w_lora", Activation::tanh);
  e.matmul("matmul_w2", "w2", "w_lora", "w");
  e.emit(Kernel::add, "add_w0", {"w"}, {"w"}, weights({e.w("w0")}));
  // 15-17: a = sigmoid(a0 + A2 A1 xa).
  e.matmul("matmul_a1", "a1", "att_ax", "a_lora");
  e.matmul("matmul_a2", "a2", "a_lora", "a");
  OpParams sig = weights({e.w("a0")});
  sig.act = Activation::sigmoid;
  e.emit(Kernel::add_activate, "add_a0", {"a"}, {"a"}, sig);
  // 18-19: g = G2 sigmoid(G1 xg).
  e.matmul("matmul_g1", "g1", "att_gx", "g_lora", Activation::sigmoid);
  e.matmul("matmul_g2", "g2", "g_lora", "g");
  // 20-22: kk = l2_norm(k_k * k), from k before its k_a correction.
  e.emit(Kernel::blit, "blit_kk", {"k"}, {"kk"});
  e.emit(Kernel::mul, "mul_k_k", {"kk"}, {"kk"}, weights({e.w("k_k")}));
  OpParams l2;
  l2.eps = kL2NormEps;
  l2.head_size = c.N;
  e.emit(Kernel::l2_norm, "l2_norm_kk", {"kk"}, {"kk"}, l2);
  // 23: k <- k * (1 + (a - 1) * k_a).
  e.emit(Kernel::control_k_v7, "control_k", {"k", "a"}, {"k"}, weights({e.w("k_a")}));
  if (l == 0) {
    // 24: layer 0 keeps its v as the value residual of every later layer.
    e.emit(Kernel::blit, "blit_v_first", {"v"}, {"v_first"});
  } else {
    // 24-27: v <- v + (v_first - v) * sigmoid(v0 + V2 V1 xv).
    e.matmul("matmul_v1", "v1", "att_vx", "v_lora");
    e.matmul("matmul_v2", "v2", "v_lora", "v_gate");
    OpParams vs = weights({e.w("v0")});
    vs.act = Activation::sigmoid;
    e.emit(Kernel::add_activate, "add_v0", {"v_gate"}, {"v_gate"}, vs);
    e.emit(Kernel::lerp, "lerp_v", {"v_gate", "v_first", "v"}, {"v"});
  }
  // 28-31: pack n = stack(k, v, a, kk).
  const char* planes[4] = {"k", "v", "a", "kk"};
  for (int p = 0; p < 4; ++p) {
    OpParams bp;
    bp.out_plane = p;
    e.emit(Kernel::blit, fmt::format("blit_n_{}", planes[p]), {planes[p]}, {"n"}, bp);
  }
  // 32: the WKV recurrence; reads xa from att_x (saved as the token-shift state), writes y there.
  OpParams tm;
  tm.head_size = c.N;
  tm.state_layer = l;
  e.emit(Kernel::time_mix_v7, "time_mix", {"r", "w", "n", "att_x"}, {"att_x"}, tm);
  // 33: ln_x, per head and token.
  OpParams gn = weights({e.w("ln_x.weight"), e.w("ln_x.bias")});
  gn.eps = kGroupNormEps;
  gn.head_size = c.N;
  e.emit(Kernel::group_norm, "ln_x", {"att_x"}, {"att_x"}, gn);
  // 34: the bonus term with r_k.
  OpParams tf = weights({e.w("r_k")});
  tf.head_size = c.N;
  e.emit(Kernel::time_first_v7, "time_first", {"r", "n", "att_x"}, {"att_x"}, tf);
  // 35-37: x <- x + W_o (g * y).
  e.emit(Kernel::mul, "mul_g", {"g", "att_x"}, {"att_x"});
  e.matmul("matmul_o", "output.weight", "att_x", "att_o");
  e.emit(Kernel::add, "add_x", {"att_o", "x"}, {"x"});
}

void emit_ffn(std::vector<Op>& ops, const ModelConfig& c, int64_t l, const PlanOptions& options) {
  Emitter e{ops, fmt::format("blocks.{}.ffn.", l), l};
  const std::string block = fmt::format("blocks.{}.", l);
  // 38-39: ffn_x <- x; xf = ln2(ffn_x) in place.
  e.emit(Kernel::blit, "blit_x", {"x"}, {"ffn_x"});
  OpParams ln = weights({block + "ln2.weight", block + "ln2.bias"});
  ln.eps = kLayerNormEps;
  e.emit(Kernel::layer_norm, "ln2", {"ffn_x"}, {"ffn_x"}, ln);
  // 40: token shift from state row N+1.
  OpParams ts = weights({e.w("x_k")});
  ts.state_layer = l;
  ts.state_row = c.N + 1;
  e.emit(Kernel::token_shift, "token_shift_k", {"ffn_x"}, {"ffn_kx"}, ts);
  // 41-42: relu(Wk kx)^2, then Wv times it (sparse: many zeros).
  e.matmul("matmul_k", "key.weight", "ffn_kx", "ffn_k", Activation::squared_relu);
  e.matmul("matmul_v", "value.weight", "ffn_k", "ffn_v", Activation::none, true);
  // 43: save xf as the FFN token-shift state; ffn_x <- ffn_v (no receptance gate in v7).
  OpParams cm;
  cm.state_layer = l;
  e.emit(Kernel::channel_mix_v7, "channel_mix", {"ffn_v", "ffn_x"}, {"ffn_x"}, cm);
  // 44: x <- x + ffn_x.
  e.emit(Kernel::add, "add_x", {"ffn_x", "x"}, {"x"});
  // (45): halve the residual every `rescale` layers (never with the default 1024).
  if ((l + 1) % options.rescale == 0) {
    OpParams af;
    af.scale = 0.5f;
    e.emit(Kernel::affine, "rescale_x", {"x"}, {"x"}, af);
  }
}

void check_outputs(int64_t T, const std::vector<TokenRun>& outputs) {
  if (outputs.empty()) throw std::invalid_argument("build_plan: no token wants logits (expected at least one run)");
  int64_t next = 0;
  for (const TokenRun& r : outputs) {
    if (r.count < 1 || r.first < next || r.first + r.count > T)
      throw std::invalid_argument(fmt::format(
          "build_plan: output run [{}, {}) is empty, overlaps or is out of order, or lies outside the {} tokens",
          r.first, r.first + r.count, T));
    next = r.first + r.count;
  }
}

}  // namespace

Plan build_plan(const ModelConfig& c, int64_t T, const PlanOptions& options) {
  if (T < 1) throw std::invalid_argument(fmt::format("build_plan: T = {}, expected >= 1", T));
  return build_plan(c, T, {TokenRun{0, T}}, options);
}

Plan build_plan(const ModelConfig& c, int64_t T, std::vector<TokenRun> outputs, const PlanOptions& options) {
  validate(c);
  if (T < 1) throw std::invalid_argument(fmt::format("build_plan: T = {}, expected >= 1", T));
  if (options.rescale < 1) throw std::invalid_argument("build_plan: rescale must be >= 1");
  check_outputs(T, outputs);
  Plan plan;
  plan.config = c;
  plan.T = T;
  plan.outputs = std::move(outputs);
  const int64_t n_out = plan.n_out();
  const bool head_in_place = n_out == T;
  const int64_t C = c.C;
  plan.buffers = {
      {"input", C, T, 1, BufferType::f16},
      {"x", C, T},
      {"att_x", C, T},
      {"att_rx", C, T}, {"att_wx", C, T}, {"att_kx", C, T}, {"att_vx", C, T}, {"att_ax", C, T}, {"att_gx", C, T},
      {"r", C, T}, {"k", C, T}, {"v", C, T},
      {"w_lora", c.Dw, T}, {"w", C, T},
      {"a_lora", c.Da, T}, {"a", C, T},
      {"g_lora", c.Dg, T}, {"g", C, T},
      {"kk", C, T},
      {"v_first", C, T}, {"v_lora", c.Dv, T}, {"v_gate", C, T},
      {"n", C, T, 4},
      {"att_o", C, T},
      {"ffn_x", C, T}, {"ffn_kx", C, T}, {"ffn_k", c.F, T}, {"ffn_v", C, T},
  };
  if (!head_in_place) plan.buffers.push_back({"head_x", C, n_out});
  plan.buffers.push_back({"logits", c.V, n_out, 1, BufferType::f32});
  std::vector<Op>& ops = plan.ops;
  // 2.1 Embedding: host gather into the f16 input, ln0 in place (f16 even when F = f32), blit to x.
  ops.push_back(Op{Kernel::embedding, "embed.gather", -1, {"tokens"}, {"input"}, weights({"emb.weight"})});
  OpParams ln0 = weights({"blocks.0.ln0.weight", "blocks.0.ln0.bias"});
  ln0.eps = kLayerNormEps;
  ops.push_back(Op{Kernel::layer_norm, "embed.ln0", -1, {"input"}, {"input"}, ln0});
  ops.push_back(Op{Kernel::blit, "embed.blit_x", -1, {"input"}, {"x"}, {}});
  for (int64_t l = 0; l < c.L; ++l) {
    emit_attention(ops, c, l);
    emit_ffn(ops, c, l, options);
  }
  // 2.4 Head. Every token wants logits: ln_out runs in place on x. Otherwise
  // the wanted runs are blitted into head_x, one blit per run.
  std::string head_in = "x";
  if (!head_in_place) {
    head_in = "head_x";
    int64_t dst = 0;
    for (size_t i = 0; i < plan.outputs.size(); ++i) {
      OpParams bp;
      bp.src_token = plan.outputs[i].first;
      bp.dst_token = dst;
      bp.token_count = plan.outputs[i].count;
      ops.push_back(Op{Kernel::blit, fmt::format("head.blit_x_{}", i), -1, {"x"}, {"head_x"}, bp});
      dst += plan.outputs[i].count;
    }
  }
  OpParams lno = weights({"ln_out.weight", "ln_out.bias"});
  lno.eps = kLayerNormEps;
  ops.push_back(Op{Kernel::layer_norm, "head.ln_out", -1, {head_in}, {head_in}, lno});
  OpParams hp = weights({"head.weight"});
  ops.push_back(Op{Kernel::matmul, "head.matmul", -1, {head_in}, {"logits"}, hp});
  return plan;
}

std::string describe(const Op& op) {
  std::string params;
  auto add = [&](const std::string& s) { params += (params.empty() ? "" : " ") + s; };
  if (!op.params.weights.empty()) add(fmt::format("weights={}", fmt::join(op.params.weights, ",")));
  if (op.params.act != Activation::none) add(fmt::format("act={}", activation_name(op.params.act)));
  if (op.params.eps != 0) add(fmt::format("eps={:g}", op.params.eps));
  if (op.params.head_size) add(fmt::format("head_size={}", op.params.head_size));
  if (op.params.state_layer >= 0) add(fmt::format("state={}", op.params.state_layer));
  if (op.params.state_row >= 0) add(fmt::format("state_row={}", op.params.state_row));
  if (op.params.out_plane >= 0) add(fmt::format("plane={}", op.params.out_plane));
  if (op.params.sparse_input) add("sparse_input");
  if (op.kernel == Kernel::affine) add(fmt::format("scale={:g} bias={:g}", op.params.scale, op.params.bias));
  if (op.params.token_count)
    add(fmt::format("tokens={}..{}->{}", op.params.src_token, op.params.src_token + op.params.token_count,
                    op.params.dst_token));
  return fmt::format("{} {} {} -> {}  {}", op.name, kernel_name(op.kernel), fmt::join(op.inputs, ","),
                     fmt::join(op.outputs, ","), params);
}

}  // namespace rwkv::plan
