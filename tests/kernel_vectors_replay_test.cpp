// The checked-in per-kernel vectors (vectors/data/kernels.h5) read back as a
// GPU engineer would use them: for a few variants of every family, the
// reference kernel re-run on the stored inputs gives the stored outputs bit
// for bit, the float64 oracle re-run on them gives the stored oracle values
// bit for bit, and the stored max_abs_err_f64 / max_rel_err_f64 equal the
// errors recomputed here (independently of kernel_case.cpp) from the stored
// outputs and oracle values. Also: the file holds every catalog variant with
// its order string.
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/formats/blocks.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/kernel_catalog.h"
#include "reference/kernels/elementwise.h"
#include "reference/kernels/matmul.h"
#include "reference/kernels/norm.h"
#include "reference/kernels/softmax.h"
#include "reference/kernels/state_layout.h"
#include "reference/kernels/time_mix.h"
#include "reference/metal/q4k_mul_mm.h"
#include "reference/metal/simdgroup.h"
#include "reference/numeric/canon_math_array.h"
#include "reference/oracle/elementwise_oracle.h"
#include "reference/oracle/format_oracle.h"
#include "reference/oracle/matmul_oracle.h"
#include "reference/oracle/metal_oracle.h"
#include "reference/oracle/norm_oracle.h"
#include "reference/oracle/oracle_round.h"
#include "reference/oracle/softmax_oracle.h"
#include "reference/oracle/time_mix_oracle.h"
#include "vectors/h5_file.h"

namespace rwkv {
namespace {

using vectors::H5Reader;

const std::string kFile = std::string(RWKV_SOURCE_DIR) + "/vectors/data/kernels.h5";

// One recomputed output: its bytes and, if the kernel has an oracle, the
// oracle's values.
struct Replayed {
  std::vector<uint8_t> bytes;
  std::vector<double> f64;
};
using Outputs = std::map<std::string, Replayed>;

template <class T> std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Reads the inputs and parameters of case `at` ("/layer_norm/0").
struct CaseReader {
  const H5Reader& r;
  std::string at;

  std::string in(const std::string& name) const { return at + "/inputs/" + name; }
  // An activation tensor: f16 or f32 [d2, d1, d0] -> Shape(d0, d1, d2).
  Tensor tensor(const std::string& name) const {
    const vectors::DatasetInfo i = r.info(in(name));
    EXPECT_EQ(i.dims.size(), 3u) << in(name);
    Tensor t(i.type == vectors::H5Type::f16 ? DType::f16 : DType::f32,
             Shape(int64_t(i.dims[2]), int64_t(i.dims[1]), int64_t(i.dims[0])));
    t.bytes = r.read_bytes(in(name));
    return t;
  }
  std::vector<f16> halves(const std::string& name) const {
    const std::vector<uint16_t> bits = r.read_f16_bits(in(name));
    std::vector<f16> v(bits.size());
    for (size_t i = 0; i < v.size(); ++i) v[i].bits = bits[i];
    return v;
  }
  std::vector<float> floats(const std::string& name) const { return r.read_f32(in(name)); }
  std::vector<Cursor> cursors() const {
    const std::vector<uint32_t> v = r.read_u32(in("cursors"));
    std::vector<Cursor> c;
    for (size_t i = 0; i + 2 < v.size(); i += 3) c.push_back({v[i], v[i + 1], v[i + 2]});
    return c;
  }
  // A layer state f32 [B, N+2, C]: the data and a LayerState over it.
  LayerState state(std::vector<float>& data, const std::string& name = "state") const {
    const vectors::DatasetInfo i = r.info(in(name));
    data = r.read_f32(in(name));
    return LayerState{data.data(), int64_t(i.dims[2]), int64_t(i.dims[1]) - 2, int64_t(i.dims[0])};
  }
  int64_t i64(const std::string& p) const { return r.attr_i64(at, p); }
  double f64(const std::string& p) const { return r.attr_f64(at, p); }
  std::string str(const std::string& p) const { return r.attr_string(at, p); }
  // The weight matrix stored as <prefix>data (+ <prefix>meta) with params format, K, M.
  Matrix matrix(const std::string& prefix) const {
    auto st = std::make_shared<blocks::MatrixStorage>();
    st->data = r.read_u8(in(prefix + "data"));
    if (r.exists(in(prefix + "meta"))) st->meta = halves(prefix + "meta");
    return blocks::owned_matrix(parse_format(str("format")), i64("K"), i64("M"), st, "stored matrix");
  }
};

Activation parse_activation(const std::string& s) {
  for (Activation a : {Activation::none, Activation::tanh, Activation::sigmoid, Activation::squared_relu})
    if (s == activation_name(a)) return a;
  ADD_FAILURE() << "unknown activation " << s;
  return Activation::none;
}

// Errors as vectors/SCHEMA.md and KERNEL_VECTORS.md define them, written
// here again from the definition.
void expected_errors(const std::vector<double>& ref, const std::vector<double>& f64, bool f16_out, double& max_abs,
                     double& max_rel) {
  max_abs = max_rel = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double a = ref[i], b = f64[i];
    double err;
    if (std::isnan(a) || std::isnan(b)) err = std::isnan(a) && std::isnan(b) ? 0 : INFINITY;
    else if (std::isinf(a) || std::isinf(b)) {
      const double b_stored = f16_out ? oracle::round_to_f16(b) : double(float(b));
      err = a == b_stored ? 0 : INFINITY;  // equal infinities, or an overflow that rounding gives
    } else err = std::fabs(a - b);
    if (err > max_abs) max_abs = err;
    if (b != 0) {
      const double rel = err == 0 || std::isinf(err) ? err : err / std::fabs(b);
      if (rel > max_rel) max_rel = rel;
    }
  }
}

// Compares every stored output of case `at` with the replayed one.
void check_case(const H5Reader& r, const std::string& at, const Outputs& got) {
  const std::vector<std::string> names = r.members(at + "/outputs");
  ASSERT_EQ(names.size(), got.size()) << at;
  for (const std::string& name : names) {
    const std::string path = at + "/outputs/" + name;
    ASSERT_TRUE(got.count(name)) << path << " was not recomputed";
    const Replayed& g = got.at(name);
    EXPECT_EQ(r.read_bytes(path), g.bytes) << path << ": the kernel on the stored inputs gives other bits";
    const bool has_oracle = r.exists(at + "/oracle/" + name);
    ASSERT_EQ(has_oracle, !g.f64.empty()) << path;
    if (!has_oracle) {
      EXPECT_FALSE(r.has_attr(path, "max_abs_err_f64")) << path;
      continue;
    }
    const std::vector<double> want = r.read_f64(at + "/oracle/" + name);
    EXPECT_EQ(bytes_of(want), bytes_of(g.f64)) << path << ": the oracle on the stored inputs gives other values";
    const vectors::DatasetInfo info = r.info(path);
    const bool f16_out = info.type == vectors::H5Type::f16;
    std::vector<double> ref;
    if (f16_out)
      for (uint16_t h : r.read_f16_bits(path)) ref.push_back(f16_bits_to_f32(h));
    else
      for (float f : r.read_f32(path)) ref.push_back(f);
    double max_abs, max_rel;
    expected_errors(ref, want, f16_out, max_abs, max_rel);
    EXPECT_EQ(r.attr_f64(path, "max_abs_err_f64"), max_abs) << path;
    EXPECT_EQ(r.attr_f64(path, "max_rel_err_f64"), max_rel) << path;
  }
}

// A replay: recomputes a case's outputs from its stored inputs.
using Replay = std::function<Outputs(const CaseReader&)>;

Replayed from_tensor(const Tensor& t, std::vector<double> f64 = {}) { return {t.bytes, std::move(f64)}; }

// ---------------------------------------------------------------------------
// One replay per kernel, each calling the kernel and its oracle as the
// catalog does, but on what the file holds.

Outputs canon(const CaseReader& c, canon::Func f, double (*oracle_fn)(double)) {
  const std::vector<float> x = c.floats("x");
  std::vector<float> y(x.size());
  canon::apply(f, x.data(), y.data(), int64_t(x.size()));
  std::vector<double> want;
  for (float v : x) want.push_back(oracle_fn(v));
  return {{"y", {bytes_of(y), want}}};
}

Outputs f16_encode(const CaseReader& c) {
  const std::vector<float> x = c.floats("x");
  std::vector<uint16_t> y;
  std::vector<double> want;
  for (float v : x) y.push_back(f32_to_f16_bits(v)), want.push_back(oracle::round_to_f16(v));
  return {{"y", {bytes_of(y), want}}};
}

Outputs quantize(const CaseReader& c) {
  const std::vector<float> w = c.floats("w");
  const Matrix m = quantize_matrix(parse_format(c.str("format")), w.data(), c.i64("K"), c.i64("M"));
  Outputs o;
  o["data"] = {std::vector<uint8_t>(m.data, m.data + m.data_bytes), {}};
  if (m.meta) {
    const auto* p = reinterpret_cast<const uint8_t*>(m.meta);
    o["meta"] = {std::vector<uint8_t>(p, p + 2 * m.meta_count), {}};
  }
  std::vector<float> decoded(w.size());
  blocks::dequantize_matrix(m, decoded.data());
  for (float& v : decoded)
    if (std::isnan(v)) v = bits_to_f32(0x7fc00000u);  // as KERNEL_VECTORS.md says
  o["decoded"] = {bytes_of(decoded), std::vector<double>(w.begin(), w.end())};
  return o;
}

Outputs dequantize(const CaseReader& c) {
  const Matrix m = c.matrix("");
  std::vector<float> y(size_t(m.K * m.M));
  blocks::dequantize_matrix(m, y.data());
  return {{"w", {bytes_of(y), oracle::dequantize_f64(m)}}};
}

Outputs norm(const CaseReader& c, const std::string& kind) {
  Tensor x = c.tensor("x");
  const double eps = c.f64("eps");
  const bool in_place = c.i64("in_place") != 0;
  const std::vector<f16> w = kind == "l2" ? std::vector<f16>() : c.halves("w");
  const std::vector<f16> b = kind == "l2" ? std::vector<f16>() : c.halves("b");
  const int64_t head = kind == "layer" ? 0 : c.i64("head_size");
  std::vector<double> want = kind == "layer" ? oracle::layer_norm(x.view(), w.data(), b.data(), eps)
                             : kind == "group" ? oracle::group_norm(x.view(), w.data(), b.data(), head, eps)
                                               : oracle::l2_norm(x.view(), head, eps);
  // The output dtype is the stored output's.
  const vectors::DatasetInfo oi = c.r.info(c.at + "/outputs/y");
  Tensor out(oi.type == vectors::H5Type::f16 ? DType::f16 : DType::f32, x.shape);
  Tensor& y = in_place ? x : out;
  if (kind == "layer") layer_norm(x.view(), y.view(), w.data(), b.data(), float(eps));
  if (kind == "group") group_norm(x.view(), y.view(), w.data(), b.data(), head, float(eps));
  if (kind == "l2") l2_norm(x.view(), y.view(), head, float(eps));
  return {{"y", from_tensor(y, want)}};
}

DType stored_dtype(const CaseReader& c, const std::string& output) {
  return c.r.info(c.at + "/outputs/" + output).type == vectors::H5Type::f16 ? DType::f16 : DType::f32;
}

Outputs token_shift_replay(const CaseReader& c) {
  std::vector<float> data;
  const LayerState st = c.state(data);
  const std::vector<Cursor> cur = c.cursors();
  Tensor x = c.tensor("x"), mu = c.tensor("mu");
  Tensor out(stored_dtype(c, "out"), x.shape);
  const int64_t row = c.i64("state_row");
  token_shift(cur, st, row, mu.view(), x.view(), out.view());
  return {{"out", from_tensor(out, oracle::token_shift(cur, st, row, mu.view(), x.view()))}};
}

Outputs channel_mix_replay(const CaseReader& c) {
  std::vector<float> data;
  const LayerState st = c.state(data);
  const std::vector<Cursor> cur = c.cursors();
  Tensor x = c.tensor("x"), v = c.tensor("v");
  oracle::ChannelMixResult want = oracle::channel_mix_v7(cur, st, v.view(), x.view());
  channel_mix_v7(cur, st, v.view(), x.view());
  return {{"x", from_tensor(x, want.x)}, {"state", {bytes_of(data), want.state}}};
}

Outputs add_activate_replay(const CaseReader& c) {
  Tensor in = c.tensor("in"), out = c.tensor("out");
  const BinaryActivations act{parse_activation(c.str("act_x")), parse_activation(c.str("act_y")),
                              parse_activation(c.str("act_out"))};
  const BinaryOp op = c.str("op") == "add" ? BinaryOp::add : BinaryOp::mul;
  std::vector<double> want = oracle::binary(op, in.view(), out.view(), act);
  binary(op, in.view(), out.view(), act);
  return {{"out", from_tensor(out, want)}};
}

Outputs embedding_replay(const CaseReader& c) {
  Tensor table = c.tensor("table");
  const std::vector<uint32_t> ids = c.r.read_u32(c.in("ids"));
  Tensor out(stored_dtype(c, "out"), Shape(table.shape[0], int64_t(ids.size())));
  embedding(table.view(), ids, out.view());
  return {{"out", from_tensor(out, oracle::embedding(table.view(), ids))}};
}

Outputs softmax_replay(const CaseReader& c) {
  Tensor x = c.tensor("x");
  std::vector<double> want = oracle::softmax(x.view());
  softmax(x.view());
  return {{"x", from_tensor(x, want)}};
}

Outputs time_mix_replay(const CaseReader& c) {
  std::vector<float> data;
  const LayerState st = c.state(data);
  const std::vector<Cursor> cur = c.cursors();
  Tensor r = c.tensor("r"), z = c.tensor("w"), n = c.tensor("n"), x = c.tensor("x");
  const float decay = float(c.f64("decay"));
  TimeMixOracleState os(st.C, st.N, st.B);
  for (int64_t b = 0; b < st.B; ++b) os.load_slot(st, b);
  const std::vector<double> want_x = time_mix_v7_oracle(os, r.view(), z.view(), n.view(), x.view(), cur, decay).y;
  // The oracle's state, [B, N+2, C] in web-rwkv's layout.
  std::vector<double> want_state(data.size());
  for (int64_t b = 0; b < st.B; ++b)
    for (int64_t ch = 0; ch < st.C; ++ch) {
      want_state[size_t(b * st.rows() * st.C + ch)] = os.att_shift[size_t(b * st.C + ch)];
      want_state[size_t((b * st.rows() + st.N + 1) * st.C + ch)] = st.ffn_shift(b)[ch];
      for (int64_t j = 0; j < st.N; ++j)
        want_state[size_t(b * st.rows() * st.C + st.wkv_offset(ch / st.N, ch % st.N, j))] =
            os.S(b, ch / st.N, ch % st.N, j);
    }
  time_mix_v7(st, r.view(), z.view(), n.view(), x.view(), cur, c.i64("head_size"), TimeMixParams{decay});
  return {{"state", {bytes_of(data), want_state}}, {"x", from_tensor(x, want_x)}};
}

Outputs time_first_replay(const CaseReader& c) {
  const std::vector<f16> rk = c.halves("r_k");
  Tensor r_k(DType::f16, Shape(int64_t(rk.size())));
  std::memcpy(r_k.bytes.data(), rk.data(), r_k.bytes.size());
  Tensor r = c.tensor("r"), n = c.tensor("n"), x = c.tensor("x");
  const int64_t N = c.i64("head_size");
  std::vector<double> want = time_first_v7_oracle(r_k.view(), r.view(), n.view(), x.view(), N).x;
  time_first_v7(r_k.view(), r.view(), n.view(), x.view(), N);
  return {{"x", from_tensor(x, want)}};
}

Outputs state_layout_replay(const CaseReader& c) {
  std::vector<float> data;
  const LayerState src = c.state(data);
  const int64_t C = src.C, N = src.N, B = src.B;
  std::vector<float> back(data.size(), 0.0f);
  const LayerState dst{back.data(), C, N, B};
  std::vector<float> att(size_t(B * C)), ffn(att), wkv(size_t(B * C * N)), gwkv(wkv), shift(size_t(2 * B * C));
  for (int64_t b = 0; b < B; ++b) {
    const std::span<float> a(att.data() + b * C, size_t(C)), f(ffn.data() + b * C, size_t(C)),
        w(wkv.data() + b * C * N, size_t(C * N)), g(gwkv.data() + b * C * N, size_t(C * N)),
        s(shift.data() + 2 * b * C, size_t(2 * C));
    state_slot_to_official(src, b, a, w, f);
    state_slot_from_official(a, w, f, dst, b);
    state_slot_to_ggml(dst, b, g, s);
    state_slot_from_ggml(g, s, dst, b);
  }
  // The oracle of a copy is the copied value: the converters' outputs, widened.
  auto same = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  return {{"official_att_shift", {bytes_of(att), same(att)}}, {"official_wkv", {bytes_of(wkv), same(wkv)}},
          {"official_ffn_shift", {bytes_of(ffn), same(ffn)}}, {"ggml_wkv", {bytes_of(gwkv), same(gwkv)}},
          {"ggml_token_shift", {bytes_of(shift), same(shift)}}, {"round_trip", {bytes_of(back), same(data)}}};
}

Outputs matmul_replay(const CaseReader& c, const std::string& kernel) {
  const Matrix w = c.matrix("w_");
  // The stored decoded weights are what the decoder gives.
  std::vector<float> decoded(size_t(w.K * w.M));
  blocks::dequantize_matrix(w, decoded.data());
  EXPECT_EQ(c.floats("w_decoded"), decoded) << c.at;
  Tensor x = c.tensor("x");
  Tensor y(stored_dtype(c, "y"), Shape(w.M, x.shape[1], 1));
  const Activation act = parse_activation(c.str("activation"));
  if (kernel == "mat") matmul_mat(w, x.view(), y.view(), act);
  else matmul_vec(w, x.view(), y.view(), act, c.i64("sparse_input") != 0);
  return {{"y", from_tensor(y, oracle::matmul(w, x.view(), act))}};
}

Outputs mma_replay(const CaseReader& c, metal::MmaOrder order) {
  const std::vector<f16> a = c.halves("a"), b = c.halves("b");
  const size_t reps = a.size() / 64;
  std::vector<metal::Half8x8> A(reps), B(reps);
  for (size_t i = 0; i < a.size(); ++i) A[i / 64].v[i % 64] = a[i], B[i / 64].v[i % 64] = b[i];
  if (c.r.exists(c.in("c"))) {  // each MMA on its own C
    const std::vector<float> cv = c.floats("c");
    std::vector<float> d(cv.size());
    std::vector<double> want(cv.size());
    for (size_t i = 0; i < reps; ++i) {
      metal::Float8x8 C, D;
      std::memcpy(C.v, cv.data() + 64 * i, 256);
      metal::mma(D, A[i], B[i], C, order);
      std::memcpy(d.data() + 64 * i, D.v, 256);
      double cd[64];
      for (int k = 0; k < 64; ++k) cd[k] = C.v[k];
      oracle::mma_f64(A[i], B[i], cd, want.data() + 64 * i);
    }
    return {{"d", {bytes_of(d), want}}};
  }
  metal::Float8x8 acc = metal::Float8x8::filled(0.0f);
  std::vector<double> want(64, 0.0);
  for (size_t i = 0; i < reps; ++i) {
    metal::mma(acc, A[i], B[i], acc, order);
    oracle::mma_f64(A[i], B[i], want.data(), want.data());
  }
  return {{"acc", {bytes_of(std::vector<float>(acc.v, acc.v + 64)), want}}};
}

Outputs mul_mm_replay(const CaseReader& c, metal::MmaOrder order) {
  const Matrix w = c.matrix("w_");
  const int64_t T = c.i64("T");
  std::vector<f16> operands(size_t(w.K * w.M));
  metal::metal_q4k_weight_operands(w, metal::kDefaultHighNibbleScale, operands.data());
  EXPECT_EQ(bytes_of(c.halves("w_operands")), bytes_of(operands)) << c.at;
  const std::vector<float> x = c.floats("x");
  std::vector<float> y(size_t(w.M * T));
  metal::metal_q4k_mul_mm(w, x.data(), T, y.data(), order);
  std::vector<double> want(y.size());
  oracle::metal_q4k_mul_mm_f64(w, x.data(), T, metal::kDefaultHighNibbleScale, want.data());
  return {{"y", {bytes_of(y), want}}};
}

double exp_f64(double x) { return std::exp(x); }
double tanh_f64(double x) { return oracle::activate(Activation::tanh, x); }
double rsqrt_f64(double x) { return 1.0 / std::sqrt(x); }

// Variants checked, a few of every family.
const std::map<std::string, Replay>& replays() {
  static const std::map<std::string, Replay> m = {
      {"canon_exp", [](const CaseReader& c) { return canon(c, canon::Func::exp, exp_f64); }},
      {"canon_tanh", [](const CaseReader& c) { return canon(c, canon::Func::tanh, tanh_f64); }},
      {"canon_rsqrt", [](const CaseReader& c) { return canon(c, canon::Func::rsqrt, rsqrt_f64); }},
      {"f16_encode", f16_encode},
      {"quantize.q4_k", quantize},
      {"quantize.nf4", quantize},
      {"quantize.int8", quantize},
      {"dequantize.q6_k", dequantize},
      {"dequantize.int8", dequantize},
      {"dequantize.sf4", dequantize},
      {"layer_norm", [](const CaseReader& c) { return norm(c, "layer"); }},
      {"group_norm", [](const CaseReader& c) { return norm(c, "group"); }},
      {"l2_norm", [](const CaseReader& c) { return norm(c, "l2"); }},
      {"token_shift", token_shift_replay},
      {"channel_mix_v7", channel_mix_replay},
      {"add_activate.tanh", add_activate_replay},
      {"add.none", add_activate_replay},
      {"embedding", embedding_replay},
      {"softmax", softmax_replay},
      {"time_mix_v7", time_mix_replay},
      {"time_mix_v7_exact_decay", time_mix_replay},
      {"time_first_v7", time_first_replay},
      {"state_layout", state_layout_replay},
      {"matmul_vec.q4_k.tanh", [](const CaseReader& c) { return matmul_replay(c, "vec"); }},
      {"matmul_vec.fp16.none", [](const CaseReader& c) { return matmul_replay(c, "vec"); }},
      {"matmul_vec_sparse.nf4.sigmoid", [](const CaseReader& c) { return matmul_replay(c, "vec"); }},
      {"matmul_mat.int8.squared_relu", [](const CaseReader& c) { return matmul_replay(c, "mat"); }},
      {"matmul_mat.q8_0.none", [](const CaseReader& c) { return matmul_replay(c, "mat"); }},
      {"metal_simdgroup_mma.pairwise_f32",
       [](const CaseReader& c) { return mma_replay(c, metal::MmaOrder::pairwise_f32); }},
      {"metal_simdgroup_mma.chain_f32", [](const CaseReader& c) { return mma_replay(c, metal::MmaOrder::chain_f32); }},
      {"metal_q4k_mul_mm.q4_k.sequential_f32",
       [](const CaseReader& c) { return mul_mm_replay(c, metal::MmaOrder::sequential_f32); }},
      {"metal_q4k_mul_mm.q4_k.exact_then_round",
       [](const CaseReader& c) { return mul_mm_replay(c, metal::MmaOrder::exact_then_round); }},
  };
  return m;
}

TEST(KernelVectorsFile, HoldsEveryCatalogVariantWithItsOrderAndOracle) {
  const H5Reader r(kFile);
  EXPECT_EQ(r.attr_string("/", "schema"), "rwkv-oracle-kernel-vectors/1");
  EXPECT_EQ(r.attr_u64("/", "variants"), kernel_catalog().size());
  const std::vector<std::string> groups = r.members("/");
  ASSERT_EQ(groups.size(), kernel_catalog().size());
  for (size_t i = 0; i < groups.size(); ++i) {
    const KernelVariant& k = kernel_catalog()[i];
    const std::string g = "/" + k.key;
    EXPECT_EQ(groups[i], k.key) << "variants are written in catalog order";
    EXPECT_EQ(r.attr_string(g, "order"), k.order) << k.key;
    EXPECT_EQ(r.attr_string(g, "oracle"), k.oracle) << k.key;
    EXPECT_GE(r.attr_u64(g, "cases"), 1u) << k.key;
    EXPECT_EQ(r.members(g).size(), r.attr_u64(g, "cases")) << k.key;
  }
}

TEST(KernelVectorsFile, EveryFamilyHasReplayedVariants) {
  // The replays cover each catalog file's family.
  for (const char* family : {"canon_", "f16_encode", "quantize", "dequantize", "_norm", "token_shift", "add",
                             "softmax", "time_mix", "state_layout", "matmul_vec", "matmul_mat", "metal_simdgroup",
                             "metal_q4k"}) {
    bool found = false;
    for (const auto& [key, replay] : replays()) found = found || key.find(family) != std::string::npos;
    EXPECT_TRUE(found) << family;
  }
}

class KernelVectorsReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelVectorsReplay, StoredInputsGiveTheStoredOutputsOracleAndErrors) {
  const H5Reader r(kFile);
  const std::string group = "/" + GetParam();
  ASSERT_TRUE(r.is_group(group)) << GetParam() << " is not in " << kFile;
  const uint64_t cases = r.attr_u64(group, "cases");
  ASSERT_GE(cases, 1u);
  for (uint64_t i = 0; i < cases; ++i) {
    const CaseReader c{r, group + "/" + std::to_string(i)};
    SCOPED_TRACE(c.at + " (" + r.attr_string(c.at, "label") + ")");
    check_case(r, c.at, replays().at(GetParam())(c));
  }
}

std::vector<std::string> replay_keys() {
  std::vector<std::string> v;
  for (const auto& [key, replay] : replays()) v.push_back(key);
  return v;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Variants, KernelVectorsReplay, ::testing::ValuesIn(replay_keys()), param_name);

}  // namespace
}  // namespace rwkv
