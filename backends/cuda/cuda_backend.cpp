// The CUDA backend's host side (cuda_backend.h): weights, buffers, op
// resolution, submission strategies. The kernels are in kernels_*.cu.
#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "backends/cuda/cublas_gemm.h"
#include "backends/cuda/kernels.h"
#include "reference/formats/blocks.h"
#include "reference/plan/dependencies.h"

namespace rwkv::backends {

using cuda::Dev;
using cuda::DevCursor;
using cuda::DevMatrix;
using cuda::DevState;
using plan::Kernel;

static_assert(sizeof(DevCursor) == sizeof(Cursor) && alignof(DevCursor) == alignof(Cursor));

namespace {

[[noreturn]] void fail(cudaError_t e, const std::string& what) {
  throw std::runtime_error(fmt::format("cuda backend: {}: {} ({})", what, cudaGetErrorName(e), cudaGetErrorString(e)));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}
void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) fail(e, what);
}

constexpr size_t kAlign = 256;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

cuda::Fmt fmt_of(WeightFormat f) { return cuda::Fmt(uint8_t(f)); }
static_assert(uint8_t(WeightFormat::sf4) == uint8_t(cuda::Fmt::sf4));

// One device allocation split into aligned pieces.
struct Arena {
  void* base = nullptr;
  size_t size = 0;
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() { reset(); }
  void reset() {
    if (base) cudaFree(base);
    base = nullptr;
    size = 0;
  }
  void allocate(size_t bytes, const std::string& what) {
    reset();
    check(cudaMalloc(&base, std::max<size_t>(bytes, kAlign)), fmt::format("allocating {} bytes for {}", bytes, what));
    size = bytes;
    check(cudaMemset(base, 0, std::max<size_t>(bytes, kAlign)), fmt::format("zeroing {}", what));
  }
  uint8_t* at(size_t offset) const { return static_cast<uint8_t*>(base) + offset; }
};

// A plan buffer on the device.
struct DevBuf {
  Dev dev;
  DType dtype = DType::f32;
  size_t bytes() const { return size_t(dev.numel()) * dtype_size(dtype); }
};

// One op with every argument resolved to device pointers.
struct Resolved {
  Kernel kind = Kernel::blit;
  std::string name;
  int64_t layer = -1;
  Dev in[4];
  Dev out;
  Dev vec;  // weights[0] as an f16 tensor (token_shift mu, binary operand)
  const uint16_t* w0 = nullptr;
  const uint16_t* w1 = nullptr;
  DevMatrix mat;
  DevState state;
  Activation act = Activation::none;
  float eps = 0, scale = 1, bias = 0;
  int64_t head_size = 0, state_row = -1, in_offset = 0, out_offset = 0, count = 0;
  bool sparse = false, use_vec = false;
};

// A merged launch: ops [begin, end) as one kernel (kernels.h, kernels_merged.cuh).
struct Merged {
  enum class Kind { epilogue, norm_shift, time_mix_tail } kind = Kind::epilogue;
  size_t end = 0;
  cuda::Epilogue epilogue;
  cuda::NormShift norm_shift;
  cuda::TimeMixTail tail;
};

// Buffers, resolved ops and graphs of one plan shape.
struct StepShape {
  std::string key;
  Arena arena;
  std::map<std::string, DevBuf> buffers;
  DevCursor* cursors = nullptr;
  uint32_t* tokens = nullptr;
  size_t io_bytes = 0;
  int64_t T = 0;
  std::vector<Resolved> ops;
  // dag: per op, the earlier ops it must follow (plan/dependencies.h, plus the
  // chain of mat-path matmuls, which share the GEMM scratch and cuBLAS workspace).
  std::vector<std::vector<uint32_t>> producers;
  // fuse: per op, its index in `chain` (the descriptors of every op a chain
  // may hold, in plan order, on the device), or -1.
  std::vector<int32_t> chain_at;
  Arena chain;
  // merge: the merged launches (kernels.h), by the op each begins at.
  std::map<size_t, Merged> merged;
  std::map<std::pair<size_t, size_t>, cudaGraphExec_t> graphs;
  bool gemm_reserved = false;  // the cuBLAS scratch covers this shape's mat-path matmuls
  ~StepShape() {
    for (auto& [range, exec] : graphs) cudaGraphExecDestroy(exec);
  }
};

constexpr size_t kMaxGraphsPerShape = 4096;
// dag: streams besides the step's that a capture may fork onto: room for the
// independent chains after a layer's token shifts (the r, k and v matmuls and
// the w, a, g and v LoRA paths) to run side by side.
constexpr int kDagSideStreams = 7;
constexpr size_t kMaxShapes = 8;

std::string shape_key(const plan::Plan& p) {
  std::string k = fmt::format("T={};ops={};out=", p.T, p.ops.size());
  for (const plan::TokenRun& r : p.outputs) k += fmt::format("{}+{},", r.first, r.count);
  return k;
}

}  // namespace

CudaOptions parse_cuda_backend_name(const std::string& name) {
  CudaOptions o;
  if (name == "cuda") return o;
  if (name.rfind("cuda:", 0) != 0)
    throw std::invalid_argument(fmt::format("'{}' is not a cuda backend name (expected cuda or cuda:OPTIONS)", name));
  std::string rest = name.substr(5);
  size_t at = 0;
  bool strategy_set = false;
  while (at <= rest.size()) {
    const size_t comma = rest.find(',', at);
    const std::string opt = rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? rest.size() + 1 : comma + 1;
    auto set = [&](CudaStrategy s) {
      if (strategy_set) throw std::invalid_argument(fmt::format("backend '{}': more than one strategy", name));
      strategy_set = true;
      o.strategy = s;
    };
    if (opt == "op") set(CudaStrategy::op);
    else if (opt == "layer") set(CudaStrategy::layer);
    else if (opt == "token") set(CudaStrategy::token);
    else if (opt == "graph") set(CudaStrategy::graph);
    else if (opt == "canonical") o.canonical = true;
    else if (opt == "pdl") o.pdl = true;
    else if (opt == "wmma") o.wmma = true;
    else if (opt == "dag") o.dag = true;
    else if (opt == "fuse") o.fuse = true;
    else if (opt == "merge") o.merge = true;
    else if (opt.rfind("inflight=", 0) == 0) {
      set(CudaStrategy::inflight);
      const std::string n = opt.substr(9);
      char* end = nullptr;
      const long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 1 || v > 8)
        throw std::invalid_argument(fmt::format("backend '{}': inflight={}: expected a count from 1 to 8", name, n));
      o.in_flight = int(v);
    } else if (opt.rfind("device=", 0) == 0) {
      const std::string n = opt.substr(7);
      char* end = nullptr;
      const long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 0 || v > 63)
        throw std::invalid_argument(fmt::format("backend '{}': device={}: expected a device index", name, n));
      o.device = int(v);
    } else {
      throw std::invalid_argument(fmt::format("backend '{}': unknown option '{}' (expected op, layer, token, graph, "
                                              "inflight=N, canonical, pdl, wmma, dag, fuse, merge, device=I)",
                                              name, opt));
    }
  }
  if (o.dag && o.strategy != CudaStrategy::graph)
    throw std::invalid_argument(fmt::format("backend '{}': dag shapes the captured graph: it needs the graph strategy "
                                            "(cuda:graph,dag)",
                                            name));
  return o;
}

const char* strategy_name(CudaStrategy s) {
  switch (s) {
    case CudaStrategy::op: return "op";
    case CudaStrategy::layer: return "layer";
    case CudaStrategy::token: return "token";
    case CudaStrategy::graph: return "graph";
    case CudaStrategy::inflight: return "inflight";
  }
  return "?";
}

std::string cuda_backend_name(const CudaOptions& o) {
  std::string s = fmt::format("cuda:{}", strategy_name(o.strategy));
  if (o.strategy == CudaStrategy::inflight) s += fmt::format("={}", o.in_flight);
  if (o.canonical) s += ",canonical";
  if (o.pdl) s += ",pdl";
  if (o.wmma) s += ",wmma";
  if (o.dag) s += ",dag";
  if (o.fuse) s += ",fuse";
  if (o.merge) s += ",merge";
  if (o.device != 0) s += fmt::format(",device={}", o.device);
  return s;
}

bool cuda_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = fmt::format("no usable CUDA driver or device ({}: {})", cudaGetErrorName(e), cudaGetErrorString(e));
    cudaGetLastError();
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
    if (why) *why = "cudaGetDeviceProperties failed on device 0";
    cudaGetLastError();
    return false;
  }
  if (p.major * 10 + p.minor < 75) {
    if (why)
      *why = fmt::format("device 0 ({}) has compute capability {}.{}; this build runs on 7.5 and later", p.name,
                         p.major, p.minor);
    return false;
  }
  return true;
}

std::string cuda_device_description(int device) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "reading the device properties");
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB, L2 {} MiB, bus {} bits), CUDA driver API {}.{}, runtime {}.{}",
                     p.name, p.major, p.minor, p.multiProcessorCount, double(p.totalGlobalMem) / (1 << 30),
                     p.l2CacheSize >> 20, p.memoryBusWidth, driver / 1000, (driver % 1000) / 10, runtime / 1000,
                     (runtime % 1000) / 10);
}

struct CudaBackend::Impl {
  CudaOptions opt;
  const cuda::Kernels* k = nullptr;
  const Rwkv7Weights* w = nullptr;
  BackendOptions bo;
  bool loaded = false;
  bool pdl_supported = false;  // compute capability 9.0 or later
  // Streams: one, or one per step in flight; `done` is recorded at each step's end.
  std::vector<cudaStream_t> streams;
  std::vector<cudaEvent_t> done;
  std::vector<bool> done_recorded;
  int64_t steps = 0;  // steps begun since load
  cudaStream_t stream = nullptr;  // the current step's
  int slot = 0;
  // dag: the side streams a capture forks onto, an event per captured op, and
  // the fork point (recorded on the step's stream when a capture begins).
  std::vector<cudaStream_t> side;
  std::vector<cudaEvent_t> op_done;
  cudaEvent_t fork = nullptr;
  // Weights and states.
  Arena weights;
  std::map<std::string, const uint16_t*> vectors;
  std::map<std::string, DevMatrix> matrices;
  Arena states;
  std::vector<float*> state;
  size_t state_floats = 0;  // per layer
  // Steps.
  std::map<std::string, std::unique_ptr<StepShape>> shapes;
  StepShape* cur = nullptr;
  bool in_step = false;
  // Pinned host staging of cursors and tokens, and the in-flight logits ring.
  std::vector<uint8_t*> staging;
  std::vector<size_t> staging_bytes;
  std::vector<float*> logits_host;
  std::vector<size_t> logits_floats;
  std::vector<int64_t> logits_step;
  // Fast-mode prefill GEMMs through cuBLAS (cublas_gemm.h), made at the first
  // step that needs one; null where the library is missing (or wmma/canonical).
  std::unique_ptr<cuda::CublasGemm> gemm;

  ~Impl() { release(); }

  bool wants_cublas() const { return !opt.canonical && !opt.wmma; }

  // The GEMM object, and scratch for every mat-path matmul of the current
  // shape (begin_step: never inside a stream capture).
  void prepare_gemm() {
    if (!wants_cublas() || cur->gemm_reserved) return;
    if (!gemm) {
      std::string why;
      const cuda::CublasLibrary* lib = cuda::cublas_library(&why);
      if (!lib) {
        static bool said = false;
        if (!said)
          std::fprintf(stderr, "cuda backend: %s; prefill matmuls take the built-in tensor-core kernel\n",
                       why.c_str());
        said = true;
        return;
      }
      gemm = std::make_unique<cuda::CublasGemm>(*lib);
    }
    for (const Resolved& r : cur->ops)
      if (r.kind == Kernel::matmul && r.in[0].d1 % 32 == 0 && cuda::CublasGemm::takes(r.mat, r.in[0], r.out))
        gemm->reserve(r.mat, r.in[0], r.out, r.act);
    cur->gemm_reserved = true;
  }

  void release() {
    shapes.clear();
    cur = nullptr;
    release_streams();
    gemm.reset();
  }

  void release_streams() {
    for (uint8_t* p : staging) cudaFreeHost(p);
    for (float* p : logits_host) cudaFreeHost(p);
    staging.clear();
    staging_bytes.clear();
    logits_host.clear();
    logits_floats.clear();
    logits_step.clear();
    for (cudaEvent_t e : done) cudaEventDestroy(e);
    for (cudaStream_t s : streams) cudaStreamDestroy(s);
    for (cudaEvent_t e : op_done) cudaEventDestroy(e);
    for (cudaStream_t s : side) cudaStreamDestroy(s);
    if (fork) cudaEventDestroy(fork);
    op_done.clear();
    side.clear();
    fork = nullptr;
    done.clear();
    done_recorded.clear();
    streams.clear();
  }

  void make_streams() {
    const int n = opt.strategy == CudaStrategy::inflight ? opt.in_flight : 1;
    for (int i = 0; i < n; ++i) {
      cudaStream_t s = nullptr;
      check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream");
      streams.push_back(s);
      cudaEvent_t e = nullptr;
      check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "creating an event");
      done.push_back(e);
    }
    done_recorded.assign(size_t(n), false);
    staging.assign(size_t(n), nullptr);
    staging_bytes.assign(size_t(n), 0);
    logits_host.assign(size_t(n), nullptr);
    logits_floats.assign(size_t(n), 0);
    logits_step.assign(size_t(n), -1);
    stream = streams[0];
    slot = 0;
    if (opt.dag) {
      for (int i = 0; i < kDagSideStreams; ++i) {
        cudaStream_t s = nullptr;
        check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a side stream");
        side.push_back(s);
      }
      check(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming), "creating an event");
    }
  }

  void sync_all(const char* what) {
    for (cudaStream_t s : streams) check(cudaStreamSynchronize(s), what);
  }

  const uint16_t* vec(const std::string& name) const {
    auto it = vectors.find(name);
    if (it == vectors.end()) throw std::invalid_argument(fmt::format("cuda backend: no weight vector '{}'", name));
    return it->second;
  }
  Dev vec_dev(const std::string& name) const {
    const WeightVector& v = w->vector(name);
    Dev d;
    d.p = const_cast<uint16_t*>(vec(name));
    d.f16 = true;
    d.d0 = v.shape[0], d.d1 = v.shape[1], d.d2 = v.shape[2];
    return d;
  }

  void upload_weights() {
    // Sizes first, then one allocation.
    size_t total = 0;
    for (const auto& [name, v] : w->vectors) total += align_up(size_t(v.shape.numel()) * 2);
    for (const auto& [name, m] : w->matrices) total += align_up(m.data_bytes) + align_up(m.meta_count * 2);
    total += align_up(2 * 16 * sizeof(float));
    weights.allocate(total, "the weights");
    size_t at = 0;
    auto put = [&](const void* src, size_t bytes, const std::string& what) {
      uint8_t* dst = weights.at(at);
      if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "uploading " + what);
      at += align_up(bytes);
      return dst;
    };
    float t[32];
    std::memcpy(t, blocks::nf4_table(), 16 * sizeof(float));
    std::memcpy(t + 16, blocks::sf4_table(), 16 * sizeof(float));
    const uint8_t* tables = put(t, sizeof(t), "the NF4/SF4 tables");
    for (const auto& [name, v] : w->vectors)
      vectors[name] = reinterpret_cast<const uint16_t*>(put(v.data, size_t(v.shape.numel()) * 2, name));
    for (const auto& [name, m] : w->matrices) {
      DevMatrix d;
      d.fmt = fmt_of(m.format);
      d.K = m.K;
      d.M = m.M;
      d.data = put(m.data, m.data_bytes, name);
      d.meta = m.meta_count ? reinterpret_cast<const uint16_t*>(put(m.meta, m.meta_count * 2, name + " (meta)"))
                            : nullptr;
      d.table = reinterpret_cast<const float*>(tables) + (m.format == WeightFormat::sf4 ? 16 : 0);
      d.row_bytes = (m.format == WeightFormat::q4_k || m.format == WeightFormat::q6_k || m.format == WeightFormat::q8_0)
                        ? blocks::ggml_row_bytes(m.format, m.K)
                        : 0;
      matrices[name] = d;
    }
  }

  const DevMatrix& mat(const std::string& name) const {
    auto it = matrices.find(name);
    if (it == matrices.end()) throw std::invalid_argument(fmt::format("cuda backend: no weight matrix '{}'", name));
    return it->second;
  }

  DevState layer_state(int64_t layer, const std::string& op) const {
    if (layer < 0 || layer >= int64_t(state.size()))
      throw std::invalid_argument(fmt::format("cuda backend: op {} names state layer {}, the model has {}", op, layer,
                                              state.size()));
    return DevState{state[size_t(layer)], w->config.C, w->config.N};
  }

  std::unique_ptr<StepShape> make_shape(const plan::Plan& p, const std::string& key) {
    auto s = std::make_unique<StepShape>();
    s->key = key;
    s->T = p.T;
    size_t total = 0;
    for (const plan::Buffer& b : p.buffers)
      total += align_up(size_t(b.d0 * b.d1 * b.d2) * dtype_size(forward::buffer_dtype(b, bo.forward)));
    s->io_bytes = align_up(size_t(p.T) * sizeof(DevCursor)) + size_t(p.T) * sizeof(uint32_t);
    total += align_up(s->io_bytes);
    s->arena.allocate(total, fmt::format("the buffers of a {}-token step", p.T));
    size_t at = 0;
    for (const plan::Buffer& b : p.buffers) {
      DevBuf d;
      d.dtype = forward::buffer_dtype(b, bo.forward);
      d.dev.p = s->arena.at(at);
      d.dev.f16 = d.dtype == DType::f16;
      d.dev.d0 = b.d0, d.dev.d1 = b.d1, d.dev.d2 = b.d2;
      at += align_up(d.bytes());
      s->buffers[b.name] = d;
    }
    s->cursors = reinterpret_cast<DevCursor*>(s->arena.at(at));
    s->tokens = reinterpret_cast<uint32_t*>(s->arena.at(at + align_up(size_t(p.T) * sizeof(DevCursor))));
    for (const plan::Op& op : p.ops) s->ops.push_back(resolve(*s, op));
    make_chain(*s);
    // For dag graphs (computed for every shape: set_options may switch dag on later).
    const std::vector<std::vector<plan::Dependency>> deps = plan::step_dependencies(plan::op_resources(p));
    s->producers.resize(deps.size());
    int64_t last_mat = -1;
    for (size_t i = 0; i < deps.size(); ++i) {
      std::vector<uint32_t>& mine = s->producers[i];
      for (const plan::Dependency& d : deps[i])
        if (std::find(mine.begin(), mine.end(), d.producer) == mine.end()) mine.push_back(d.producer);
      const Resolved& r = s->ops[i];
      if (r.kind == Kernel::matmul && r.in[0].d1 % 32 == 0) {  // the mat path: shared GEMM scratch
        if (last_mat >= 0 && std::find(mine.begin(), mine.end(), uint32_t(last_mat)) == mine.end())
          mine.push_back(uint32_t(last_mat));
        last_mat = int64_t(i);
      }
    }
    make_merged(*s);
    return s;
  }

  // The merged launches of a shape (computed for every shape: set_options may
  // switch merge on later; used only with a kernel set that has them).
  void make_merged(StepShape& s) const {
    for (size_t i = 0; i < s.ops.size(); ++i)
      if (std::optional<Merged> m = merged_at(s, i)) s.merged[i] = *m;
  }

  // The merged launch that may begin at op i: a vec-path matmul the fast GEMV
  // takes, then up to kEpilogueOps element-wise ops of its output's shape, each
  // following the matmul or an earlier one of them, none writing the matmul's
  // input; a same-dtype blit of a row, the one-row layer_norm of 129..4096
  // channels (the fast set's block row) in place on its output, then token
  // shifts of that; a one-token time_mix_v7 (heads of 32..128), then its head's
  // group_norm, time_first_v7 and mul by g, all in place on its output.
  std::optional<Merged> merged_at(const StepShape& s, size_t i) const {
    const std::vector<Resolved>& ops = s.ops;
    const Resolved& r = ops[i];
    auto is = [&](size_t j, Kernel kind) { return j < ops.size() && ops[j].kind == kind; };
    Merged m;
    if (r.kind == Kernel::matmul && r.in[0].d1 % 32 != 0 && cuda::gemv_takes_epilogue(r.mat)) {
      size_t j = i + 1;
      for (; j < ops.size() && m.epilogue.count < cuda::kEpilogueOps; ++j) {
        const Kernel kind = ops[j].kind;
        if (kind != Kernel::add && kind != Kernel::mul && kind != Kernel::add_activate && kind != Kernel::lerp &&
            kind != Kernel::channel_mix_v7 && kind != Kernel::control_k_v7 && kind != Kernel::affine)
          break;
        const std::optional<cuda::ChainOp> c = chain_op(s, ops[j]);
        const std::vector<uint32_t>& p = s.producers[j];
        const bool follows = std::any_of(p.begin(), p.end(), [&](uint32_t d) { return d >= i && d < j; });
        if (!c || c->n != r.out.numel() || c->C != r.out.d0 || c->c == r.in[0].p || !follows) break;
        // Each operand from the latest earlier writer among the matmul and the
        // epilogue's ops (where it reads element i of it), else from memory.
        const int k = m.epilogue.count;
        bool ok = true;
        auto from = [&](const void* operand, bool at_i) -> int8_t {
          int8_t source = cuda::kFromMemory;
          for (int e = k - 1; e >= 0 && source == cuda::kFromMemory; --e)
            if (m.epilogue.op[e].c == operand) source = int8_t(e);
          if (source == cuda::kFromMemory && operand == r.out.p) source = cuda::kFromMatmul;
          if (source != cuda::kFromMemory && !at_i) ok = false;  // it would need other elements of that output
          return source;
        };
        // A binary or lerp op reads operand a broadcast (broadcast_index).
        const bool broadcast = kind == Kernel::add || kind == Kernel::mul || kind == Kernel::add_activate ||
                               kind == Kernel::lerp;
        const bool a_at_i = !broadcast || ((c->T == 1 || c->b_ts == c->C) &&
                                           (c->n == c->C * c->T || c->b_bs == c->C * c->T));
        m.epilogue.from[k][0] = kind == Kernel::affine ? cuda::kFromMemory : from(c->a, a_at_i);
        m.epilogue.from[k][1] = kind == Kernel::lerp ? from(c->b, true) : cuda::kFromMemory;
        m.epilogue.from[k][2] = from(c->c, true);
        if (!ok) break;
        m.epilogue.op[m.epilogue.count++] = *c;
      }
      if (m.epilogue.count == 0) return std::nullopt;
      m.kind = Merged::Kind::epilogue;
      m.end = j;
      return m;
    }
    if (r.kind == Kernel::blit) {
      if (!is(i + 1, Kernel::layer_norm) || r.in[0].f16 != r.out.f16 || r.in_offset != 0 || r.out_offset != 0 ||
          r.count != r.out.numel() || ops[i + 1].in[0].p != r.out.p || r.in[0].p == r.out.p)
        return std::nullopt;
      const Resolved& n = ops[i + 1];
      const int64_t len = n.in[0].d0;
      if (n.in[0].numel() != len || n.out.p != n.in[0].p || len <= 128 || len > 4096) return std::nullopt;
      const std::optional<cuda::ChainOp> norm = chain_op(s, n);
      if (!norm) return std::nullopt;
      m.norm_shift.norm = *norm;
      m.norm_shift.norm.a = r.in[0].p, m.norm_shift.norm.a16 = r.in[0].f16;
      size_t j = i + 2;
      for (; is(j, Kernel::token_shift) && m.norm_shift.shifts < cuda::kShiftOps && ops[j].in[0].p == n.out.p; ++j) {
        const std::optional<cuda::ChainOp> c = chain_op(s, ops[j]);
        if (!c || c->n != len || c->c == r.in[0].p) break;
        m.norm_shift.shift[m.norm_shift.shifts++] = *c;
      }
      if (m.norm_shift.shifts == 0) return std::nullopt;
      m.kind = Merged::Kind::norm_shift;
      m.end = j;
      return m;
    }
    if (r.kind == Kernel::time_mix_v7) {
      const int64_t N = r.head_size;
      const Dev& x = r.out;
      if (x.d1 * x.d2 != 1 || N < 32 || N > 128 || !is(i + 3, Kernel::mul)) return std::nullopt;
      const Resolved& gn = ops[i + 1];
      const Resolved& tf = ops[i + 2];
      const Resolved& mul = ops[i + 3];
      if (gn.kind != Kernel::group_norm || gn.in[0].p != x.p || gn.out.p != x.p || gn.head_size != N) return std::nullopt;
      if (tf.kind != Kernel::time_first_v7 || tf.out.p != x.p || tf.in[0].p != r.in[0].p || tf.in[1].p != r.in[2].p ||
          tf.head_size != N)
        return std::nullopt;
      if (mul.use_vec || mul.out.p != x.p || mul.in[0].numel() != x.numel()) return std::nullopt;
      const std::optional<cuda::ChainOp> g = chain_op(s, gn), t = chain_op(s, tf), u = chain_op(s, mul);
      if (!g || !t || !u) return std::nullopt;
      m.kind = Merged::Kind::time_mix_tail;
      m.tail = {*g, *t, *u};
      m.end = i + 4;
      return m;
    }
    return std::nullopt;
  }

  bool merging() const { return opt.merge && k->matmul_vec_then != nullptr; }

  // The descriptors of every op a fused chain may hold (any dtypes, at most
  // kChainMaxElements values; a layer_norm of at most 8 rows; group_norm and
  // l2_norm of rows of at most 128, for a kernel set with chain_row_norms),
  // uploaded once per shape.
  void make_chain(StepShape& s) const {
    std::vector<cuda::ChainOp> list;
    s.chain_at.assign(s.ops.size(), -1);
    for (size_t i = 0; i < s.ops.size(); ++i)
      if (std::optional<cuda::ChainOp> c = chain_op(s, s.ops[i])) {
        s.chain_at[i] = int32_t(list.size());
        list.push_back(*c);
      }
    if (list.empty()) return;
    const size_t bytes = list.size() * sizeof(cuda::ChainOp);
    s.chain.allocate(bytes, "the fused chain descriptors");
    check(cudaMemcpy(s.chain.base, list.data(), bytes, cudaMemcpyHostToDevice), "uploading the fused chain descriptors");
  }

  std::optional<cuda::ChainOp> chain_op(const StepShape& s, const Resolved& r) const {
    cuda::ChainOp c;
    auto fits = [](const Dev& d) { return d.numel() <= cuda::kChainMaxElements; };
    auto input = [&](const Dev& d, int64_t offset = 0) {
      c.a = static_cast<const uint8_t*>(d.p) + offset * (d.f16 ? 2 : 4);
      c.a16 = d.f16;
    };
    auto output = [&](const Dev& d, int64_t offset = 0) {
      c.c = static_cast<uint8_t*>(d.p) + offset * (d.f16 ? 2 : 4);
      c.c16 = d.f16;
      c.C = d.d0;
      c.T = d.d1;
      c.n = d.numel();
    };
    auto broadcast = [&](const Dev& d, int64_t C) {  // an operand broadcast over size-1 dimensions
      c.b_ts = d.d1 == 1 ? 0 : C;
      c.b_bs = d.d2 == 1 ? 0 : C * d.d1;
    };
    if (!fits(r.out)) return std::nullopt;
    switch (r.kind) {
      case Kernel::embedding:
        c.kind = cuda::ChainKind::embedding;
        output(r.out);
        c.w = r.w0;
        c.tokens = s.tokens;
        return c;
      case Kernel::layer_norm:
        if (r.in[0].numel() / r.in[0].d0 > 8) return std::nullopt;
        c.kind = cuda::ChainKind::layer_norm;
        input(r.in[0]);
        output(r.out);
        c.w = r.w0, c.wb = r.w1, c.len = r.in[0].d0, c.eps = r.eps;
        return c;
      case Kernel::group_norm:
      case Kernel::l2_norm:
        if (r.head_size > 128 || r.in[0].numel() / r.head_size > 256) return std::nullopt;
        c.kind = cuda::ChainKind::row_norm;
        c.mul = r.kind == Kernel::l2_norm;
        input(r.in[0]);
        output(r.out);
        c.len = r.head_size, c.eps = r.eps;
        if (r.kind == Kernel::group_norm) c.w = r.w0, c.wb = r.w1, c.weight_rows = r.in[0].d0 / r.head_size;
        return c;
      case Kernel::token_shift:
        c.kind = cuda::ChainKind::token_shift;
        input(r.in[0]);
        output(r.out);
        c.n = r.in[0].d0 * r.in[0].d1;
        c.C = r.in[0].d0;
        c.b = r.vec.p, c.b16 = r.vec.f16, c.b_ts = r.vec.d1 == 1 ? 0 : c.C;
        c.state = r.state.p, c.state_rows = r.state.rows(), c.state_row = r.state_row;
        c.cursors = s.cursors;
        return c;
      case Kernel::blit:
        c.kind = cuda::ChainKind::blit;
        input(r.in[0], r.in_offset);
        output(r.out, r.out_offset);
        c.n = r.count;
        return c;
      case Kernel::add:
      case Kernel::mul:
      case Kernel::add_activate: {
        const Dev& operand = r.use_vec ? r.vec : r.in[0];
        c.kind = cuda::ChainKind::binary;
        c.mul = r.kind == Kernel::mul;
        c.act = uint8_t(r.act);
        input(operand);
        output(r.out);
        broadcast(operand, c.C);
        return c;
      }
      case Kernel::lerp:
        c.kind = cuda::ChainKind::lerp;
        input(r.in[0]);  // f
        c.b = r.in[1].p, c.b16 = r.in[1].f16;
        output(r.out);
        broadcast(r.in[0], c.C);
        return c;
      case Kernel::control_k_v7:
        c.kind = cuda::ChainKind::control_k;
        input(r.in[1]);  // a
        output(r.out);   // k, in place
        c.w = r.w0;
        return c;
      case Kernel::channel_mix_v7:
        c.kind = cuda::ChainKind::channel_mix;
        input(r.in[0]);  // v
        output(r.out);   // x
        c.n = r.out.d0 * r.out.d1;
        c.state = r.state.p, c.state_rows = r.state.rows();
        c.cursors = s.cursors;
        return c;
      case Kernel::time_first_v7:
        if (r.head_size < 8 || cuda::kChainThreads % r.head_size != 0) return std::nullopt;
        c.kind = cuda::ChainKind::time_first;
        input(r.in[0]);  // r
        c.b = r.in[1].p, c.b16 = r.in[1].f16;  // n (k in plane 0, v in plane 1)
        output(r.out);   // x
        c.w = r.w0, c.len = r.head_size;
        return c;
      case Kernel::affine:
        c.kind = cuda::ChainKind::affine;
        output(r.out);
        c.scale = r.scale, c.bias = r.bias;
        return c;
      default: return std::nullopt;
    }
  }

  // Whether op i may join a fused chain under the current kernel set.
  bool chainable(size_t i) const {
    if (cur->chain_at[i] < 0) return false;
    const Kernel kind = cur->ops[i].kind;
    return k->chain_row_norms || (kind != Kernel::group_norm && kind != Kernel::l2_norm);
  }

  // The end of the launch unit that begins at op i, inside [i, e): with
  // `fuse`, the run of chainable ops from i (cut at layer ends under the
  // layer strategy, whose syncs fall there); otherwise i + 1.
  size_t unit_end(size_t i, size_t e) const {
    if (merging()) {
      const auto it = cur->merged.find(i);
      if (it != cur->merged.end() && it->second.end <= e) return it->second.end;
    }
    if (!opt.fuse || !chainable(i)) return i + 1;
    size_t j = i + 1;
    while (j < e && chainable(j) &&
           !(opt.strategy == CudaStrategy::layer && cur->ops[j].layer != cur->ops[i].layer))
      ++j;
    return j;
  }

  // Ops [i, j) as one launch: the op's own kernel, or a fused chain.
  void launch_unit(size_t i, size_t j, cudaStream_t st) {
    if (j == i + 1) return launch(cur->ops[i], st);
    if (merging()) {
      const auto it = cur->merged.find(i);
      if (it != cur->merged.end() && it->second.end == j) return launch_merged(i, it->second, st);
    }
    const auto* base = static_cast<const cuda::ChainOp*>(cur->chain.base);
    k->chain(base + cur->chain_at[i], int(j - i), st);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
      fail(e, fmt::format("launching the fused chain of ops {} .. {} ({} ops)", cur->ops[i].name,
                          cur->ops[j - 1].name, j - i));
  }

  void launch_merged(size_t i, const Merged& m, cudaStream_t st) {
    const Resolved& r = cur->ops[i];
    switch (m.kind) {
      case Merged::Kind::epilogue: k->matmul_vec_then(r.mat, r.in[0], r.out, r.act, m.epilogue, st); break;
      case Merged::Kind::norm_shift: k->norm_shift(m.norm_shift, st); break;
      case Merged::Kind::time_mix_tail:
        k->time_mix_then(r.state, r.in[0], r.in[1], r.in[2], r.out, cur->cursors, bo.forward.decay, m.tail, st);
        break;
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
      fail(e, fmt::format("launching the merged ops {} .. {} ({} ops)", r.name, cur->ops[m.end - 1].name, m.end - i));
  }

  Dev buf(StepShape& s, const plan::Op& op, const std::string& name) const {
    auto it = s.buffers.find(name);
    if (it == s.buffers.end())
      throw std::invalid_argument(fmt::format("cuda backend: op {} names buffer '{}', which the plan does not declare",
                                              op.name, name));
    return it->second.dev;
  }

  Resolved resolve(StepShape& s, const plan::Op& op) const {
    Resolved r;
    r.kind = op.kernel;
    r.name = op.name;
    r.layer = op.layer;
    const plan::OpParams& pr = op.params;
    for (size_t i = 0; i < op.inputs.size() && i < 4; ++i)
      if (op.inputs[i] != "tokens") r.in[i] = buf(s, op, op.inputs[i]);
    if (!op.outputs.empty()) r.out = buf(s, op, op.outputs.at(0));
    r.act = pr.act;
    r.eps = pr.eps;
    r.head_size = pr.head_size;
    r.sparse = pr.sparse_input;
    r.scale = pr.scale;
    r.bias = pr.bias;
    r.state_row = pr.state_row;
    if (pr.state_layer >= 0) r.state = layer_state(pr.state_layer, op.name);
    auto need = [&](bool ok, const std::string& what) {
      if (!ok) throw std::invalid_argument(fmt::format("cuda backend: op {} ({}): {}", op.name,
                                                       plan::kernel_name(op.kernel), what));
    };
    switch (op.kernel) {
      case Kernel::embedding:
        r.w0 = vec(pr.weights.at(0));
        need(w->vector(pr.weights.at(0)).shape[0] == r.out.d0, "embedding width differs from the output's");
        break;
      case Kernel::layer_norm:
      case Kernel::group_norm:
        r.w0 = vec(pr.weights.at(0));
        r.w1 = vec(pr.weights.at(1));
        need(r.in[0].numel() == r.out.numel(), "input and output sizes differ");
        if (op.kernel == Kernel::group_norm) need(pr.head_size > 0 && r.in[0].d0 % pr.head_size == 0, "bad head size");
        break;
      case Kernel::l2_norm: need(pr.head_size > 0 && r.in[0].d0 % pr.head_size == 0, "bad head size"); break;
      case Kernel::token_shift:
        r.vec = vec_dev(pr.weights.at(0));
        need(r.state.p != nullptr, "no state layer");
        break;
      case Kernel::blit:
        if (pr.out_plane >= 0) {
          r.out_offset = pr.out_plane * r.out.d0 * r.out.d1;
          r.count = r.in[0].numel();
          need(r.out_offset + r.count <= r.out.numel(), "plane outside the output");
        } else if (pr.token_count > 0) {
          r.in_offset = pr.src_token * r.in[0].d0;
          r.out_offset = pr.dst_token * r.out.d0;
          r.count = pr.token_count * r.in[0].d0;
          need(r.in_offset + r.count <= r.in[0].numel() && r.out_offset + r.count <= r.out.numel(),
               "token run outside the buffers");
        } else {
          r.count = r.in[0].numel();
          need(r.count == r.out.numel(), "input and output sizes differ");
        }
        break;
      case Kernel::add:
      case Kernel::mul:
      case Kernel::add_activate:
        r.use_vec = !pr.weights.empty();
        if (r.use_vec) r.vec = vec_dev(pr.weights.at(0));
        need((r.use_vec ? r.vec : r.in[0]).d0 == r.out.d0, "operand width differs from the output's");
        break;
      case Kernel::matmul: {
        r.mat = mat(pr.weights.at(0));
        need(r.mat.K == r.in[0].d0 && r.mat.M == r.out.d0 && r.in[0].d1 == r.out.d1,
             fmt::format("matrix [{}, {}] does not fit input [{}, {}] and output [{}, {}]", r.mat.K, r.mat.M,
                         r.in[0].d0, r.in[0].d1, r.out.d0, r.out.d1));
        break;
      }
      case Kernel::control_k_v7: r.w0 = vec(pr.weights.at(0)); break;
      case Kernel::time_mix_v7:
        need(r.in[0].f16 == r.out.f16 && r.in[1].f16 == r.out.f16 && r.in[2].f16 == r.out.f16,
             "r, w, n and x must share one dtype");
        need(pr.head_size == w->config.N && (pr.head_size == 16 || pr.head_size == 32 || pr.head_size == 64 ||
                                             pr.head_size == 128),
             fmt::format("head size {} (this backend runs 16, 32, 64 and 128)", pr.head_size));
        break;
      case Kernel::time_first_v7:
        r.w0 = vec(pr.weights.at(0));
        need(pr.head_size >= 8 && pr.head_size <= 1024, "bad head size");
        break;
      case Kernel::lerp:
      case Kernel::channel_mix_v7:
      case Kernel::affine:
        break;
      case Kernel::softmax:
        need(!r.in[0].f16 && !r.out.f16, "softmax runs on f32 logits");
        break;
    }
    return r;
  }

  void launch(const Resolved& r, cudaStream_t st) {
    const cuda::Kernels& K = *k;
    switch (r.kind) {
      case Kernel::embedding: K.embedding(r.w0, cur->tokens, r.out, st); break;
      case Kernel::layer_norm: K.layer_norm(r.in[0], r.out, r.w0, r.w1, r.in[0].d0, 1, 128, r.eps, st); break;
      case Kernel::group_norm:
        K.layer_norm(r.in[0], r.out, r.w0, r.w1, r.head_size, r.in[0].d0 / r.head_size, 32, r.eps, st);
        break;
      case Kernel::l2_norm: K.l2_norm(r.in[0], r.out, r.head_size, r.eps, st); break;
      case Kernel::token_shift: K.token_shift(r.in[0], r.vec, r.out, r.state, r.state_row, cur->cursors, st); break;
      case Kernel::blit: K.blit(r.in[0], r.in_offset, r.out, r.out_offset, r.count, st); break;
      case Kernel::add: K.binary(false, Activation::none, r.use_vec ? r.vec : r.in[0], r.out, st); break;
      case Kernel::mul: K.binary(true, Activation::none, r.use_vec ? r.vec : r.in[0], r.out, st); break;
      case Kernel::add_activate: K.binary(false, r.act, r.use_vec ? r.vec : r.in[0], r.out, st); break;
      case Kernel::lerp: K.lerp(r.in[0], r.in[1], r.out, st); break;
      case Kernel::matmul:
        if (r.in[0].d1 % 32 != 0) K.matmul_vec(r.mat, r.in[0], r.out, r.act, r.sparse, st);
        else if (gemm && wants_cublas() && cuda::CublasGemm::takes(r.mat, r.in[0], r.out))
          gemm->run(r.mat, r.in[0], r.out, r.act, st, r.name);
        else K.matmul_mat(r.mat, r.in[0], r.out, r.act, st);
        break;
      case Kernel::control_k_v7: K.control_k(r.out, r.in[1], r.w0, st); break;
      case Kernel::time_mix_v7:
        K.time_mix(r.state, r.in[0], r.in[1], r.in[2], r.out, cur->cursors, bo.forward.decay, st);
        break;
      case Kernel::time_first_v7: K.time_first(r.w0, r.in[0], r.in[1], r.out, r.head_size, st); break;
      case Kernel::channel_mix_v7: K.channel_mix(r.in[0], r.out, r.state, cur->cursors, st); break;
      case Kernel::affine: K.affine(r.out, r.scale, r.bias, st); break;
      case Kernel::softmax: K.softmax(r.in[0], r.out, st); break;
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail(e, fmt::format("launching op {} ({})", r.name, plan::kernel_name(r.kind)));
  }

  // The sync after ops [i, j) (one launch).
  void sync_unit(size_t i, size_t j) {
    const cudaError_t e = cudaStreamSynchronize(stream);
    if (e == cudaSuccess) return;
    const Resolved& r = cur->ops[i];
    if (j == i + 1) fail(e, fmt::format("op {} ({}) on the device", r.name, plan::kernel_name(r.kind)));
    fail(e, fmt::format("the {} ops {} .. {} on the device", merging() && cur->merged.count(i) ? "merged" : "fused chain of",
                        r.name, cur->ops[j - 1].name));
  }

  void require_step(const char* what) const {
    if (!in_step || !cur) throw std::logic_error(fmt::format("cuda backend: {} outside a step", what));
  }

  void run_range(size_t b, size_t e) {
    require_step("run_ops");
    if (b > e || e > cur->ops.size())
      throw std::out_of_range(fmt::format("cuda backend: ops [{}, {}) of a plan of {}", b, e, cur->ops.size()));
    if (b == e) return;
    k->set_pdl(opt.pdl && pdl_supported);
    if (opt.strategy == CudaStrategy::graph) return run_graph(b, e);
    for (size_t i = b; i < e;) {
      const size_t j = unit_end(i, e);
      launch_unit(i, j, stream);
      if (opt.strategy == CudaStrategy::op) sync_unit(i, j);
      else if (opt.strategy == CudaStrategy::layer && (j == e || cur->ops[j].layer != cur->ops[j - 1].layer))
        sync_unit(i, j);
      i = j;
    }
  }

  // Ops [b, e) as launch units (unit_end): each unit's [begin, end).
  std::vector<std::pair<size_t, size_t>> units(size_t b, size_t e) const {
    std::vector<std::pair<size_t, size_t>> u;
    for (size_t i = b; i < e; i = u.back().second) u.emplace_back(i, unit_end(i, e));
    return u;
  }

  // Launches ops [b, e) into the capture begun on `stream` as a graph with the
  // plan's data dependencies as its only edges, a launch unit (one op, or a
  // fused chain: unit_end) per node: a unit goes on the stream of a producer
  // it follows directly (that edge is then the stream order), else on an
  // unused side stream, else on the stream whose last unit is oldest (an edge
  // the plan does not need: correct, less parallel); its other producers in
  // the range are waited for through their units' events. Ops before b were
  // launched before the graph, on `stream`. Every side stream used joins
  // `stream` at the end, as a capture requires.
  void capture_dag(size_t b, size_t e) {
    const std::vector<std::pair<size_t, size_t>> unit = units(b, e);
    const size_t n = unit.size();
    std::vector<uint32_t> unit_of(e - b);
    for (size_t u = 0; u < n; ++u)
      for (size_t i = unit[u].first; i < unit[u].second; ++i) unit_of[i - b] = uint32_t(u);
    while (op_done.size() < n) {
      cudaEvent_t ev = nullptr;
      check(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "creating an event");
      op_done.push_back(ev);
    }
    const int S = 1 + int(side.size());
    auto st = [&](int s) { return s == 0 ? stream : side[size_t(s - 1)]; };
    std::vector<int64_t> last(size_t(S), -1);  // last unit on each stream; -1: unused
    std::vector<int> on(n, 0);                  // the stream of each unit
    check(cudaEventRecord(fork, stream), "recording the fork of a dag capture");
    std::vector<bool> joined(size_t(S), false);
    joined[0] = true;
    for (size_t u = 0; u < n; ++u) {
      const auto [i, j] = unit[u];
      std::vector<uint32_t> deps;  // the earlier units in the range this one follows
      for (size_t o = i; o < j; ++o)
        for (uint32_t d : cur->producers[o])
          if (d >= b && unit_of[d - b] != u && std::find(deps.begin(), deps.end(), unit_of[d - b]) == deps.end())
            deps.push_back(unit_of[d - b]);
      int s = -1;
      for (uint32_t d : deps)  // the latest producer that ends a stream
        if (last[size_t(on[d])] == int64_t(d) && (s < 0 || int64_t(d) > last[size_t(s)])) s = on[d];
      if (s < 0) {
        for (int c = 0; c < S && s < 0; ++c)
          if (last[size_t(c)] < 0) s = c;
        if (s < 0) {
          s = 0;
          for (int c = 1; c < S; ++c)
            if (last[size_t(c)] < last[size_t(s)]) s = c;
        }
      }
      if (!joined[size_t(s)]) {
        check(cudaStreamWaitEvent(st(s), fork, 0), "forking a side stream into the capture");
        joined[size_t(s)] = true;
      }
      for (uint32_t d : deps)
        if (on[d] != s)
          check(cudaStreamWaitEvent(st(s), op_done[d], 0),
                fmt::format("ordering op {} after {}", cur->ops[i].name, cur->ops[unit[d].second - 1].name));
      launch_unit(i, j, st(s));
      check(cudaEventRecord(op_done[u], st(s)), fmt::format("recording the end of op {}", cur->ops[j - 1].name));
      on[u] = s;
      last[size_t(s)] = int64_t(u);
    }
    for (int s = 1; s < S; ++s)
      if (last[size_t(s)] >= 0)
        check(cudaStreamWaitEvent(stream, op_done[size_t(last[size_t(s)])], 0), "joining a side stream");
  }

  void run_graph(size_t b, size_t e) {
    auto key = std::make_pair(b, e);
    auto it = cur->graphs.find(key);
    if (it == cur->graphs.end()) {
      if (cur->graphs.size() >= kMaxGraphsPerShape) {
        for (auto& [range, exec] : cur->graphs) cudaGraphExecDestroy(exec);
        cur->graphs.clear();
      }
      check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
            fmt::format("beginning the capture of ops [{}, {})", b, e));
      try {
        if (opt.dag) capture_dag(b, e);
        else
          for (const auto& [i, j] : units(b, e)) launch_unit(i, j, stream);
      } catch (...) {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(stream, &g);
        if (g) cudaGraphDestroy(g);
        throw;
      }
      cudaGraph_t g = nullptr;
      check(cudaStreamEndCapture(stream, &g), fmt::format("capturing ops [{}, {}) ({} .. {})", b, e,
                                                          cur->ops[b].name, cur->ops[e - 1].name));
      cudaGraphExec_t exec = nullptr;
      const cudaError_t ie = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      if (ie != cudaSuccess) fail(ie, fmt::format("instantiating the graph of ops [{}, {})", b, e));
      it = cur->graphs.emplace(key, exec).first;
    }
    check(cudaGraphLaunch(it->second, stream),
          fmt::format("launching the graph of ops [{}, {}) ({} .. {})", b, e, cur->ops[b].name, cur->ops[e - 1].name));
  }

  template <class T> T* pinned(std::vector<T*>& ring, std::vector<size_t>& sizes, size_t bytes, const char* what) {
    if (sizes[size_t(slot)] < bytes) {
      if (ring[size_t(slot)]) cudaFreeHost(ring[size_t(slot)]);
      ring[size_t(slot)] = nullptr;
      sizes[size_t(slot)] = 0;
      void* p = nullptr;
      check(cudaMallocHost(&p, bytes), what);
      ring[size_t(slot)] = static_cast<T*>(p);
      sizes[size_t(slot)] = bytes;
    }
    return ring[size_t(slot)];
  }
};

CudaBackend::CudaBackend(CudaOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = options;
  impl_->k = options.canonical ? &cuda::canonical_kernels() : &cuda::fast_kernels();
}

CudaBackend::~CudaBackend() = default;

std::string CudaBackend::name() const { return cuda_backend_name(impl_->opt); }
const CudaOptions& CudaBackend::options() const { return impl_->opt; }

void CudaBackend::set_options(const CudaOptions& options) {
  Impl& m = *impl_;
  if (m.in_step) throw std::logic_error("cuda backend: set_options inside a step");
  if (options.device != m.opt.device && m.loaded)
    throw std::invalid_argument("cuda backend: set_options cannot move a loaded model to another device");
  if (m.loaded) {
    m.sync_all("finishing the steps before changing the strategy");
    for (auto& [key, s] : m.shapes) {
      for (auto& [range, exec] : s->graphs) cudaGraphExecDestroy(exec);
      s->graphs.clear();
    }
    m.release_streams();
  }
  m.opt = options;
  m.k = options.canonical ? &cuda::canonical_kernels() : &cuda::fast_kernels();
  if (m.loaded) m.make_streams();
}

void CudaBackend::load(const Rwkv7Weights& weights, const BackendOptions& options) {
  Impl& m = *impl_;
  std::string why;
  if (!cuda_available(&why)) throw std::runtime_error("cuda backend: " + why);
  check(cudaSetDevice(m.opt.device), fmt::format("selecting device {}", m.opt.device));
  {
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, m.opt.device), "reading the device properties");
    m.pdl_supported = p.major >= 9;
  }
  if (options.slots < 1 || options.slots > forward::Executor::kMaxSlots)
    throw std::invalid_argument(fmt::format("cuda backend: {} slots, expected 1 to {}", options.slots,
                                            forward::Executor::kMaxSlots));
  m.release();
  m.vectors.clear();
  m.matrices.clear();
  m.weights.reset();
  m.w = &weights;
  m.bo = options;
  m.steps = 0;
  m.in_step = false;
  m.make_streams();
  m.upload_weights();
  const plan::ModelConfig& c = weights.config;
  m.state_floats = size_t(c.C * (c.N + 2) * options.slots);
  m.states.allocate(size_t(c.L) * align_up(m.state_floats * sizeof(float)), "the states");
  m.state.clear();
  for (int64_t l = 0; l < c.L; ++l)
    m.state.push_back(reinterpret_cast<float*>(m.states.at(size_t(l) * align_up(m.state_floats * sizeof(float)))));
  check(cudaDeviceSynchronize(), "loading the model");
  m.loaded = true;
}

void CudaBackend::begin_step(const plan::Plan& plan, const forward::StepLayout& layout) {
  Impl& m = *impl_;
  if (!m.loaded) throw std::logic_error("cuda backend: begin_step before load");
  if (m.in_step) throw std::logic_error("cuda backend: begin_step inside a step (call end_step first)");
  if (plan.T != layout.T() || !(plan.outputs == layout.outputs) || plan.config.C != m.w->config.C ||
      plan.config.L != m.w->config.L)
    throw std::logic_error("cuda backend: the plan was not built for this step layout and model");
  for (const Cursor& c : layout.cursors)
    if (int64_t(c.batch) >= m.bo.slots)
      throw std::invalid_argument(fmt::format("cuda backend: a token of slot {}, the backend has {} slots", c.batch,
                                              m.bo.slots));
  const std::string key = shape_key(plan);
  auto it = m.shapes.find(key);
  if (it == m.shapes.end()) {
    if (m.shapes.size() >= kMaxShapes) {
      m.sync_all("retiring the buffers of an old step shape");
      m.shapes.clear();
    }
    it = m.shapes.emplace(key, m.make_shape(plan, key)).first;
  }
  m.cur = it->second.get();
  m.prepare_gemm();
  // The step's stream: in flight, the next one, ordered after the previous step.
  const int n = int(m.streams.size());
  const int prev = m.slot;
  m.slot = int(m.steps % n);
  m.stream = m.streams[size_t(m.slot)];
  if (n > 1) {
    // Its staging and logits slot were last used N steps ago: wait for that step.
    if (m.done_recorded[size_t(m.slot)])
      check(cudaEventSynchronize(m.done[size_t(m.slot)]), "waiting for a step in flight");
    if (m.steps > 0 && m.done_recorded[size_t(prev)])
      check(cudaStreamWaitEvent(m.stream, m.done[size_t(prev)], 0), "ordering a step after the previous one");
  }
  uint8_t* io = m.pinned(m.staging, m.staging_bytes, m.cur->io_bytes, "allocating pinned staging");
  std::memcpy(io, layout.cursors.data(), layout.cursors.size() * sizeof(Cursor));
  std::memcpy(io + align_up(size_t(plan.T) * sizeof(DevCursor)), layout.tokens.data(),
              layout.tokens.size() * sizeof(uint32_t));
  check(cudaMemcpyAsync(m.cur->cursors, io, m.cur->io_bytes, cudaMemcpyHostToDevice, m.stream),
        "uploading the cursors and tokens");
  ++m.steps;
  m.in_step = true;
}

void CudaBackend::run_op(size_t index) { impl_->run_range(index, index + 1); }
void CudaBackend::run_ops(size_t begin, size_t end) { impl_->run_range(begin, end); }

void CudaBackend::end_step() {
  Impl& m = *impl_;
  m.require_step("end_step");
  m.in_step = false;
  if (m.opt.strategy == CudaStrategy::inflight) {
    auto lit = m.cur->buffers.find("logits");
    if (lit != m.cur->buffers.end()) {
      const DevBuf& lb = lit->second;
      float* host = m.pinned(m.logits_host, m.logits_floats, lb.bytes(), "allocating pinned logits");
      check(cudaMemcpyAsync(host, lb.dev.p, lb.bytes(), cudaMemcpyDeviceToHost, m.stream), "copying the logits back");
      m.logits_step[size_t(m.slot)] = m.steps - 1;
    }
    check(cudaEventRecord(m.done[size_t(m.slot)], m.stream), "recording the end of a step");
    m.done_recorded[size_t(m.slot)] = true;
    return;
  }
  const cudaError_t e = cudaStreamSynchronize(m.stream);
  if (e != cudaSuccess)
    fail(e, fmt::format("running the step's ops (strategy {}; cuda:op names the failing op)",
                        strategy_name(m.opt.strategy)));
}

const float* CudaBackend::logits_of(int64_t step) {
  Impl& m = *impl_;
  for (size_t s = 0; s < m.logits_step.size(); ++s)
    if (m.logits_step[s] == step) {
      check(cudaEventSynchronize(m.done[s]), "waiting for a step's logits");
      if (m.logits_step[s] == step) return m.logits_host[s];
    }
  throw std::out_of_range(fmt::format("cuda backend: the logits of step {} are no longer held", step));
}

int64_t CudaBackend::steps_begun() const { return impl_->steps; }

std::string CudaBackend::prefill_gemm_path() const {
  const Impl& m = *impl_;
  if (m.opt.canonical) return "canonical SIMT kernel (the reference's order)";
  if (m.opt.wmma) return "built-in tensor-core kernel (wmma; cuBLAS not used: option wmma)";
  std::string why;
  if (!cuda::cublas_library(&why)) return "built-in tensor-core kernel (wmma; " + why + ")";
  return cuda::cublas_description() + ": cublasGemmEx, f16 inputs, f32 accumulation; other formats dequantised to "
                                      "f16 first; f32 activations: the SIMT kernel";
}

void CudaBackend::synchronize() { impl_->sync_all("synchronizing the streams"); }

size_t CudaBackend::graph_count() const {
  size_t n = 0;
  for (const auto& [key, s] : impl_->shapes) n += s->graphs.size();
  return n;
}

size_t CudaBackend::launches(size_t begin, size_t end) const {
  const Impl& m = *impl_;
  if (!m.cur) throw std::logic_error("cuda backend: launches() before any step");
  if (begin > end || end > m.cur->ops.size())
    throw std::out_of_range(fmt::format("cuda backend: ops [{}, {}) of a plan of {}", begin, end, m.cur->ops.size()));
  return m.units(begin, end).size();
}

namespace {
const DevBuf& find_buffer(StepShape* s, const std::string& name) {
  if (!s) throw std::logic_error(fmt::format("cuda backend: buffer '{}' read before any step", name));
  auto it = s->buffers.find(name);
  if (it == s->buffers.end())
    throw std::logic_error(fmt::format("cuda backend: the current plan has no buffer '{}'", name));
  return it->second;
}
}  // namespace

Tensor CudaBackend::read(const std::string& buffer) {
  Impl& m = *impl_;
  const DevBuf& b = find_buffer(m.cur, buffer);
  m.sync_all(fmt::format("finishing the ops before reading '{}'", buffer).c_str());
  Tensor t(b.dtype, Shape(b.dev.d0, b.dev.d1, b.dev.d2));
  check(cudaMemcpy(t.bytes.data(), b.dev.p, t.bytes.size(), cudaMemcpyDeviceToHost), "reading buffer " + buffer);
  return t;
}

void CudaBackend::write(const std::string& buffer, const TensorView& data) {
  Impl& m = *impl_;
  const DevBuf& b = find_buffer(m.cur, buffer);
  const Shape shape(b.dev.d0, b.dev.d1, b.dev.d2);
  if (!(data.shape == shape))
    throw std::invalid_argument(
        fmt::format("cuda backend: buffer '{}' is {}, data {}", buffer, shape.str(), data.shape.str()));
  Tensor t(b.dtype, shape);
  const TensorView v = t.view();
  if (data.dtype == b.dtype) std::memcpy(t.bytes.data(), data.data, t.bytes.size());
  else
    for (int64_t i = 0; i < v.numel(); ++i) v.set(i, data.get(i));
  m.sync_all(fmt::format("finishing the ops before writing '{}'", buffer).c_str());
  check(cudaMemcpy(b.dev.p, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice), "writing buffer " + buffer);
}

std::vector<float> CudaBackend::read_state(int64_t layer) {
  Impl& m = *impl_;
  const DevState s = m.layer_state(layer, "read_state");
  m.sync_all("finishing the ops before reading a state");
  std::vector<float> out(m.state_floats);
  check(cudaMemcpy(out.data(), s.p, out.size() * sizeof(float), cudaMemcpyDeviceToHost),
        fmt::format("reading the state of layer {}", layer));
  return out;
}

void CudaBackend::write_state(int64_t layer, std::span<const float> state) {
  Impl& m = *impl_;
  const DevState s = m.layer_state(layer, "write_state");
  if (state.size() != m.state_floats)
    throw std::invalid_argument(fmt::format("cuda backend: state of layer {} needs {} values, got {}", layer,
                                            m.state_floats, state.size()));
  m.sync_all("finishing the ops before writing a state");
  check(cudaMemcpy(s.p, state.data(), state.size() * sizeof(float), cudaMemcpyHostToDevice),
        fmt::format("writing the state of layer {}", layer));
}

std::vector<double> CudaBackend::time_ops(int repeats) {
  Impl& m = *impl_;
  m.require_step("time_ops");
  cudaEvent_t a = nullptr, b = nullptr;
  check(cudaEventCreate(&a), "creating a timing event");
  check(cudaEventCreate(&b), "creating a timing event");
  std::vector<double> us;
  cudaGraphExec_t exec = nullptr;
  auto cleanup = [&] {
    if (exec) cudaGraphExecDestroy(exec);
    exec = nullptr;
  };
  m.k->set_pdl(m.opt.pdl && m.pdl_supported);
  try {
    for (const Resolved& r : m.cur->ops) {
      check(cudaStreamBeginCapture(m.stream, cudaStreamCaptureModeThreadLocal), "capturing a timed op");
      for (int i = 0; i < repeats; ++i) m.launch(r, m.stream);
      cudaGraph_t g = nullptr;
      check(cudaStreamEndCapture(m.stream, &g), fmt::format("capturing op {}", r.name));
      const cudaError_t ie = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      if (ie != cudaSuccess) fail(ie, fmt::format("instantiating the timing graph of op {}", r.name));
      check(cudaGraphLaunch(exec, m.stream), "warming a timed op");
      check(cudaEventRecord(a, m.stream), "recording a timing event");
      check(cudaGraphLaunch(exec, m.stream), fmt::format("timing op {}", r.name));
      check(cudaEventRecord(b, m.stream), "recording a timing event");
      check(cudaEventSynchronize(b), fmt::format("timing op {}", r.name));
      float ms = 0;
      check(cudaEventElapsedTime(&ms, a, b), "reading a timing event");
      us.push_back(1000.0 * double(ms) / repeats);
      cleanup();
    }
  } catch (...) {
    cleanup();
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    throw;
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return us;
}

}  // namespace rwkv::backends
