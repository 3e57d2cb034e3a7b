// Catalog entries of matmul_vec, matmul_vec (sparse input) and matmul_mat:
// one per weight format and fused activation.
#include <exception>
#include <span>
#include <string>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/formats/matrix_case.h"
#include "reference/kernel_catalog.h"
#include "reference/kernels/matmul.h"
#include "reference/kernels/random_weights.h"
#include "reference/oracle/matmul_oracle.h"
#include "reference/util/rng.h"

namespace rwkv {
namespace {

enum class MatmulKernel { vec, vec_sparse, mat };

constexpr const char* kVecOrder =
    "per (4 rows, token): thread i<128 adds p_i += dot4(w,x) over vec4 columns c = i, i+128, ... "
    "(dot4 = ((w0x0 + w1x1) + w2x2) + w3x3, p_i from +0); tree p_i += p_{i+s}, s = 64..1; act(p_0) in f32; "
    "rounded once to y";
constexpr const char* kVecSparseOrder =
    "as matmul_vec, but a vec4 column whose 4 inputs are all +-0 is skipped (equal to dense unless the "
    "skipped weights are Inf/NaN)";
constexpr const char* kMatOrder =
    "per output: acc = +0; acc += dot4(w,x) for vec4 columns c = 0..K/4-1 in order "
    "(dot4 = ((w0x0 + w1x1) + w2x2) + w3x3); act(acc) in f32; rounded once to y";

// A K near `target` that the format accepts and that leaves ragged tails.
int64_t awkward_k(WeightFormat f, int64_t target) {
  switch (f) {
    case WeightFormat::q4_k:
    case WeightFormat::q6_k: return (target + 255) / 256 * 256;
    case WeightFormat::q8_0: return (target + 31) / 32 * 32;
    case WeightFormat::nf4:
    case WeightFormat::sf4: return (target + 7) / 8 * 8;
    default: return (target + 3) / 4 * 4;
  }
}

// N(0, 1) inputs; with zero_quads a third of the vec4 quads are +-0 and some partly zero.
Tensor sample_input(int64_t K, int64_t T, DType dt, Rng& rng, bool zero_quads) {
  Tensor x(dt, Shape(K, T, 1));
  TensorView v = x.view();
  for (int64_t i = 0; i < K * T; ++i) v.set(i, rng.normal());
  if (zero_quads)
    for (int64_t q = 0; q < K * T / 4; ++q) {
      const uint32_t r = rng.next_u32() % 6;
      for (int e = 0; e < (r < 2 ? 4 : r == 2 ? 2 : 0); ++e) v.set(4 * q + e, (rng.next_u32() & 1) ? -0.0f : 0.0f);
    }
  return x;
}

struct MatmulCase {
  int64_t k_target, M, T;
  DType x, y;
};
// Tails: K/4 not a multiple of 128 nor of the lane width (in the larger
// cases above 128, so a thread adds one to three vec4 columns), M % 4 != 0 and
// not a multiple of the mat row tile, T = 1 (decode) and T across the token
// chunks; both dtypes. The smallest first. matmul_mat starts with T = 32, the
// prefill web-rwkv gives it.
constexpr MatmulCase kVecCases[] = {{36, 6, 9, DType::f32, DType::f16},
                                    {516, 5, 1, DType::f16, DType::f32},
                                    {1036, 13, 3, DType::f16, DType::f32},
                                    {1036, 13, 1, DType::f32, DType::f16}};
constexpr MatmulCase kMatCases[] = {{36, 6, 32, DType::f16, DType::f16},
                                    {40, 9, 5, DType::f32, DType::f32},
                                    {300, 9, 33, DType::f16, DType::f32},
                                    {1036, 37, 5, DType::f32, DType::f16}};

std::vector<KernelCase> matmul_cases(MatmulKernel kernel, WeightFormat f, Activation act, uint64_t seed,
                                     WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  const std::span<const MatmulCase> list =
      kernel == MatmulKernel::mat ? std::span<const MatmulCase>(kMatCases) : std::span<const MatmulCase>(kVecCases);
  const bool sparse = kernel == MatmulKernel::vec_sparse;
  for (const MatmulCase& s : list) {
    const int64_t K = awkward_k(f, s.k_target);
    const Matrix w = random_matrix(f, K, s.M, rng.next_u64());
    Tensor x = sample_input(K, s.T, s.x, rng, sparse);
    Tensor y(s.y, Shape(s.M, s.T, 1));
    if (kernel == MatmulKernel::mat) matmul_mat(w, x.view(), y.view(), act);
    else matmul_vec(w, x.view(), y.view(), act, sparse);
    KernelCase c(fmt::format("K {}, M {}, T {}, x {}, y {}{}", K, s.M, s.T, dtype_name(s.x), dtype_name(s.y),
                             sparse ? ", a third of the input quads zero" : ""));
    add_matrix_params(c, w);
    c.param("T", s.T);
    c.param("activation", std::string(activation_name(act)));
    c.param("sparse_input", int64_t(sparse));
    for (CaseTensor& t : matrix_tensors(w, "w_", true)) c.inputs.push_back(std::move(t));
    c.input("x", x);
    CaseTensor& o = c.output("y", y);
    if (oracle == WithOracle::yes) o.f64 = oracle::matmul(w, x.view(), act);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

void register_matmul_kernels(std::vector<KernelVariant>& out) {
  const WeightFormat formats[] = {WeightFormat::fp16, WeightFormat::q4_k, WeightFormat::q6_k, WeightFormat::q8_0,
                                  WeightFormat::int8, WeightFormat::nf4,  WeightFormat::sf4};
  const Activation acts[] = {Activation::none, Activation::tanh, Activation::sigmoid, Activation::squared_relu};
  const struct {
    MatmulKernel kernel;
    const char* name;
    const char* order;
  } kernels[] = {{MatmulKernel::vec, "matmul_vec", kVecOrder},
                 {MatmulKernel::vec_sparse, "matmul_vec_sparse", kVecSparseOrder},
                 {MatmulKernel::mat, "matmul_mat", kMatOrder}};
  for (const auto& k : kernels)
    for (WeightFormat f : formats) {
      for (Activation act : acts) {
        const MatmulKernel kernel = k.kernel;
        out.push_back(make_variant(k.name, std::string(format_name(f)), std::string(activation_name(act)), k.order,
                                   "act(sum_k W[m][k] x[k]) in double on the decoded weights, k in order "
                                   "(oracle/matmul_oracle.h; C library tanh and exp)",
                                   [kernel, f, act](uint64_t seed, WithOracle o) {
                                     return matmul_cases(kernel, f, act, seed, o);
                                   }));
      }
    }
}

}  // namespace rwkv
