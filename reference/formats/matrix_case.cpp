#include "reference/formats/matrix_case.h"

#include "reference/formats/blocks.h"

namespace rwkv {

std::vector<CaseTensor> matrix_tensors(const Matrix& w, const std::string& prefix, bool decoded) {
  blocks::validate_matrix(w, "matrix_tensors");
  KernelCase c;  // a scratch case collects the copies
  c.input(prefix + "data", ElemType::u8, {w.data_bytes}, w.data);
  if (w.meta) {
    const bool pairs = w.format == WeightFormat::int8;
    c.input(prefix + "meta", ElemType::f16, pairs ? Dims{w.meta_count / 2, 2} : Dims{w.meta_count}, w.meta);
  }
  if (decoded) {
    std::vector<float> v(size_t(w.K * w.M));
    blocks::dequantize_matrix(w, v.data());
    c.input(prefix + "decoded", ElemType::f32, {uint64_t(w.M), uint64_t(w.K)}, v.data());
  }
  return std::move(c.inputs);
}

void add_matrix_params(KernelCase& c, const Matrix& w) {
  c.param("format", std::string(format_name(w.format)));
  c.param("K", w.K);
  c.param("M", w.M);
}

}  // namespace rwkv
