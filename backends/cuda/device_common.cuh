// Device helpers shared by every kernel file: f16 <-> f32 with the reference's
// exact bit rules (reference/numeric/f16.h, NaN payloads included), typed
// loads and stores, and the canonical math functions (reference/numeric/
// canon_math.inc) written with explicit round-to-nearest intrinsics, so they
// give the reference's bits whether or not the including file contracts FMAs.
//
// No include guard and no namespace of its own: included once inside the
// namespace of each kernel set (kernels_canonical.cu, kernels_fast.cu).

// Element types: f16 activations and weights are kept as their bits.
using h16 = uint16_t;

__device__ __forceinline__ float h2f(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t mag = h & 0x7fffu;
  uint32_t out;
  if (mag >= 0x7c00u) {
    out = 0x7f800000u | (mag & 0x3ffu) << 13;
    if (mag & 0x3ffu) out |= 0x00400000u;
  } else {
    out = __float_as_uint(__fmul_rn(__uint_as_float(mag << 13), 0x1p112f));
  }
  return __uint_as_float(out | sign);
}

__device__ __forceinline__ uint16_t f2h(float f) {
  const uint32_t u = __float_as_uint(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));
  if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00u);
  if (mag >= 0x38800000u) {
    const uint32_t v = mag - 0x38000000u;
    const uint32_t round = 0xfffu + ((v >> 13) & 1u);
    return uint16_t(sign | ((v + round) >> 13));
  }
  if (mag < 0x33000000u) return uint16_t(sign);
  const uint32_t exp = mag >> 23;
  const uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - exp;
  const uint32_t m = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  const uint32_t up = (rem > half || (rem == half && (m & 1u))) ? 1u : 0u;
  return uint16_t(sign | (m + up));
}

__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const h16* p, int64_t i) { return h2f(p[i]); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(h16* p, int64_t i, float v) { p[i] = f2h(v); }

// ---- canonical math (canon_math.inc), every operation rounded on its own ----
__device__ __forceinline__ float cmax(float a, float b) { return a > b ? a : b; }
__device__ __forceinline__ float cmin(float a, float b) { return a < b ? a : b; }
__device__ __forceinline__ float cabs(float x) { return __uint_as_float(__float_as_uint(x) & 0x7fffffffu); }
__device__ __forceinline__ float pow2i(int32_t n) { return __int_as_float((n + 127) << 23); }

__device__ __forceinline__ float canon_exp(float x) {
  const float magic = 12582912.0f;
  const float xc = cmin(cmax(x, -104.0f), 89.0f);
  const float t = __fadd_rn(__fmul_rn(xc, 1.44269504088896341f), magic);
  const float nf = __fsub_rn(t, magic);
  const int32_t n = __float_as_int(t) - __float_as_int(magic);
  float r = __fsub_rn(xc, __fmul_rn(nf, 0.693359375f));
  r = __fsub_rn(r, __fmul_rn(nf, -2.12194440e-4f));
  float p = 1.9875691500e-4f;
  p = __fadd_rn(__fmul_rn(p, r), 1.3981999507e-3f);
  p = __fadd_rn(__fmul_rn(p, r), 8.3334519073e-3f);
  p = __fadd_rn(__fmul_rn(p, r), 4.1665795894e-2f);
  p = __fadd_rn(__fmul_rn(p, r), 1.6666665459e-1f);
  p = __fadd_rn(__fmul_rn(p, r), 5.0000001201e-1f);
  float y = __fadd_rn(__fadd_rn(__fmul_rn(p, __fmul_rn(r, r)), r), 1.0f);
  const int32_t n1 = n >> 1;
  const int32_t n2 = n - n1;
  y = __fmul_rn(y, pow2i(n1));
  y = __fmul_rn(y, pow2i(n2));
  y = x > 89.0f ? __int_as_float(0x7f800000) : y;
  return x == x ? y : x;
}

__device__ __forceinline__ float canon_tanh(float x) {
  const float a = cabs(x);
  const float z = __fmul_rn(a, a);
  float p = -5.70498872745e-3f;
  p = __fadd_rn(__fmul_rn(p, z), 2.06390887954e-2f);
  p = __fadd_rn(__fmul_rn(p, z), -5.37397155531e-2f);
  p = __fadd_rn(__fmul_rn(p, z), 1.33314422036e-1f);
  p = __fadd_rn(__fmul_rn(p, z), -3.33332819422e-1f);
  const float small = __fadd_rn(__fmul_rn(__fmul_rn(p, z), a), a);
  const float e = canon_exp(__fadd_rn(a, a));
  const float big = __fsub_rn(1.0f, __fdiv_rn(2.0f, __fadd_rn(e, 1.0f)));
  const float t = a < 0.625f ? small : big;
  float y = __uint_as_float(__float_as_uint(t) | (__float_as_uint(x) & 0x80000000u));
  y = x > 42.0f ? 1.0f : y;
  return x == x ? y : x;
}

__device__ __forceinline__ float canon_sigmoid(float x) {
  const float e = canon_exp(__fsub_rn(0.0f, cabs(x)));
  const float pos = __fdiv_rn(1.0f, __fadd_rn(1.0f, e));
  const float neg = __fdiv_rn(e, __fadd_rn(1.0f, e));
  return x < 0.0f ? neg : pos;
}

__device__ __forceinline__ float canon_rsqrt(float x) { return __fdiv_rn(1.0f, __fsqrt_rn(x)); }

__device__ __forceinline__ float canon_squared_relu(float x) {
  const float r = x > 0.0f ? x : 0.0f;
  return x == x ? __fmul_rn(r, r) : x;
}

// Activation codes as rwkv::Activation: none, tanh, sigmoid, squared_relu.
__device__ __forceinline__ float activate(int act, float x) {
  switch (act) {
    case 1: return canon_tanh(x);
    case 2: return canon_sigmoid(x);
    case 3: return canon_squared_relu(x);
    default: return x;
  }
}

// Grid-stride loop bounds for flat element-wise kernels.
__device__ __forceinline__ int64_t flat_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t flat_stride() { return int64_t(gridDim.x) * blockDim.x; }

// Programmatic dependent launch (sm_90): with the `pdl` option, kernels are
// launched with programmatic stream serialisation, so the next kernel's launch
// overlaps this one's run; every kernel waits for its predecessor's completion
// (and memory) before touching global memory, then lets its successor launch.
// Without the launch attribute both instructions are no-ops.
__device__ __forceinline__ void pdl_enter() {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether this kernel set launches with programmatic stream serialisation.
inline bool& pdl_enabled() {
  static bool on = false;
  return on;
}
inline void set_pdl(bool on) { pdl_enabled() = on; }

// kernel<<<grid, block, smem, s>>>(args...), with the PDL attribute when enabled.
template <class... P, class... A>
inline void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, A... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  cudaLaunchKernelEx(&cfg, kernel, static_cast<P>(args)...);
}
