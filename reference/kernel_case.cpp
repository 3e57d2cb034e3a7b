#include "reference/kernel_case.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/oracle/oracle_round.h"

namespace rwkv {

const char* elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::f16: return "f16";
    case ElemType::f32: return "f32";
    case ElemType::u8: return "u8";
    case ElemType::u32: return "u32";
  }
  return "?";
}

size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::f16: return 2;
    case ElemType::f32: return 4;
    case ElemType::u8: return 1;
    case ElemType::u32: return 4;
  }
  return 0;
}

uint64_t CaseTensor::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

double CaseTensor::value(uint64_t i) const {
  const uint8_t* p = bytes.data() + i * elem_size(type);
  switch (type) {
    case ElemType::f16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      return f16_bits_to_f32(h);
    }
    case ElemType::f32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case ElemType::u8: return *p;
    case ElemType::u32: {
      uint32_t u;
      std::memcpy(&u, p, 4);
      return u;
    }
  }
  return 0;
}

KernelCase& KernelCase::param(std::string name, int64_t v) {
  params.push_back({std::move(name), v});
  return *this;
}
KernelCase& KernelCase::param(std::string name, double v) {
  params.push_back({std::move(name), v});
  return *this;
}
KernelCase& KernelCase::param(std::string name, std::string v) {
  params.push_back({std::move(name), std::move(v)});
  return *this;
}

namespace {

CaseTensor make_tensor(std::string name, ElemType type, Dims dims, const void* data) {
  CaseTensor t;
  t.name = std::move(name);
  t.type = type;
  t.dims = std::move(dims);
  const size_t n = size_t(t.numel()) * elem_size(type);
  const auto* p = static_cast<const uint8_t*>(data);
  t.bytes.assign(p, p + n);
  return t;
}

ElemType elem_type_of(DType t) { return t == DType::f16 ? ElemType::f16 : ElemType::f32; }

}  // namespace

CaseTensor& KernelCase::input(std::string name, const Tensor& t) {
  return input(std::move(name), elem_type_of(t.dtype), numpy_order(t.shape), t.bytes.data());
}
CaseTensor& KernelCase::input(std::string name, ElemType type, Dims dims, const void* data) {
  inputs.push_back(make_tensor(std::move(name), type, std::move(dims), data));
  return inputs.back();
}
CaseTensor& KernelCase::output(std::string name, const Tensor& t) {
  return output(std::move(name), elem_type_of(t.dtype), numpy_order(t.shape), t.bytes.data());
}
CaseTensor& KernelCase::output(std::string name, ElemType type, Dims dims, const void* data) {
  outputs.push_back(make_tensor(std::move(name), type, std::move(dims), data));
  return outputs.back();
}

CaseTensor& KernelCase::out(const std::string& name) {
  for (CaseTensor& t : outputs)
    if (t.name == name) return t;
  throw std::logic_error(fmt::format("kernel case '{}': no output named '{}'", label, name));
}

std::vector<uint8_t> case_bytes(const std::vector<KernelCase>& cases) {
  std::vector<uint8_t> out;
  for (const KernelCase& c : cases) {
    for (const CaseTensor& t : c.inputs) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    for (const CaseTensor& t : c.outputs) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  }
  return out;
}

double element_abs_error(double ref, double f64, ElemType t) {
  if (std::isfinite(ref) && std::isfinite(f64)) return std::fabs(ref - f64);
  if (std::isnan(ref) && std::isnan(f64)) return 0.0;
  if (ref == f64) return 0.0;  // the same infinity
  if (std::isinf(ref) && std::isfinite(f64)) {
    const double rounded = t == ElemType::f16 ? oracle::round_to_f16(f64) : double(float(f64));
    if (rounded == ref) return 0.0;  // overflow to Inf is the correct rounding
  }
  return INFINITY;
}

OracleErrors oracle_errors(const CaseTensor& out) {
  if (out.f64.size() != out.numel())
    throw std::logic_error(fmt::format("output '{}': {} oracle values for {} elements", out.name, out.f64.size(),
                                       out.numel()));
  if (out.type != ElemType::f16 && out.type != ElemType::f32)
    throw std::logic_error(fmt::format("output '{}': an oracle for a {} output", out.name, elem_type_name(out.type)));
  OracleErrors e;
  for (uint64_t i = 0; i < out.numel(); ++i) {
    const double want = out.f64[size_t(i)];
    const double err = element_abs_error(out.value(i), want, out.type);
    e.max_abs = std::max(e.max_abs, err);
    // err is 0 or +Inf wherever `want` is not finite, so the ratio is only
    // formed for finite, non-zero oracle values.
    if (want != 0.0) e.max_rel = std::max(e.max_rel, err == 0.0 || std::isinf(err) ? err : err / std::fabs(want));
  }
  return e;
}

}  // namespace rwkv
