// Catalog entries of the weight-format codecs: one "quantize" and one
// "dequantize" variant per format. Each sample runs the codec through
// quantize_matrix / blocks::dequantize_matrix on seeded matrices of two
// shapes (for web-rwkv's formats the second one has blocks crossing row ends
// and a short last block) salted with awkward values.
#include <cmath>
#include <limits>
#include <vector>

#include "reference/formats/blocks.h"
#include "reference/formats/quantize_matrix.h"
#include "reference/kernel_catalog.h"
#include "reference/util/rng.h"

namespace rwkv {

namespace {

struct SampleShape {
  int64_t K, M;
};

// Shapes: one of whole 256-value rows for every format; then one with
// awkward tails where the format allows it.
std::vector<SampleShape> sample_shapes(WeightFormat f) {
  if (f == WeightFormat::q4_k || f == WeightFormat::q6_k) return {{512, 3}, {256, 2}};
  if (f == WeightFormat::q8_0) return {{512, 3}, {96, 5}};
  return {{512, 3}, {200, 3}};  // 600 values: Int8 blocks of 128 and NF4 blocks of 64 cross rows, last ones short
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

std::vector<uint8_t> sample_quantize(WeightFormat f, uint64_t seed) {
  std::vector<uint8_t> out;
  for (SampleShape s : sample_shapes(f)) {
    const std::vector<float> w = sample_weights(seed + uint64_t(s.K), s, sample_non_finite(f, false));
    const Matrix mat = quantize_matrix(f, w.data(), s.K, s.M);
    out.insert(out.end(), mat.data, mat.data + mat.data_bytes);
    const auto* meta = reinterpret_cast<const uint8_t*>(mat.meta);
    if (meta) out.insert(out.end(), meta, meta + mat.meta_count * sizeof(f16));
  }
  return out;
}

std::vector<uint8_t> sample_dequantize(WeightFormat f, uint64_t seed) {
  std::vector<uint8_t> out;
  for (SampleShape s : sample_shapes(f)) {
    const std::vector<float> w = sample_weights(seed + uint64_t(s.K), s, sample_non_finite(f, true));
    const Matrix mat = quantize_matrix(f, w.data(), s.K, s.M);
    std::vector<float> y(w.size());
    blocks::dequantize_matrix(mat, y.data());
    append_bytes(out, y);
  }
  return out;
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
    out.push_back({"quantize", std::string(format_name(f)), "-", o.encode,
                   [f](uint64_t seed) { return sample_quantize(f, seed); }});
  }
  for (const FormatOrders& o : kOrders) {
    const WeightFormat f = o.format;
    out.push_back({"dequantize", std::string(format_name(f)), "-", o.decode,
                   [f](uint64_t seed) { return sample_dequantize(f, seed); }});
  }
}

}  // namespace rwkv
