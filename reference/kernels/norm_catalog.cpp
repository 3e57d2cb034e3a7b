// Catalog entries of the normalisation kernels (norm.h). Each sample runs a few
// row lengths that are not multiples of the workgroup's 4*BS channels (threads
// with fewer vec4s, lane tails), both activation types, in place and not.
#include "reference/kernel_catalog.h"
#include "reference/kernels/activation_samples.h"
#include "reference/kernels/norm.h"

namespace rwkv {
namespace {

struct NormShape {
  int64_t C, T;
  DType in, out;
  int64_t head;  // head size for group_norm and l2_norm
  bool in_place;
};
constexpr NormShape kShapes[] = {
    {516, 3, DType::f16, DType::f16, 12, true},
    {1028, 2, DType::f32, DType::f32, 4, false},
    {260, 2, DType::f16, DType::f32, 20, false},
    {4096, 1, DType::f32, DType::f16, 64, false},
    {384, 2, DType::f32, DType::f32, 128, true},
    {192, 3, DType::f16, DType::f16, 64, false},
};

template <class Run> std::vector<uint8_t> norm_sample(uint64_t seed, Run run) {
  Rng rng(seed);
  std::vector<uint8_t> bytes;
  for (const NormShape& s : kShapes) {
    const float scale = rng.uniform(0.1f, 4);  // one rng call per statement: argument
    const float offset = rng.uniform(-2, 2);   // evaluation order differs between compilers
    Tensor x = samples::normal_tensor(rng, s.in, Shape(s.C, s.T), scale, offset);
    const auto w = samples::uniform_f16(rng, s.C, -2, 2);
    const auto b = samples::uniform_f16(rng, s.C, -1, 1);
    if (s.in_place) {
      run(x.view(), x.view(), w.data(), b.data(), s.head);
      samples::append_tensor(bytes, x);
    } else {
      Tensor out(s.out, x.shape);
      run(x.view(), out.view(), w.data(), b.data(), s.head);
      samples::append_tensor(bytes, out);
    }
  }
  return bytes;
}

}  // namespace

void register_norm_kernels(std::vector<KernelVariant>& out) {
  using V = const TensorView&;
  out.push_back({"layer_norm", "-", "-",
                 "BS=128 per row; per-thread Welford per vec4 lane over i, i+BS, ...; Chan tree 64..1; "
                 "lane fold x,y,z,w; rstd=1/sqrt(M2/C+eps); y=((x-mean)*rstd)*w+b unfused",
                 [](uint64_t seed) {
                   return norm_sample(seed, [](V x, V y, const f16* w, const f16* b, int64_t) {
                     layer_norm(x, y, w, b);
                   });
                 }});
  out.push_back({"group_norm", "-", "-",
                 "BS=32 per (head, token); as layer_norm; strides 64, 32 merge empty (n=0) out-of-range states",
                 [](uint64_t seed) {
                   return norm_sample(seed, [](V x, V y, const f16* w, const f16* b, int64_t head) {
                     group_norm(x, y, w, b, head);
                   });
                 }});
  out.push_back({"l2_norm", "-", "-",
                 "BS=128 per (head, token); per-thread sum v*v over i, i+BS, ...; tree 64..1; "
                 "lanes x+y+z+w; y=x*(1/sqrt(sum+eps))",
                 [](uint64_t seed) {
                   return norm_sample(seed, [](V x, V y, const f16*, const f16*, int64_t head) {
                     l2_norm(x, y, head);
                   });
                 }});
}

}  // namespace rwkv
