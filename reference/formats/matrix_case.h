#pragma once
// A weight matrix as named tensors of a kernel case (kernel_case.h), for the
// catalog entries of the codecs, the matmuls and the Metal emulation:
//   <prefix>data     u8 [data_bytes]  the format's bytes as the kernels read them
//   <prefix>meta     f16              int8: [blocks, 2] (min, max) per 128 values;
//                                     nf4/sf4: [blocks] absmax per 64 values;
//                                     absent for formats without metadata
//   <prefix>decoded  f32 [M, K]       blocks::dequantize_matrix (if asked for)
// The case gets the parameters "format", "K" and "M" once.
#include <string>
#include <vector>

#include "reference/formats/matrix.h"
#include "reference/kernel_case.h"

namespace rwkv {

std::vector<CaseTensor> matrix_tensors(const Matrix& w, const std::string& prefix, bool decoded);
void add_matrix_params(KernelCase& c, const Matrix& w);

}  // namespace rwkv
