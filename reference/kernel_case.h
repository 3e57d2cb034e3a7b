#pragma once
// One run of a kernel variant on seeded inputs, described as named tensors:
// its inputs, its outputs (the reference's exact bits) and, for each output
// that has one, the float64 oracle's values. Each kernel family writes its
// cases once (reference/*/..._catalog.cpp); from them come both the catalog's
// `sample` bytes (digest, determinism tests, GCC-vs-Clang comparison) and the
// per-kernel test vectors (`rwkv-oracle vectors`, vectors/KERNEL_VECTORS.md),
// so the two cannot drift apart.
//
// Tensors are stored as the kernels hold them, with numpy-order dims (slowest
// first): an activation [d0, d1, d2] (d0 contiguous, reference/tensor.h) has
// dims {d2, d1, d0}.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "reference/numeric/f16.h"
#include "reference/tensor.h"

namespace rwkv {

// Element types of case tensors (little-endian).
enum class ElemType : uint8_t { f16, f32, u8, u32 };
const char* elem_type_name(ElemType t);
size_t elem_size(ElemType t);

using Dims = std::vector<uint64_t>;
// [d0, d1, d2] -> {d2, d1, d0}.
inline Dims numpy_order(const Shape& s) { return {uint64_t(s[2]), uint64_t(s[1]), uint64_t(s[0])}; }

struct CaseTensor {
  std::string name;
  ElemType type = ElemType::f32;
  Dims dims;
  std::vector<uint8_t> bytes;  // numel() elements of `type`
  // Outputs only: the float64 oracle, one value per element (empty: no oracle,
  // or oracles were not asked for).
  std::vector<double> f64;

  uint64_t numel() const;
  // Element i widened exactly to double.
  double value(uint64_t i) const;
};

struct CaseParam {
  std::string name;
  std::variant<int64_t, double, std::string> value;  // f32 parameters are stored widened (exactly)
};

struct KernelCase {
  std::string label;  // shapes and dtypes in a few words, e.g. "C 516, T 3, f16 -> f16, in place"
  std::vector<CaseParam> params;
  std::vector<CaseTensor> inputs;
  std::vector<CaseTensor> outputs;

  explicit KernelCase(std::string l = {}) : label(std::move(l)) {}

  KernelCase& param(std::string name, int64_t v);
  KernelCase& param(std::string name, double v);
  KernelCase& param(std::string name, std::string v);
  KernelCase& param(std::string name, const char* v) { return param(std::move(name), std::string(v)); }

  // Copies of the data as they are now (call before an in-place kernel runs).
  CaseTensor& input(std::string name, const Tensor& t);
  CaseTensor& input(std::string name, ElemType type, Dims dims, const void* data);
  CaseTensor& input_f16(std::string name, std::span<const f16> v) {
    return input(std::move(name), ElemType::f16, {v.size()}, v.data());
  }
  CaseTensor& output(std::string name, const Tensor& t);
  CaseTensor& output(std::string name, ElemType type, Dims dims, const void* data);
  // The output named `name` (std::logic_error if there is none).
  CaseTensor& out(const std::string& name);
};

// Whether a family computes the float64 oracles of its outputs (the digest
// and the determinism tests do not need them).
enum class WithOracle : bool { no, yes };

// A family's cases of one variant, from a seed. Must be deterministic.
using CaseFn = std::function<std::vector<KernelCase>(uint64_t seed, WithOracle oracle)>;

// Every input and output byte of the cases, in order: the catalog's sample.
std::vector<uint8_t> case_bytes(const std::vector<KernelCase>& cases);

// The reference's distance from its float64 oracle over one output
// (vectors/SCHEMA.md): max |ref - f64| and, over elements with f64 != 0,
// max |ref - f64| / |f64|. Non-finite values:
//   - both NaN, or the same infinity: 0;
//   - ref = +-Inf where f64 is finite but overflows the output type when
//     rounded to it (f16 beyond 65520, f32 beyond FLT_MAX + half an ulp):
//     0, the overflow is the correct rounding;
//   - any other pair with a NaN or an infinity: +Inf.
// Both are 0 for an empty output. Throws std::logic_error if the output has
// no oracle values or is not f16 or f32.
struct OracleErrors {
  double max_abs = 0;
  double max_rel = 0;
};
OracleErrors oracle_errors(const CaseTensor& out);
// The same for one element of an output of type `t` (f16 or f32).
double element_abs_error(double ref, double f64, ElemType t);

// Oracle values helper: an f64 vector from any range of numbers.
template <class Range> std::vector<double> to_f64(const Range& r) { return std::vector<double>(r.begin(), r.end()); }

}  // namespace rwkv
