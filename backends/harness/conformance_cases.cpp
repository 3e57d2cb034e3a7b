// The conformance case list (conformance.h): which plan op each case runs, on
// which model sizes, step shape, weight format and activation type. Shapes
// are chosen for the code paths they reach: channel counts with lane tails
// (260, 1028, 544: not multiples of 16 or 32), C up to 4096, T = 1 (decode),
// 7 (two slots' chunks of 3 and 4 tokens: the state is read at two chunk
// starts), 32 and 64 (matmul_mat: T % 32 == 0) and 33 (chunks of 32 and 1).
#include <algorithm>
#include <regex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/harness/conformance.h"

namespace rwkv::harness {

using plan::Kernel;

const char* edge_name(CaseEdge e) {
  switch (e) {
    case CaseEdge::none: return "none";
    case CaseEdge::small_variance: return "small_var";
    case CaseEdge::near_f16_max: return "near_max";
    case CaseEdge::subnormal: return "subnormal";
    case CaseEdge::tiny_norm: return "tiny";
    case CaseEdge::large_logits: return "large";
    case CaseEdge::nonfinite: return "nonfinite";
  }
  return "?";
}

int64_t ConformanceCase::T() const {
  int64_t t = 0;
  for (uint32_t n : chunks) t += n;
  return t;
}

namespace {

constexpr DType kF16 = DType::f16, kF32 = DType::f32;
constexpr DType kTypes[] = {kF16, kF32};

// The model sizes a case's op is planned for: two layers (ops are taken from
// layer 1, where every op of a layer exists), small LoRA ranks and vocabulary.
plan::ModelConfig sizes(int64_t C, int64_t N) {
  plan::ModelConfig c;
  c.name = "conformance";
  c.L = 2;
  c.C = C;
  c.N = N;
  c.V = 64;
  c.F = 4 * C;
  c.Dw = c.Da = c.Dv = c.Dg = 32;
  return c;
}

// Chunks of one step of T tokens: T = 7 and 33 are split over two slots with
// different lengths, so that the state is read at two chunk starts.
std::vector<uint32_t> chunks_of(int64_t T) {
  if (T == 7) return {3, 4};
  if (T == 33) return {32, 1};
  return {uint32_t(T)};
}

std::string chunk_str(const std::vector<uint32_t>& chunks) { return fmt::format("{}", fmt::join(chunks, "+")); }

struct Shape2 {
  int64_t C, T;
};
// Element-wise shapes (channel tails) and per-head shapes (C a multiple of 64):
// a narrow prompt chunk, two slots' chunks, and one wide decode token.
constexpr Shape2 kFlat[] = {{260, 33}, {1028, 7}, {4096, 1}};
constexpr Shape2 kHeads[] = {{256, 33}, {1024, 7}, {4096, 1}};

class Builder {
 public:
  std::vector<ConformanceCase> cases;

  // A case of `op` on C channels (head size N) and T tokens; `params` go into
  // the name before the shape.
  ConformanceCase& add(Kernel k, std::string op, int64_t C, int64_t N, int64_t T, DType t,
                       std::vector<std::string> params = {}) {
    ConformanceCase c;
    c.kernel = k;
    c.op = std::move(op);
    c.config = sizes(C, N);
    c.chunks = chunks_of(T);
    c.activations = t;
    pending_.push_back(std::move(params));
    cases.push_back(std::move(c));
    return cases.back();
  }

  // Names every case from its fields and the params given to add(); checks uniqueness.
  void finish() {
    std::set<std::string> seen;
    // Kernel kinds in plan::Kernel order, each kind's cases in the order added.
    std::vector<size_t> order(cases.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cases[a].kernel < cases[b].kernel; });
    std::vector<ConformanceCase> sorted;
    std::vector<std::vector<std::string>> params;
    for (size_t i : order) {
      sorted.push_back(std::move(cases[i]));
      params.push_back(std::move(pending_[i]));
    }
    cases = std::move(sorted);
    pending_ = std::move(params);
    for (size_t i = 0; i < cases.size(); ++i) {
      ConformanceCase& c = cases[i];
      std::vector<std::string> p = pending_[i];
      if (c.edge != CaseEdge::none) p.push_back(fmt::format("edge={}", edge_name(c.edge)));
      c.name = fmt::format("{}({},{})", plan::kernel_name(c.kernel), fmt::join(p, ","),
                           dtype_name(c.activations));
      if (!seen.insert(c.name).second) throw std::logic_error("conformance: two cases named " + c.name);
    }
  }

 private:
  std::vector<std::vector<std::string>> pending_;
};

std::string ct(int64_t C, int64_t T) { return fmt::format("C={},T={}", C, T); }

void add_embedding(Builder& b) {
  // f16 activations store the gather in f16 (web-rwkv); f32 with
  // embedding_f16 = false stores it in f32 (the official code's profile).
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) {
      ConformanceCase& c = b.add(Kernel::embedding, "embed.gather", s.C, 4, s.T, t,
                                 {fmt::format("C={},V=64,T={}", s.C, s.T)});
      c.embedding_f16 = t == kF16;
    }
}

void add_norms(Builder& b) {
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) b.add(Kernel::layer_norm, "blocks.1.att.ln1", s.C, 4, s.T, t, {ct(s.C, s.T)});
  for (DType t : kTypes) b.add(Kernel::layer_norm, "blocks.1.att.ln1", 1028, 4, 7, t, {ct(1028, 7)}).edge =
                             CaseEdge::small_variance;
  b.add(Kernel::layer_norm, "blocks.1.att.ln1", 1028, 4, 7, kF16, {ct(1028, 7)}).edge = CaseEdge::near_f16_max;

  for (const Shape2 s : kHeads)
    for (DType t : kTypes)
      b.add(Kernel::group_norm, "blocks.1.att.ln_x", s.C, 64, s.T, t, {ct(s.C, s.T), "N=64"});
  b.add(Kernel::group_norm, "blocks.1.att.ln_x", 1024, 64, 7, kF16, {ct(1024, 7), "N=64"}).edge =
      CaseEdge::near_f16_max;

  for (const Shape2 s : kHeads)
    for (DType t : kTypes)
      b.add(Kernel::l2_norm, "blocks.1.att.l2_norm_kk", s.C, 64, s.T, t, {ct(s.C, s.T), "N=64"});
  for (DType t : kTypes)
    b.add(Kernel::l2_norm, "blocks.1.att.l2_norm_kk", 256, 64, 7, t, {ct(256, 7), "N=64"}).edge =
        CaseEdge::tiny_norm;
  b.add(Kernel::l2_norm, "blocks.1.att.l2_norm_kk", 1024, 64, 7, kF16, {ct(1024, 7), "N=64"}).edge =
      CaseEdge::near_f16_max;
}

void add_token_shift(Builder& b) {
  // Attention (state row 0) and FFN (state row N+1) token shifts.
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) {
      const std::string shape = fmt::format("C={},chunks={}", s.C, chunk_str(chunks_of(s.T)));
      b.add(Kernel::token_shift, "blocks.1.att.token_shift_r", s.C, 4, s.T, t, {"row=att", shape});
      b.add(Kernel::token_shift, "blocks.1.ffn.token_shift_k", s.C, 4, s.T, t, {"row=ffn", shape});
    }
  b.add(Kernel::token_shift, "blocks.1.att.token_shift_r", 1028, 4, 7, kF16, {"row=att", "C=1028,chunks=3+4"})
      .edge = CaseEdge::near_f16_max;
}

void add_blits(Builder& b) {
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) b.add(Kernel::blit, "blocks.1.att.blit_x", s.C, 4, s.T, t, {"form=copy", ct(s.C, s.T)});
  b.add(Kernel::blit, "blocks.1.att.blit_x", 1028, 4, 7, kF16, {"form=copy", ct(1028, 7)}).edge = CaseEdge::nonfinite;
  b.add(Kernel::blit, "blocks.1.att.blit_x", 1028, 4, 7, kF32, {"form=copy", ct(1028, 7)}).edge = CaseEdge::nonfinite;
  // Into plane 1 (v) of n [C, T, 4].
  for (DType t : kTypes) b.add(Kernel::blit, "blocks.1.att.blit_n_v", 1028, 4, 7, t, {"form=plane", ct(1028, 7)});
  // The head's token runs: logits of each chunk's last token. Chunks 3+4 give
  // two runs of one token; 5+1+1 one run of three tokens (4..6).
  for (DType t : kTypes) {
    ConformanceCase& c = b.add(Kernel::blit, "head.blit_x_1", 1028, 4, 7, t, {"form=tokens,src=6,count=1", ct(1028, 7)});
    c.logits = forward::LogitsFor::last;
    ConformanceCase& d = b.add(Kernel::blit, "head.blit_x_0", 1028, 4, 7, t, {"form=tokens,src=4,count=3", ct(1028, 7)});
    d.logits = forward::LogitsFor::last;
    d.chunks = {5, 1, 1};
  }
}

void add_binary(Builder& b) {
  // add/mul with a weight vector broadcast over tokens, and of two tensors.
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) {
      b.add(Kernel::add, "blocks.1.att.add_w0", s.C, 4, s.T, t, {"operand=vector", ct(s.C, s.T)});
      b.add(Kernel::add, "blocks.1.att.add_x", s.C, 4, s.T, t, {"operand=tensor", ct(s.C, s.T)});
      b.add(Kernel::mul, "blocks.1.att.mul_k_k", s.C, 4, s.T, t, {"operand=vector", ct(s.C, s.T)});
      b.add(Kernel::mul, "blocks.1.att.mul_g", s.C, 4, s.T, t, {"operand=tensor", ct(s.C, s.T)});
      b.add(Kernel::add_activate, "blocks.1.att.add_a0", s.C, 4, s.T, t, {"act=sigmoid", ct(s.C, s.T)});
    }
  b.add(Kernel::add, "blocks.1.att.add_x", 1028, 4, 7, kF16, {"operand=tensor", ct(1028, 7)}).edge =
      CaseEdge::subnormal;
  b.add(Kernel::add, "blocks.1.att.add_x", 1028, 4, 7, kF16, {"operand=tensor", ct(1028, 7)}).edge =
      CaseEdge::near_f16_max;
  b.add(Kernel::mul, "blocks.1.att.mul_g", 1028, 4, 7, kF16, {"operand=tensor", ct(1028, 7)}).edge =
      CaseEdge::subnormal;
}

void add_lerp_and_control(Builder& b) {
  // lerp_v exists from layer 1 on (the value residual towards layer 0's v).
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) {
      b.add(Kernel::lerp, "blocks.1.att.lerp_v", s.C, 4, s.T, t, {ct(s.C, s.T)});
      b.add(Kernel::control_k_v7, "blocks.1.att.control_k", s.C, 4, s.T, t, {ct(s.C, s.T)});
    }
  b.add(Kernel::lerp, "blocks.1.att.lerp_v", 1028, 4, 7, kF16, {ct(1028, 7)}).edge = CaseEdge::near_f16_max;
}

void add_matmuls(Builder& b) {
  struct Act {
    const char* name;
    const char* op;
    bool sparse;
  };
  // The plan op of each fused activation; K = C and M the op's output width
  // (a LoRA rank or F), except the sparse FFN value matmul (K = F, M = C).
  const Act acts[] = {{"none", "blocks.1.att.matmul_a1", false},
                      {"tanh", "blocks.1.att.matmul_w1", false},
                      {"sigmoid", "blocks.1.att.matmul_g1", false},
                      {"squared_relu", "blocks.1.ffn.matmul_k", false},
                      {"none", "blocks.1.ffn.matmul_v", true}};
  auto add = [&](WeightFormat f, const Act& a, int64_t K, int64_t M, int64_t T, DType t, int64_t N) {
    std::vector<std::string> p = {fmt::format("fmt={}", format_name(f)), fmt::format("act={}", a.name)};
    if (a.sparse) p.push_back("sparse");
    p.push_back(fmt::format("K={},M={},T={}", K, M, T));
    ConformanceCase& c = b.add(Kernel::matmul, a.op, a.sparse ? M : K, N, T, t, std::move(p));
    c.format = f;
    if (a.sparse) {
      c.config.F = K;
    } else {
      c.config.Dw = c.config.Da = c.config.Dg = M;
      c.config.F = M;
    }
    c.chunks = {uint32_t(T)};
  };
  const WeightFormat all[] = {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k, WeightFormat::q8_0,
                              WeightFormat::int8, WeightFormat::nf4,  WeightFormat::sf4};
  // Every format x activation on the vec path (T = 7) and the mat path (T = 32).
  for (WeightFormat f : all)
    for (const Act& a : acts)
      for (int64_t T : {7, 32})
        for (DType t : kTypes) add(f, a, 768, 64, T, t, 64);
  // Awkward K and M (formats without 256-value super-blocks): K = 544 = 17 * 32, M = 68.
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q8_0, WeightFormat::int8, WeightFormat::nf4,
                         WeightFormat::sf4})
    for (int64_t T : {1, 33}) add(f, acts[0], 544, 68, T, T == 1 ? kF16 : kF32, 4);
  // Wide K on one token; two matmul_mat tiles of tokens.
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k})
    for (DType t : kTypes) add(f, acts[1], 4096, 64, 1, t, 64);
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q4_k})
    for (DType t : kTypes) add(f, acts[3], 256, 64, 64, t, 64);
  // The head: activations in, f32 logits out (M = V = 1000).
  for (WeightFormat f : {WeightFormat::fp16, WeightFormat::q6_k})
    for (DType t : kTypes) {
      ConformanceCase& c = b.add(Kernel::matmul, "head.matmul", 256, 64, 1, t,
                                 {fmt::format("fmt={}", format_name(f)), "act=none", "K=256,M=1000,T=1", "out=f32"});
      c.format = f;
      c.config.V = 1000;
    }
}

void add_time_mix(Builder& b) {
  struct Mix {
    int64_t C;
    std::vector<uint32_t> chunks;
  };
  const Mix mixes[] = {{256, {1}}, {512, {3, 4}}, {1024, {32, 1}}, {4096, {1}}};
  for (const Mix& m : mixes)
    for (DType t : kTypes) {
      ConformanceCase& c = b.add(Kernel::time_mix_v7, "blocks.1.att.time_mix", m.C, 64, 1, t,
                                 {fmt::format("C={},N=64,chunks={}", m.C, chunk_str(m.chunks))});
      c.chunks = m.chunks;
    }
  for (const Shape2 s : kHeads)
    for (DType t : kTypes)
      b.add(Kernel::time_first_v7, "blocks.1.att.time_first", s.C, 64, s.T, t, {ct(s.C, s.T), "N=64"});
  for (const Shape2 s : kFlat)
    for (DType t : kTypes)
      b.add(Kernel::channel_mix_v7, "blocks.1.ffn.channel_mix", s.C, 4, s.T, t,
            {fmt::format("C={},chunks={}", s.C, chunk_str(chunks_of(s.T)))});
}

void add_affine_and_softmax(Builder& b) {
  // The plan's rescale (x * 0.5 every `rescale` layers), and the kernel's
  // general form with a scale and bias that round.
  for (const Shape2 s : kFlat)
    for (DType t : kTypes) b.add(Kernel::affine, "blocks.1.ffn.rescale_x", s.C, 4, s.T, t, {"scale=0.5", ct(s.C, s.T)});
  for (DType t : kTypes) {
    ConformanceCase& c = b.add(Kernel::affine, "blocks.1.ffn.rescale_x", 1028, 4, 7, t, {"scale=1.7,bias=-0.3", ct(1028, 7)});
    c.affine_params = true;
    c.scale = 1.7f;
    c.bias = -0.3f;
  }
  // softmax of f32 logits [V, T] (a job of its own after the head; in place).
  struct Soft {
    int64_t V, T;
    CaseEdge edge;
  };
  for (const Soft s : {Soft{1028, 1, CaseEdge::none}, Soft{1028, 7, CaseEdge::none}, Soft{65536, 1, CaseEdge::none},
                       Soft{1028, 1, CaseEdge::large_logits}, Soft{65536, 1, CaseEdge::large_logits}}) {
    ConformanceCase& c = b.add(Kernel::softmax, "head.softmax", 256, 64, s.T, kF32, {fmt::format("V={},T={}", s.V, s.T)});
    c.config.V = s.V;
    c.chunks = {uint32_t(s.T)};
    c.edge = s.edge;
  }
}

std::vector<ConformanceCase> build_cases() {
  Builder b;
  add_embedding(b);
  add_norms(b);
  add_token_shift(b);
  add_blits(b);
  add_binary(b);
  add_lerp_and_control(b);
  add_matmuls(b);
  add_time_mix(b);
  add_affine_and_softmax(b);
  b.finish();
  return std::move(b.cases);
}

}  // namespace

const std::vector<ConformanceCase>& conformance_cases() {
  static const std::vector<ConformanceCase> all = build_cases();
  return all;
}

std::vector<const ConformanceCase*> select_cases(const std::string& pattern) {
  const std::vector<ConformanceCase>& all = conformance_cases();
  std::vector<const ConformanceCase*> out;
  if (pattern.empty()) {
    for (const ConformanceCase& c : all) out.push_back(&c);
    return out;
  }
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(fmt::format("--op '{}': not a valid regular expression ({})", pattern, e.what()));
  }
  for (const ConformanceCase& c : all)
    if (std::regex_search(c.name, re)) out.push_back(&c);
  if (out.empty())
    throw std::invalid_argument(fmt::format("--op '{}' matches none of the {} case names (see rwkv-oracle "
                                            "conformance --list)",
                                            pattern, all.size()));
  return out;
}

}  // namespace rwkv::harness
