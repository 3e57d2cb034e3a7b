// Catalog entries of the element-wise kernels (elementwise.h) and softmax
// (softmax.h). Samples use channel counts with lane tails (not multiples of 16),
// both activation types, broadcast operands, and several batches whose chunk
// boundaries decide the state rows read (token_shift) and written
// (channel_mix_v7).
#include <string>
#include <tuple>

#include "reference/kernel_catalog.h"
#include "reference/kernels/activation_samples.h"
#include "reference/kernels/elementwise.h"
#include "reference/kernels/softmax.h"

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

std::vector<uint8_t> token_shift_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  const auto cursors = sample_cursors();
  const int64_t T = int64_t(cursors.size()), N = 4;
  struct Case {
    int64_t C;
    DType x, out, mu;
    bool per_token_mu;
    int64_t row;
  };
  for (const Case& c : {Case{260, kF16, kF16, kF16, false, 0}, Case{1028, kF32, kF16, kF32, true, N + 1},
                        Case{516, kF16, kF32, kF16, false, N + 1}}) {
    SampleState st(rng, c.C, N, 4);
    Tensor x = samples::normal_tensor(rng, c.x, Shape(c.C, T), 2);
    Tensor mu = samples::uniform_tensor(rng, c.mu, c.per_token_mu ? Shape(c.C, T) : Shape(c.C), -0.2f, 1.2f);
    Tensor out(c.out, x.shape);
    token_shift(cursors, st.state, c.row, mu.view(), x.view(), out.view());
    samples::append_tensor(bytes, out);
  }
  return bytes;
}

std::vector<uint8_t> channel_mix_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  const auto cursors = sample_cursors();
  const int64_t T = int64_t(cursors.size()), N = 4;
  for (auto [C, xt, vt] : {std::tuple{int64_t{260}, kF16, kF16}, {int64_t{1028}, kF32, kF16}, {int64_t{516}, kF16, kF32}}) {
    SampleState st(rng, C, N, 4);
    Tensor x = samples::normal_tensor(rng, xt, Shape(C, T), 2);
    Tensor v = samples::normal_tensor(rng, vt, Shape(C, T), 3e4f);  // overflows f16 at times
    channel_mix_v7(cursors, st.state, v.view(), x.view());
    samples::append_tensor(bytes, x);
    append_bytes(bytes, st.data);
  }
  return bytes;
}

std::vector<uint8_t> lerp_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  struct Case {
    Shape full, f;
    DType ft, xt, yt;
  };
  for (const Case& c : {Case{Shape(260, 5, 2), Shape(260), kF16, kF16, kF16},
                        Case{Shape(516, 3), Shape(516, 3), kF32, kF16, kF32},
                        Case{Shape(1028, 2, 3), Shape(1028, 1, 3), kF16, kF32, kF16}}) {
    Tensor f = samples::uniform_tensor(rng, c.ft, c.f, -0.2f, 1.2f);
    Tensor x = samples::normal_tensor(rng, c.xt, c.full, 2);
    Tensor y = samples::normal_tensor(rng, c.yt, c.full, 2);
    lerp(f.view(), x.view(), y.view());
    samples::append_tensor(bytes, y);
  }
  return bytes;
}

// Runs binary() over broadcast shapes and types for each activation set.
std::vector<uint8_t> binary_sample(uint64_t seed, BinaryOp op, const std::vector<BinaryActivations>& acts) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  struct Case {
    Shape in, out;
    DType it, ot;
  };
  const Case cases[] = {{Shape(260), Shape(260, 5), kF16, kF32},  // an f16 weight vector over tokens
                        {Shape(516, 3), Shape(516, 3), kF32, kF16},
                        {Shape(1028, 1, 2), Shape(1028, 3, 2), kF16, kF16},
                        {Shape(100, 7), Shape(100, 7), kF32, kF32}};
  for (const BinaryActivations& act : acts)
    for (const Case& c : cases) {
      // Mostly ordinary values, a few far out (tanh's clamp, sigmoid's tails).
      Tensor in = samples::normal_tensor(rng, c.it, c.in, 3);
      Tensor out = samples::normal_tensor(rng, c.ot, c.out, 3);
      in.view().set(1, 50.0f);
      out.view().set(2, -60.0f);
      binary(op, in.view(), out.view(), act);
      samples::append_tensor(bytes, out);
    }
  return bytes;
}

std::vector<uint8_t> affine_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (auto [t, s, b] : {std::tuple{kF16, 0.5f, 0.0f}, {kF32, 0.5f, 0.0f}, {kF16, -1.75f, 3.0f}, {kF32, 3.0f, -0.25f}}) {
    Tensor x = samples::normal_tensor(rng, t, Shape(516, 3, 2), 4);
    affine(x.view(), s, b);
    samples::append_tensor(bytes, x);
  }
  return bytes;
}

std::vector<uint8_t> blit_sample(uint64_t seed, DType from, DType to) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (auto shape : {Shape(1028, 3), Shape(260, 2, 2)}) {
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
    samples::append_tensor(bytes, out);
  }
  return bytes;
}

std::vector<uint8_t> embedding_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  const int64_t C = 260, V = 40;
  Tensor table = samples::normal_tensor(rng, kF16, Shape(C, V));
  std::vector<uint32_t> ids(9);
  for (auto& id : ids) id = rng.next_u32() % uint32_t(V);
  for (DType t : {kF16, kF32}) {
    Tensor out(t, Shape(C, int64_t(ids.size())));
    embedding(table.view(), ids, out.view());
    samples::append_tensor(bytes, out);
  }
  return bytes;
}

std::vector<uint8_t> control_k_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (auto [C, kt, at] : {std::tuple{int64_t{260}, kF16, kF16}, {int64_t{1028}, kF32, kF16}, {int64_t{516}, kF16, kF32}}) {
    Tensor k = samples::normal_tensor(rng, kt, Shape(C, 5), 2);
    Tensor a = samples::uniform_tensor(rng, at, Shape(C, 5), 0, 1);
    const auto ka = samples::uniform_f16(rng, C, -1, 3);
    control_k_v7(k.view(), a.view(), ka.data());
    samples::append_tensor(bytes, k);
  }
  return bytes;
}

std::vector<uint8_t> softmax_sample(uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (auto shape : {Shape(260, 5), Shape(4100, 2), Shape(65536, 1), Shape(1028, 2, 2)}) {
    const float scale = rng.uniform(1, 8);
    const float offset = rng.uniform(-20, 20);
    Tensor x = samples::normal_tensor(rng, kF32, shape, scale, offset);
    softmax(x.view());
    samples::append_tensor(bytes, x);
  }
  return bytes;
}

}  // namespace

void register_elementwise_kernels(std::vector<KernelVariant>& out) {
  out.push_back({"token_shift", "-", "-",
                 "per element: x + (prev - x)*mu; prev = state row of the batch at a chunk's first token, else x[s-1]",
                 token_shift_sample});
  out.push_back({"lerp", "-", "-", "per element: y + (x - y)*f", lerp_sample});
  out.push_back({"add", "-", "none", "per element: in + out",
                 [](uint64_t seed) { return binary_sample(seed, BinaryOp::add, {{}}); }});
  out.push_back({"mul", "-", "none", "per element: in * out",
                 [](uint64_t seed) { return binary_sample(seed, BinaryOp::mul, {{}}); }});
  for (Activation a : {Activation::tanh, Activation::sigmoid, Activation::squared_relu}) {
    const BinaryActivations on_out{Activation::none, Activation::none, a}, on_in{a, Activation::none, Activation::none},
        on_old{Activation::none, a, Activation::none};
    out.push_back({"add_activate", "-", std::string(activation_name(a)),
                   "per element: ACT_OUT(ACT_X(in) + ACT_Y(out)); canon_* activations",
                   [=](uint64_t seed) { return binary_sample(seed, BinaryOp::add, {on_out, on_in, on_old}); }});
  }
  out.push_back({"affine", "-", "-", "per element: (scale*x) + bias", affine_sample});
  out.push_back({"blit_f16_f32", "-", "-", "copy through f32 (exact)",
                 [](uint64_t seed) { return blit_sample(seed, kF16, kF32); }});
  out.push_back({"blit_f32_f16", "-", "-", "copy through f32; f32->f16 round to nearest even, overflow to Inf",
                 [](uint64_t seed) { return blit_sample(seed, kF32, kF16); }});
  out.push_back({"embedding", "-", "-", "row copy table[:, id] (f16 -> f16 or exact f32)", embedding_sample});
  out.push_back({"control_k_v7", "-", "-", "per element: k*(1 + (a - 1)*k_a)", control_k_sample});
  out.push_back({"channel_mix_v7", "-", "-",
                 "state row N+1 <- x (f32) of each chunk's last token; then x <- v", channel_mix_sample});
  out.push_back({"softmax", "-", "-",
                 "BS=128 per column; per-thread max from -1e30, tree 64..1, lanes x,y,z,w (lane_max); "
                 "per-thread sum exp(x-max), tree 64..1, lanes x+y+z+w; exp(x-max)/sum",
                 softmax_sample});
}

}  // namespace rwkv
