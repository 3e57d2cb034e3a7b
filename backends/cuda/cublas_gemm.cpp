// cuBLAS through dlopen (cublas_gemm.h). The few declarations we call are
// written here with cuBLAS's ABI (cublas_api.h of CUDA 12 and 13: the v2
// entry points, enums passed as int), so no cuBLAS header is needed to build.
#include "backends/cuda/cublas_gemm.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace rwkv::cuda {

namespace {
// cublas_api.h / library_types.h values.
constexpr int kOpN = 0, kOpT = 1;                 // cublasOperation_t
constexpr int kR16F = 2, kR32F = 0;               // cudaDataType_t
constexpr int kCompute32F = 68;                   // CUBLAS_COMPUTE_32F
constexpr int kGemmDefault = -1;                  // CUBLAS_GEMM_DEFAULT
constexpr int kDefaultMath = 0, kNoReducedPrecisionReduction = 16;  // cublasMath_t
constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // NVIDIA's advice for Hopper
constexpr float kLoScale = 4096.0f;               // as the built-in kernel's split
}  // namespace

struct CublasLibrary {
  using Handle = void*;
  void* so = nullptr;
  std::string file;
  int version[3] = {0, 0, 0};
  int (*create)(Handle*) = nullptr;
  int (*destroy)(Handle) = nullptr;
  int (*set_stream)(Handle, cudaStream_t) = nullptr;
  int (*set_workspace)(Handle, void*, size_t) = nullptr;
  int (*set_math_mode)(Handle, int) = nullptr;
  int (*get_property)(int, int*) = nullptr;
  int (*gemm_ex)(Handle, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                 const void*, void*, int, int, int, int) = nullptr;
  const char* (*status_name)(int) = nullptr;  // optional (cuBLAS 11.4+)

  std::string status(int s) const {
    return status_name ? fmt::format("{} ({})", status_name(s), s) : fmt::format("status {}", s);
  }
};

namespace {

template <class F> bool sym(void* so, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(so, name));
  return f != nullptr;
}

std::unique_ptr<CublasLibrary> open_library(std::string& why) {
  std::vector<std::string> names;
  if (const char* env = std::getenv("RWKV_ORACLE_CUBLAS"); env && *env) names.push_back(env);
  names.push_back("libcublas.so.13");
  names.push_back("libcublas.so");
  auto lib = std::make_unique<CublasLibrary>();
  std::string tried;
  for (const std::string& n : names) {
    lib->so = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib->so) {
      lib->file = n;
      break;
    }
    const char* e = dlerror();
    tried += fmt::format("{}{}: {}", tried.empty() ? "" : "; ", n, e ? e : "not found");
  }
  if (!lib->so) {
    why = "no cuBLAS library (" + tried + ")";
    return nullptr;
  }
  CublasLibrary& L = *lib;
  const bool ok = sym(L.so, "cublasCreate_v2", L.create) && sym(L.so, "cublasDestroy_v2", L.destroy) &&
                  sym(L.so, "cublasSetStream_v2", L.set_stream) &&
                  sym(L.so, "cublasSetWorkspace_v2", L.set_workspace) &&
                  sym(L.so, "cublasSetMathMode", L.set_math_mode) && sym(L.so, "cublasGetProperty", L.get_property) &&
                  sym(L.so, "cublasGemmEx", L.gemm_ex);
  if (!ok) {
    const char* e = dlerror();
    why = fmt::format("{} lacks a function the backend calls ({})", L.file, e ? e : "dlsym");
    dlclose(L.so);
    return nullptr;
  }
  sym(L.so, "cublasGetStatusName", L.status_name);
  // The file the loader found (for the log: which of several installed copies runs).
  if (struct link_map* lm = nullptr; dlinfo(L.so, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && *lm->l_name)
    L.file = lm->l_name;
  for (int p = 0; p < 3; ++p) L.get_property(p, &L.version[p]);  // MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
  return lib;
}

struct Loaded {
  std::once_flag once;
  std::unique_ptr<CublasLibrary> lib;
  std::string why;
};
Loaded& loaded() {
  static Loaded l;  // never closed: handles may outlive any owner's destructor order
  std::call_once(l.once, [] { l.lib = open_library(l.why); });
  return l;
}

void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess)
    throw std::runtime_error(fmt::format("cuda backend: {}: {} ({})", what, cudaGetErrorName(e), cudaGetErrorString(e)));
}

}  // namespace

const CublasLibrary* cublas_library(std::string* why) {
  Loaded& l = loaded();
  if (!l.lib && why) *why = l.why;
  return l.lib.get();
}

std::string cublas_description() {
  std::string why;
  const CublasLibrary* L = cublas_library(&why);
  if (!L) return why;
  return fmt::format("cuBLAS {}.{}.{} ({})", L->version[0], L->version[1], L->version[2], L->file);
}

CublasGemm::CublasGemm(const CublasLibrary& lib) : lib_(lib) {
  int s = lib_.create(&handle_);
  if (s != 0) throw std::runtime_error("cuda backend: cublasCreate: " + lib_.status(s));
  s = lib_.set_math_mode(handle_, kDefaultMath | kNoReducedPrecisionReduction);
  if (s != 0) throw std::runtime_error("cuda backend: cublasSetMathMode: " + lib_.status(s));
  check(cudaMalloc(&workspace_, kWorkspaceBytes), "allocating the cuBLAS workspace");
  workspace_bytes_ = kWorkspaceBytes;
}

CublasGemm::~CublasGemm() {
  cudaDeviceSynchronize();  // scratch may still be read by queued GEMMs
  for (void* p : {workspace_, hi_, lo_, c32_})
    if (p) cudaFree(p);
  if (handle_) lib_.destroy(handle_);
}

bool CublasGemm::takes(const DevMatrix& w, const Dev& x, const Dev& y) {
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  return x.f16 && x.d0 == w.K && w.K % 16 == 0 && y.d0 == w.M && y.d1 == x.d1 && x.d2 == 1 && y.d2 == 1 &&
         w.K < kMax && w.M < kMax && x.d1 < kMax;
}

void CublasGemm::grow(void*& p, size_t& have, size_t need, const char* what) {
  if (need <= have) return;
  check(cudaDeviceSynchronize(), fmt::format("finishing the GEMMs before growing the {}", what));
  if (p) cudaFree(p);
  p = nullptr;
  have = 0;
  check(cudaMalloc(&p, need), fmt::format("allocating {} bytes for the {}", need, what));
  have = need;
}

void CublasGemm::reserve(const DevMatrix& w, const Dev& x, const Dev& y, Activation act) {
  const size_t mk = size_t(w.M) * size_t(w.K);
  if (w.fmt != Fmt::fp16) grow(hi_, hi_bytes_, mk * 2, "dequantised weights (f16 scratch)");
  if (w.fmt != Fmt::fp16 && !y.f16) grow(lo_, lo_bytes_, mk * 2, "weight residuals (f16 scratch)");
  if (act != Activation::none && y.f16) grow(c32_, c32_bytes_, size_t(w.M) * size_t(x.d1) * 4, "f32 sums (scratch)");
}

void CublasGemm::gemm(cudaStream_t s, int m, int n, int k, float alpha, const void* A, const void* B, float beta,
                      void* C, bool c_f16, const std::string& what) {
  int st = lib_.set_stream(handle_, s);
  if (st == 0) st = lib_.set_workspace(handle_, workspace_, workspace_bytes_);
  if (st != 0) throw std::runtime_error(fmt::format("cuda backend: {}: cublasSetStream/Workspace: {}", what, lib_.status(st)));
  // Column-major: A is W's rows (k x m, ld k) transposed, B = x (k x n), C = y (m x n).
  st = lib_.gemm_ex(handle_, kOpT, kOpN, m, n, k, &alpha, A, kR16F, k, B, kR16F, k, &beta, C, c_f16 ? kR16F : kR32F,
                    m, kCompute32F, kGemmDefault);
  if (st != 0)
    throw std::runtime_error(fmt::format("cuda backend: {}: cublasGemmEx (M={}, K={}, T={}): {}", what, m, k, n,
                                         lib_.status(st)));
}

void CublasGemm::dequantise(const DevMatrix& w, const Dev& y, cudaStream_t s, const std::string& op) {
  if (w.fmt == Fmt::fp16) return;
  const bool split = !y.f16;
  if (hi_bytes_ < size_t(w.M * w.K) * 2 || (split && lo_bytes_ < size_t(w.M * w.K) * 2))
    throw std::logic_error(fmt::format("cuda backend: op {}: GEMM scratch not reserved for this matrix", op));
  dequant_f16(w, static_cast<uint16_t*>(hi_), split ? static_cast<uint16_t*>(lo_) : nullptr, s);
  check(cudaGetLastError(), fmt::format("launching the dequantisation of op {}", op));
}

void CublasGemm::run(const DevMatrix& w, const Dev& x, const Dev& y, Activation act, cudaStream_t s,
                     const std::string& op) {
  const int M = int(w.M), K = int(w.K), T = int(x.d1);
  const bool quantised = w.fmt != Fmt::fp16, split = quantised && !y.f16, epilogue = act != Activation::none;
  dequantise(w, y, s, op);
  const void* A = quantised ? hi_ : static_cast<const void*>(w.data);
  // Where the f32 sums go: y itself unless an activation must see them before an f16 rounding.
  void* C = y.p;
  bool c_f16 = y.f16;
  if (epilogue && y.f16) {
    if (c32_bytes_ < size_t(M) * size_t(T) * 4)
      throw std::logic_error(fmt::format("cuda backend: op {}: GEMM scratch not reserved for this shape", op));
    C = c32_;
    c_f16 = false;
  }
  gemm(s, M, T, K, 1.0f, A, x.p, 0.0f, C, c_f16, "op " + op);
  if (split) gemm(s, M, T, K, 1.0f / kLoScale, lo_, x.p, 1.0f, C, c_f16, "op " + op + " (residuals)");
  if (epilogue) {
    gemm_epilogue(static_cast<const float*>(C), y, act, s);
    check(cudaGetLastError(), fmt::format("launching the activation of op {}", op));
  }
}

void CublasGemm::gemm_f16(const void* A, const void* B, void* C, int m, int n, int k, cudaStream_t s) {
  gemm(s, m, n, k, 1.0f, A, B, 0.0f, C, true, "the peak GEMM");
}

}  // namespace rwkv::cuda
