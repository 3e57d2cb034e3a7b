// Catalog entries of the element-wise kernels (elementwise.h) and softmax
// (softmax.h). Cases use channel counts with lane tails (not multiples of 16),
// both activation types, broadcast operands, and several batches whose chunk
// boundaries decide the state rows read (token_shift) and written
// (channel_mix_v7). Oracles: oracle/elementwise_oracle.h and
// oracle/softmax_oracle.h (the same expressions in double).
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "reference/kernel_catalog.h"
#include "reference/kernels/activation_samples.h"
#include "reference/kernels/batch_case.h"
#include "reference/kernels/elementwise.h"
#include "reference/kernels/softmax.h"
#include "reference/oracle/elementwise_oracle.h"
#include "reference/oracle/softmax_oracle.h"

namespace rwkv {
namespace {

constexpr DType kF16 = DType::f16, kF32 = DType::f32;

// Three chunks in stacking order over four state slots (slot 2 unused): 9 tokens.
std::vector<Cursor> sample_cursors() { return make_cursors({{3, 4}, {0, 1}, {1, 4}}); }

struct SampleState {
  std::vector<float> data;
  LayerState state;
  SampleState(Rng& rng, int64_t C, int64_t N, int64_t B) : data(static_cast<size_t>(C * (N + 2) * B)) {
    for (auto& v : data) v = rng.normal();
    state = LayerState{data.data(), C, N, B};
  }
};

std::string dtypes(std::initializer_list<DType> ts) {
  std::string s;
  for (DType t : ts) s += (s.empty() ? "" : " ") + std::string(dtype_name(t));
  return s;
}

std::vector<KernelCase> token_shift_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  const auto cursors = sample_cursors();
  const int64_t T = int64_t(cursors.size()), N = 4;
  struct Case {
    int64_t C;
    DType x, out, mu;
    bool per_token_mu;
    int64_t row;
  };
  for (const Case& s : {Case{68, kF16, kF16, kF16, false, 0}, Case{132, kF32, kF16, kF32, true, N + 1},
                        Case{1028, kF16, kF32, kF16, false, N + 1}}) {
    SampleState st(rng, s.C, N, 4);
    Tensor x = samples::normal_tensor(rng, s.x, Shape(s.C, T), 2);
    Tensor mu = samples::uniform_tensor(rng, s.mu, s.per_token_mu ? Shape(s.C, T) : Shape(s.C), -0.2f, 1.2f);
    Tensor out(s.out, x.shape);
    token_shift(cursors, st.state, s.row, mu.view(), x.view(), out.view());
    KernelCase c(fmt::format("C {}, T {}, 3 chunks over 4 slots, x mu out {}, mu {}, state row {}", s.C, T,
                             dtypes({s.x, s.mu, s.out}), s.per_token_mu ? "per token" : "[C]", s.row));
    c.param("state_row", s.row);
    add_state_input(c, "state", st.state);
    add_cursors(c, cursors);
    c.input("x", x);
    c.input("mu", mu);
    CaseTensor& o = c.output("out", out);
    if (oracle == WithOracle::yes) o.f64 = oracle::token_shift(cursors, st.state, s.row, mu.view(), x.view());
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> channel_mix_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  const auto cursors = sample_cursors();
  const int64_t T = int64_t(cursors.size()), N = 4;
  for (auto [C, xt, vt] : {std::tuple{int64_t{68}, kF16, kF32}, {int64_t{132}, kF32, kF16}, {int64_t{1028}, kF16, kF16}}) {
    SampleState st(rng, C, N, 4);
    Tensor x = samples::normal_tensor(rng, xt, Shape(C, T), 2);
    Tensor v = samples::normal_tensor(rng, vt, Shape(C, T), 3e4f);  // overflows f16 at times
    KernelCase c(fmt::format("C {}, T {}, 3 chunks over 4 slots, x {}, v {}", C, T, dtype_name(xt), dtype_name(vt)));
    add_state_input(c, "state", st.state);
    add_cursors(c, cursors);
    c.input("x", x);
    c.input("v", v);
    oracle::ChannelMixResult want;
    if (oracle == WithOracle::yes) want = oracle::channel_mix_v7(cursors, st.state, v.view(), x.view());
    channel_mix_v7(cursors, st.state, v.view(), x.view());
    c.output("x", x).f64 = std::move(want.x);
    add_state_output(c, "state", st.state).f64 = std::move(want.state);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> lerp_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  struct Case {
    Shape full, f;
    DType ft, xt, yt;
  };
  for (const Case& s : {Case{Shape(68, 5, 2), Shape(68), kF16, kF16, kF16},
                        Case{Shape(516, 3), Shape(516, 3), kF32, kF16, kF32},
                        Case{Shape(1028, 2, 3), Shape(1028, 1, 3), kF16, kF32, kF16}}) {
    Tensor f = samples::uniform_tensor(rng, s.ft, s.f, -0.2f, 1.2f);
    Tensor x = samples::normal_tensor(rng, s.xt, s.full, 2);
    Tensor y = samples::normal_tensor(rng, s.yt, s.full, 2);
    KernelCase c(fmt::format("x, y {}, f {}, f x y {}", s.full.str(), s.f.str(), dtypes({s.ft, s.xt, s.yt})));
    c.input("f", f);
    c.input("x", x);
    c.input("y", y);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = oracle::lerp(f.view(), x.view(), y.view());
    lerp(f.view(), x.view(), y.view());
    c.output("y", y).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

// binary() over broadcast shapes and types for each activation set: case i
// runs activation set i % |sets| on shape i % 4, so with three sets the first
// cases already cover every placement of the activation.
std::vector<KernelCase> binary_cases(uint64_t seed, WithOracle oracle, BinaryOp op,
                                     const std::vector<BinaryActivations>& acts) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  struct Case {
    Shape in, out;
    DType it, ot;
  };
  const Case shapes[] = {{Shape(132), Shape(132, 5), kF16, kF32},  // an f16 weight vector over tokens
                         {Shape(516, 3), Shape(516, 3), kF32, kF16},
                         {Shape(1028, 1, 2), Shape(1028, 3, 2), kF16, kF16},
                         {Shape(100, 7), Shape(100, 7), kF32, kF32}};
  const size_t n = acts.size() * std::size(shapes);
  for (size_t i = 0; i < n; ++i) {
    const BinaryActivations& act = acts[i % acts.size()];
    const Case& s = shapes[i % std::size(shapes)];
    // Mostly ordinary values, a few far out (tanh's clamp, sigmoid's tails).
    Tensor in = samples::normal_tensor(rng, s.it, s.in, 3);
    Tensor out = samples::normal_tensor(rng, s.ot, s.out, 3);
    in.view().set(1, 50.0f);
    out.view().set(2, -60.0f);
    KernelCase c(fmt::format("in {} {}, out {} {}, act_x {}, act_y {}, act_out {}", s.in.str(), dtype_name(s.it),
                             s.out.str(), dtype_name(s.ot), activation_name(act.x), activation_name(act.y),
                             activation_name(act.out)));
    c.param("op", op == BinaryOp::add ? "add" : "mul");
    c.param("act_x", std::string(activation_name(act.x)));
    c.param("act_y", std::string(activation_name(act.y)));
    c.param("act_out", std::string(activation_name(act.out)));
    c.input("in", in);
    c.input("out", out);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = oracle::binary(op, in.view(), out.view(), act);
    binary(op, in.view(), out.view(), act);
    c.output("out", out).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> affine_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (auto [t, s, b] : {std::tuple{kF16, 0.5f, 0.0f}, {kF32, -1.75f, 3.0f}, {kF32, 0.5f, 0.0f}, {kF16, 3.0f, -0.25f}}) {
    Tensor x = samples::normal_tensor(rng, t, Shape(260, 3, 2), 4);
    KernelCase c(fmt::format("x [260, 3, 2] {}, scale {}, bias {}", dtype_name(t), s, b));
    c.param("scale", double(s));
    c.param("bias", double(b));
    c.input("x", x);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = oracle::affine(x.view(), s, b);
    affine(x.view(), s, b);
    c.output("x", x).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> blit_cases(uint64_t seed, WithOracle oracle, DType from, DType to) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (auto shape : {Shape(260, 2, 2), Shape(68, 3), Shape(1028, 3)}) {
    Tensor in(from, shape);
    TensorView v = in.view();
    // Magnitudes from f16 subnormals to beyond the f16 range (f32 -> f16 overflows to Inf).
    // (One rng call per statement: the order of evaluation of operands and
    // arguments differs between compilers.)
    for (int64_t i = 0; i < v.numel(); ++i) {
      const float u = rng.uniform(-1, 1);
      const float scale = float(1 << (rng.next_u32() % 20)) * 0x1p-20f;
      v.set(i, u * scale * (i % 3 == 0 ? 0x1p-8f : 0x1p14f));
    }
    Tensor out(to, shape);
    blit(in.view(), out.view());
    KernelCase c(fmt::format("{} {} -> {}", shape.str(), dtype_name(from), dtype_name(to)));
    c.input("in", in);
    CaseTensor& o = c.output("out", out);
    if (oracle == WithOracle::yes) o.f64 = oracle::blit(in.view());  // the value itself, unrounded
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> embedding_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  const int64_t C = 132, V = 40;
  Tensor table = samples::normal_tensor(rng, kF16, Shape(C, V));
  std::vector<uint32_t> ids(9);
  for (auto& id : ids) id = rng.next_u32() % uint32_t(V);
  ids[3] = uint32_t(V - 1);  // the last row
  for (DType t : {kF16, kF32}) {
    Tensor out(t, Shape(C, int64_t(ids.size())));
    embedding(table.view(), ids, out.view());
    KernelCase c(fmt::format("C {}, V {}, 9 ids, out {}", C, V, dtype_name(t)));
    c.input("table", table);
    c.input("ids", ElemType::u32, {ids.size()}, ids.data());
    CaseTensor& o = c.output("out", out);
    if (oracle == WithOracle::yes) o.f64 = oracle::embedding(table.view(), ids);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> control_k_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (auto [C, kt, at] : {std::tuple{int64_t{68}, kF16, kF16}, {int64_t{260}, kF32, kF16}, {int64_t{1028}, kF16, kF32}}) {
    Tensor k = samples::normal_tensor(rng, kt, Shape(C, 5), 2);
    Tensor a = samples::uniform_tensor(rng, at, Shape(C, 5), 0, 1);
    const auto ka = samples::uniform_f16(rng, C, -1, 3);
    KernelCase c(fmt::format("C {}, T 5, k {}, a {}", C, dtype_name(kt), dtype_name(at)));
    c.input("k", k);
    c.input("a", a);
    c.input_f16("k_a", ka);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = oracle::control_k_v7(k.view(), a.view(), ka.data());
    control_k_v7(k.view(), a.view(), ka.data());
    c.output("k", k).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<KernelCase> softmax_cases(uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  for (auto shape : {Shape(260, 5), Shape(1028, 2), Shape(4100, 2), Shape(65536, 1), Shape(1028, 2, 2)}) {
    const float scale = rng.uniform(1, 8);
    const float offset = rng.uniform(-20, 20);
    Tensor x = samples::normal_tensor(rng, kF32, shape, scale, offset);
    KernelCase c(fmt::format("x {} f32, in place", shape.str()));
    c.input("x", x);
    std::vector<double> want;
    if (oracle == WithOracle::yes) want = oracle::softmax(x.view());
    softmax(x.view());
    c.output("x", x).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

constexpr const char* kSameInDouble = "the same expression in double (oracle/elementwise_oracle.h)";

}  // namespace

void register_elementwise_kernels(std::vector<KernelVariant>& out) {
  out.push_back(make_variant(
      "token_shift", "-", "-",
      "per element: x + (prev - x)*mu; prev = state row of the batch at a chunk's first token, else x[s-1]",
      kSameInDouble, token_shift_cases));
  out.push_back(make_variant("lerp", "-", "-", "per element: y + (x - y)*f", kSameInDouble, lerp_cases));
  out.push_back(make_variant("add", "-", "none", "per element: in + out", kSameInDouble, [](uint64_t seed, WithOracle o) {
    return binary_cases(seed, o, BinaryOp::add, {{}});
  }));
  out.push_back(make_variant("mul", "-", "none", "per element: in * out", kSameInDouble, [](uint64_t seed, WithOracle o) {
    return binary_cases(seed, o, BinaryOp::mul, {{}});
  }));
  for (Activation a : {Activation::tanh, Activation::sigmoid, Activation::squared_relu}) {
    const BinaryActivations on_out{Activation::none, Activation::none, a}, on_in{a, Activation::none, Activation::none},
        on_old{Activation::none, a, Activation::none};
    out.push_back(make_variant(
        "add_activate", "-", std::string(activation_name(a)),
        "per element: ACT_OUT(ACT_X(in) + ACT_Y(out)); canon_* activations",
        "the same expression in double, activations by the C library's tanh and exp (tanh 1 above 42)",
        [=](uint64_t seed, WithOracle o) { return binary_cases(seed, o, BinaryOp::add, {on_out, on_in, on_old}); }));
  }
  out.push_back(make_variant("affine", "-", "-", "per element: (scale*x) + bias", kSameInDouble, affine_cases));
  out.push_back(make_variant("blit_f16_f32", "-", "-", "copy through f32 (exact)", "the input value (exact)",
                             [](uint64_t seed, WithOracle o) { return blit_cases(seed, o, kF16, kF32); }));
  out.push_back(make_variant("blit_f32_f16", "-", "-", "copy through f32; f32->f16 round to nearest even, overflow to Inf",
                             "the input value, unrounded (so the errors are the f16 rounding)",
                             [](uint64_t seed, WithOracle o) { return blit_cases(seed, o, kF32, kF16); }));
  out.push_back(make_variant("embedding", "-", "-", "row copy table[:, id] (f16 -> f16 or exact f32)",
                             "the table value (exact)", embedding_cases));
  out.push_back(make_variant("control_k_v7", "-", "-", "per element: k*(1 + (a - 1)*k_a)", kSameInDouble,
                             control_k_cases));
  out.push_back(make_variant("channel_mix_v7", "-", "-",
                             "state row N+1 <- x (f32) of each chunk's last token; then x <- v",
                             "the moved values (exact)", channel_mix_cases));
  out.push_back(make_variant("softmax", "-", "-",
                             "BS=128 per column; per-thread max from -1e30, tree 64..1, lanes x,y,z,w (lane_max); "
                             "per-thread sum exp(x-max), tree 64..1, lanes x+y+z+w; exp(x-max)/sum",
                             "exp(x - max)/sum exp(x - max) per column in double (C library exp; "
                             "oracle/softmax_oracle.h)",
                             softmax_cases));
}

}  // namespace rwkv
