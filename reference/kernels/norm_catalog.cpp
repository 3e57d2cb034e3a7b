// Catalog entries of the normalisation kernels (norm.h). The cases use row
// lengths that are not multiples of the workgroup's 4*BS channels (threads
// with fewer vec4s, lane tails), head sizes 64 and 128 first, both activation
// types, in place and not. Oracles: oracle/norm_oracle.h (two-pass mean and
// variance in double, the same eps widened from f32).
#include <fmt/format.h>

#include "reference/kernel_catalog.h"
#include "reference/kernels/activation_samples.h"
#include "reference/kernels/norm.h"
#include "reference/oracle/norm_oracle.h"

namespace rwkv {
namespace {

struct NormShape {
  int64_t C, T;
  DType in, out;
  int64_t head;  // head size for group_norm and l2_norm
  bool in_place;
};
constexpr NormShape kShapes[] = {
    {192, 3, DType::f16, DType::f16, 64, false},
    {384, 2, DType::f32, DType::f32, 128, true},
    {260, 2, DType::f16, DType::f32, 20, false},
    {516, 3, DType::f16, DType::f16, 12, true},
    {1028, 2, DType::f32, DType::f32, 4, false},
    {4096, 1, DType::f32, DType::f16, 64, false},
};

enum class NormKind { layer, group, l2 };

float eps_of(NormKind k) {
  return k == NormKind::layer ? kLayerNormEps : k == NormKind::group ? kGroupNormEps : kL2NormEps;
}

std::vector<KernelCase> norm_cases(NormKind kind, uint64_t seed, WithOracle oracle) {
  Rng rng(seed);
  std::vector<KernelCase> cases;
  const float eps = eps_of(kind);
  for (const NormShape& s : kShapes) {
    const float scale = rng.uniform(0.1f, 4);  // one rng call per statement: argument
    const float offset = rng.uniform(-2, 2);   // evaluation order differs between compilers
    Tensor x = samples::normal_tensor(rng, s.in, Shape(s.C, s.T), scale, offset);
    const auto w = samples::uniform_f16(rng, s.C, -2, 2);
    const auto b = samples::uniform_f16(rng, s.C, -1, 1);
    KernelCase c(fmt::format("C {}, T {}, {} -> {}{}{}", s.C, s.T, dtype_name(s.in), dtype_name(s.out),
                             kind == NormKind::layer ? "" : fmt::format(", head size {}", s.head),
                             s.in_place ? ", in place" : ""));
    c.param("eps", double(eps));
    if (kind != NormKind::layer) c.param("head_size", s.head);
    c.param("in_place", int64_t(s.in_place));
    c.input("x", x);
    if (kind != NormKind::l2) {
      c.input_f16("w", w);
      c.input_f16("b", b);
    }
    // The oracle reads the input, so it runs first (the kernel may work in place).
    std::vector<double> want;
    if (oracle == WithOracle::yes) {
      if (kind == NormKind::layer) want = oracle::layer_norm(x.view(), w.data(), b.data(), eps);
      if (kind == NormKind::group) want = oracle::group_norm(x.view(), w.data(), b.data(), s.head, eps);
      if (kind == NormKind::l2) want = oracle::l2_norm(x.view(), s.head, eps);
    }
    Tensor out_tensor(s.out, x.shape);
    Tensor& y = s.in_place ? x : out_tensor;
    if (kind == NormKind::layer) layer_norm(x.view(), y.view(), w.data(), b.data(), eps);
    if (kind == NormKind::group) group_norm(x.view(), y.view(), w.data(), b.data(), s.head, eps);
    if (kind == NormKind::l2) l2_norm(x.view(), y.view(), s.head, eps);
    c.output("y", y).f64 = std::move(want);
    cases.push_back(std::move(c));
  }
  return cases;
}

KernelVariant norm_entry(const char* name, NormKind kind, const char* order, const char* oracle) {
  return make_variant(name, "-", "-", order, oracle,
                      [kind](uint64_t seed, WithOracle o) { return norm_cases(kind, seed, o); });
}

}  // namespace

void register_norm_kernels(std::vector<KernelVariant>& out) {
  out.push_back(norm_entry("layer_norm", NormKind::layer,
                           "BS=128 per row; per-thread Welford per vec4 lane over i, i+BS, ...; Chan tree 64..1; "
                           "lane fold x,y,z,w; rstd=1/sqrt(M2/C+eps); y=((x-mean)*rstd)*w+b unfused",
                           "(x - mean)/sqrt(var + eps)*w + b per row in double, two-pass mean and variance"));
  out.push_back(norm_entry("group_norm", NormKind::group,
                           "BS=32 per (head, token); as layer_norm; strides 64, 32 merge empty (n=0) out-of-range "
                           "states",
                           "layer norm per (head, token) row of head_size channels in double, two-pass"));
  out.push_back(norm_entry("l2_norm", NormKind::l2,
                           "BS=128 per (head, token); per-thread sum v*v over i, i+BS, ...; tree 64..1; "
                           "lanes x+y+z+w; y=x*(1/sqrt(sum+eps))",
                           "x/sqrt(sum x^2 + eps) per (head, token) row in double"));
}

}  // namespace rwkv
