// Catalog entries of the weight-format codecs: one "quantize" and one
// "dequantize" variant per format. Each case runs the codec through
// quantize_matrix / blocks::dequantize_matrix on a seeded matrix (two shapes;
// for web-rwkv's formats the first has blocks crossing row ends and a short
// last block) salted with awkward values.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "reference/formats/blocks.h"
#include "reference/formats/matrix_case.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/kernel_catalog.h"
#include "reference/oracle/format_oracle.h"
#include "reference/util/rng.h"

namespace rwkv {

namespace {

struct SampleShape {
  int64_t K, M;
};

// Shapes, the awkward one first: whole 256-value rows for the K-quants; for
// Q8_0 five rows of three blocks; for web-rwkv's formats 600 values, so Int8
// blocks of 128 and NF4 blocks of 64 cross row ends and the last ones are
// short. Then a larger one of whole 256-value rows for every format.
std::vector<SampleShape> sample_shapes(WeightFormat f) {
  if (f == WeightFormat::q4_k || f == WeightFormat::q6_k) return {{256, 2}, {512, 2}};
  if (f == WeightFormat::q8_0) return {{96, 5}, {512, 2}};
  return {{200, 3}, {512, 2}};
}

// Seeded weights with awkward stretches: a zero run, a constant run, the f16
// maximum, f16-subnormal magnitudes, Q8_0-style rounding ties (a 127 then
// k + 0.5) and repeated maxima of both signs. With non_finite, one NaN and
// one Inf as well (only for codecs whose result for them is pure integer
// logic, so it is the same on every platform).
std::vector<float> sample_weights(uint64_t seed, SampleShape s, bool non_finite) {
  Rng rng(seed);
  const size_t n = size_t(s.K * s.M);
  std::vector<float> w(n);
  for (float& v : w) v = rng.normal();
  for (size_t i = 0; i < n; ++i) {
    const size_t stretch = (i / 32) % 8;
    if (stretch == 1) w[i] = 0.0f;                                      // zeros
    if (stretch == 2) w[i] = -1.25f;                                    // constant
    if (stretch == 3 && i % 32 == 5) w[i] = (i % 64 < 32) ? 65504.0f : -65504.0f;
    if (stretch == 4) w[i] *= 1e-6f;                                    // f16 subnormals
    if (stretch == 5) w[i] = i % 32 == 0 ? 127.0f : float(int(i % 32) - 16) + 0.5f;  // exact ties
    if (stretch == 6 && i % 8 == 0) w[i] = (i % 16 == 0) ? 4.0f : -4.0f;  // equal-magnitude maxima
  }
  if (non_finite && n > 100) {
    w[37] = std::numeric_limits<float>::quiet_NaN();
    w[n - 41] = std::numeric_limits<float>::infinity();
  }
  return w;
}

// NaN and Inf are left out of the K-quant samples: there a NaN goes through
// llama.cpp's float arithmetic into stored scales, carrying the platform's
// default-NaN sign; and out of the decoder samples, where 0 * Inf does too.
bool sample_non_finite(WeightFormat f, bool decode) { return !decode && f != WeightFormat::q4_k && f != WeightFormat::q6_k; }

// A decoded NaN (0 * Inf where a block holds an Inf) carries the platform's
// default-NaN sign; quantize's decoded output stores every NaN as the
// canonical quiet NaN 0x7fc00000 instead.
void canonicalise_nans(CaseTensor& t) {
  for (uint64_t i = 0; i < t.numel(); ++i) {
    float v;
    std::memcpy(&v, t.bytes.data() + 4 * i, 4);
    if (std::isnan(v)) {
      const uint32_t q = 0x7fc00000u;
      std::memcpy(t.bytes.data() + 4 * i, &q, 4);
    }
  }
}

std::string shape_label(SampleShape s) { return fmt::format("K {}, M {}", s.K, s.M); }

// quantize: the f32 weights in; the format's bytes out, and what they decode
// to, whose oracle is the input itself (so its errors are what the format
// loses).
std::vector<KernelCase> quantize_cases(WeightFormat f, uint64_t seed, WithOracle oracle) {
  std::vector<KernelCase> cases;
  const std::vector<SampleShape> shapes = sample_shapes(f);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const SampleShape s = shapes[i];
    // A NaN and an Inf in the second shape only: their decoded values cannot
    // match the input, so that case's errors are Inf, and the first one's
    // errors measure what the format loses on finite weights.
    const bool non_finite = i == 1 && sample_non_finite(f, false);
    const std::vector<float> w = sample_weights(seed + uint64_t(s.K), s, non_finite);
    const Matrix mat = quantize_matrix(f, w.data(), s.K, s.M);
    KernelCase c(shape_label(s) + (non_finite ? ", a NaN and an Inf" : ""));
    add_matrix_params(c, mat);
    c.input("w", ElemType::f32, {uint64_t(s.M), uint64_t(s.K)}, w.data());
    for (CaseTensor& t : matrix_tensors(mat, "", true)) c.outputs.push_back(std::move(t));
    CaseTensor& decoded = c.out("decoded");
    canonicalise_nans(decoded);
    if (oracle == WithOracle::yes) decoded.f64 = to_f64(w);
    cases.push_back(std::move(c));
  }
  return cases;
}

// dequantize: the format's bytes in (from the quantiser), f32 values out.
std::vector<KernelCase> dequantize_cases(WeightFormat f, uint64_t seed, WithOracle oracle) {
  std::vector<KernelCase> cases;
  for (SampleShape s : sample_shapes(f)) {
    const std::vector<float> w = sample_weights(seed + uint64_t(s.K), s, sample_non_finite(f, true));
    const Matrix mat = quantize_matrix(f, w.data(), s.K, s.M);
    KernelCase c(shape_label(s));
    add_matrix_params(c, mat);
    for (CaseTensor& t : matrix_tensors(mat, "", false)) c.inputs.push_back(std::move(t));
    std::vector<float> y(w.size());
    blocks::dequantize_matrix(mat, y.data());
    CaseTensor& out = c.output("w", ElemType::f32, {uint64_t(s.M), uint64_t(s.K)}, y.data());
    if (oracle == WithOracle::yes) out.f64 = oracle::dequantize_f64(mat);
    cases.push_back(std::move(c));
  }
  return cases;
}

struct FormatOrders {
  WeightFormat format;
  const char* encode;
  const char* decode;
};

const FormatOrders kOrders[] = {
    {WeightFormat::q4_k,
     "make_qkx2_quants per 32: sequential f32 sums over i, 21 trial scales, strict <; 6-bit scales; true division on "
     "requantise",
     "x = (f32(d)*sc)*q - f32(dmin)*m, D and M rounded first, unfused"},
    {WeightFormat::q6_k,
     "make_qx_quants rmse 1 per 16: sequential f32 sums over i, 19 trial scales; int8 scales = -128/max_scale; true "
     "division on requantise",
     "x = (f32(d)*sc)*(q - 32), left to right"},
    {WeightFormat::q8_0, "amax over i in order; d = amax/127; q = roundf(x*(1/d)) from the unrounded d",
     "x = q*f32(d)"},
    {WeightFormat::int8,
     "exact min/max per 128 values in memory order; q = floor(0.5 + 255*clamp((x-min)/(max-min))) with stored f16 "
     "min/max",
     "x = (q/255)*(max - min) + min, unfused"},
    {WeightFormat::nf4, "absmax per 64 values in memory order; nearest level to x/absmax, scan 0..15, ties to higher",
     "x = table[q]*f32(absmax)"},
    {WeightFormat::sf4, "absmax per 64 values in memory order; nearest level to x/absmax, scan 0..15, ties to higher",
     "x = table[q]*f32(absmax)"},
    {WeightFormat::fp16, "f32 -> f16 round to nearest, ties to even", "f16 -> f32, exact"},
};

}  // namespace

void register_format_kernels(std::vector<KernelVariant>& out) {
  for (const FormatOrders& o : kOrders) {
    const WeightFormat f = o.format;
    out.push_back(make_variant("quantize", std::string(format_name(f)), "-", o.encode,
                               "data, meta: none (bytes: compare exactly); decoded (its NaNs stored as 0x7fc00000): "
                               "the input weights w, so its errors are what the format loses",
                               [f](uint64_t seed, WithOracle or_) { return quantize_cases(f, seed, or_); }));
  }
  for (const FormatOrders& o : kOrders) {
    const WeightFormat f = o.format;
    out.push_back(make_variant("dequantize", std::string(format_name(f)), "-", o.decode,
                               "each value by the format's formula in double from the stored codes and scales "
                               "(oracle/format_oracle.h)",
                               [f](uint64_t seed, WithOracle or_) { return dequantize_cases(f, seed, or_); }));
  }
}

}  // namespace rwkv
