#pragma once
// Included first by every *.simd.cpp. Opens nothing; defines, for the variant
// this translation unit is being compiled as (see reference/CMakeLists.txt):
//   RWKV_SIMD_NS    the namespace name (simd_scalar, simd_sse42, ...)
//   rwkv::RWKV_SIMD_NS::Lane   float or xsimd::batch<float, Arch>
// and the lane primitives and canonical math inside that namespace.
//
// Rule for *.simd.cpp files: write the kernel body inside
//   namespace rwkv::RWKV_SIMD_NS { ... }
// over the type Lane, using raw pointers and the lane_* primitives. Do not
// instantiate std:: containers or algorithms there: their out-of-line copies
// could be compiled with AVX-512 and then shared with the scalar path.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include "reference/numeric/f16.h"
#include "reference/kernels/activation.h"

#if defined(RWKV_SIMD_VARIANT_scalar)
#define RWKV_SIMD_NS simd_scalar
#elif defined(RWKV_SIMD_VARIANT_sse42)
#define RWKV_SIMD_NS simd_sse42
#define RWKV_LANES_XSIMD 1
#define RWKV_XSIMD_ARCH xsimd::sse4_2
#elif defined(RWKV_SIMD_VARIANT_avx2)
#define RWKV_SIMD_NS simd_avx2
#define RWKV_LANES_XSIMD 1
#define RWKV_XSIMD_ARCH xsimd::avx2
#elif defined(RWKV_SIMD_VARIANT_avx512)
#define RWKV_SIMD_NS simd_avx512
#define RWKV_LANES_XSIMD 1
#define RWKV_XSIMD_ARCH xsimd::avx512bw
#else
#error "reference/simd/variant.h is only for *.simd.cpp files (built per SIMD variant)"
#endif

#ifdef RWKV_LANES_XSIMD
#include <immintrin.h>
#include <xsimd/xsimd.hpp>
#endif

namespace rwkv::RWKV_SIMD_NS {
#include "reference/simd/lane_ops.inc"
#include "reference/numeric/canon_math.inc"
#ifdef RWKV_LANES_XSIMD
using Lane = xsimd::batch<float, RWKV_XSIMD_ARCH>;
#else
using Lane = float;
#endif
constexpr int kLanes = lane_width<Lane>;
}  // namespace rwkv::RWKV_SIMD_NS
