// rwkv-oracle bench --backend cuda (bench_backend.h).
//
// For each synthetic model and weight format: the weights are uploaded once,
// then each strategy runs a prompt (chunks of --chunk tokens, logits of each
// chunk's last token) and --decode single-token steps (after 3 untimed ones
// that build the plan, the buffers and, for graphs, the capture), every
// step's logits copied back to the host. Beside each figure:
//   bandwidth floor  weight bytes a decode step must read / read bandwidth
//                    measured in this run (a kernel reading 4 GiB)
//   dispatch floor   kernels a decode step launches (CudaBackend::launches:
//                    one per op, fewer with fuse) x the measured launch cost: the host
//                    cost of a launch for stream strategies, the per-kernel time
//                    of a replayed graph for `graph`
// Fractions are measured tokens/s over the floor's tokens/s.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bench/forward_bench.h"
#include "cli/bench_backend.h"
#include "reference/forward/chunking.h"
#include "reference/forward/step_layout.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/model/synth.h"
#include "reference/plan/model_config.h"
#include "reference/util/rng.h"
#ifdef RWKV_HAVE_CUDA
#include "backends/cuda/calibrate.h"
#include "backends/cuda/cublas_gemm.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/gemm_bench.h"
#endif

namespace rwkv::cli {

std::string bench_model_file(const std::string& models_dir, const std::string& config, const std::string& format) {
  const plan::ModelConfig c = plan::preset(config);
  std::filesystem::create_directories(models_dir);
  const std::string st = fmt::format("{}/synth-{}-seed1.st", models_dir, c.name);
  if (!std::filesystem::exists(st)) {
    fmt::print(stderr, "bench: writing {} (once)\n", st);
    synth_safetensors(c, 1, st, false);
  }
  if (format == "fp16") return st;
  const std::string gguf = fmt::format("{}/synth-{}-seed1-{}.gguf", models_dir, c.name, format);
  if (!std::filesystem::exists(gguf)) {
    fmt::print(stderr, "bench: writing {} (once)\n", gguf);
    const Rwkv7Weights w = load_rwkv7(st);
    GgufExportOptions o;
    o.type = parse_gguf_model_type(format);
    write_rwkv7_gguf(w, gguf, o);
  }
  return gguf;
}

#ifndef RWKV_HAVE_CUDA
void run_backend_bench(const BackendBenchArgs& a) {
  throw std::invalid_argument(fmt::format("bench --backend {}: this build has no CUDA backend (no nvcc was found)",
                                          a.backend));
}
#else
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// bench --gemm: the prefill matmul shapes against the measured peak.
void run_gemm_bench(const BackendBenchArgs& a) {
  std::vector<int64_t> tokens;
  for (const std::string& t : split_list(a.gemm_tokens)) {
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (*end != '\0' || v < 32 || v % 32 != 0)
      throw std::invalid_argument(fmt::format("--gemm {}: '{}' is not a multiple of 32", a.gemm_tokens, t));
    tokens.push_back(v);
  }
  const std::string device = backends::cuda_device_description(0);
  namespace gb = backends::cuda_gemm_bench;
  const gb::Peak peak = gb::measure_peak();
  std::string table = fmt::format(
      "device: {}\nlibrary: {}\npeak: {:.0f} TFLOP/s (cuBLAS cublasGemmEx f16 x f16, f32 accumulation, f16 out, "
      "{}^3, mean of 10 after 3 warm-ups)\n\n| model | matmul | K | M | weights | T | us | dequant us | TFLOP/s | "
      "x peak |\n|---|---|---|---|---|---|---|---|---|---|\n",
      device, cuda::cublas_description(), peak.tflops, peak.n);
  fmt::print("{}", table);
  for (const gb::Row& r : gb::sweep(split_list(a.configs), tokens, split_list(a.formats), peak.tflops)) {
    const std::string line =
        fmt::format("| {} | {} | {} | {} | {} | {} | {:.1f} | {} | {:.1f} | {:.3f} |\n", r.config, r.shape, r.K, r.M,
                    r.format, r.T, r.us, r.format == "fp16" ? std::string("-") : fmt::format("{:.1f}", r.dequant_us),
                    r.tflops, r.of_peak);
    fmt::print("{}", line);
    std::fflush(stdout);
    table += line;
  }
  const std::string notes =
      "\nOne matmul y = act(W x) through the backend's fast-mode path (cublas_gemm.h), mean of ~20 ms of repeats: "
      "TFLOP/s counts the model's 2 M K T; a Q4_K row's time includes dequantising W to f16 (the 'dequant us' "
      "column, timed alone), and the Q4_K head (f32 logits) runs two GEMMs (the hi/lo split).\n";
  fmt::print("{}", notes);
  table += notes;
  if (!a.out.empty()) {
    std::ofstream f(a.out);
    f << table;
    if (!f) throw std::runtime_error(fmt::format("{}: cannot write the GEMM table", a.out));
  }
}

struct Row {
  std::string model, format, strategy;
  double prefill_tps = 0, decode_tps = 0;
  double bw_floor_tps = 0, dispatch_floor_tps = 0;
  int64_t dispatches = 0;
  double weight_gb = 0, prefill_tflops = 0;
};

}  // namespace

void run_backend_bench(const BackendBenchArgs& a) {
  if (a.backend != "cuda" && a.backend.rfind("cuda:", 0) != 0)
    throw std::invalid_argument(fmt::format("bench --backend {}: only the cuda backend is benchmarked here", a.backend));
  if (a.chunk != 1 && a.chunk % 32 != 0)
    throw std::invalid_argument(fmt::format("--chunk {}: expected 1 or a multiple of 32", a.chunk));
  std::string why;
  if (!backends::cuda_available(&why)) throw std::runtime_error("bench --backend cuda: " + why);
  if (!a.gemm_tokens.empty()) return run_gemm_bench(a);
  const backends::CudaOptions base = backends::parse_cuda_backend_name(a.backend);
  std::vector<backends::CudaOptions> strategies;
  for (const std::string& s : split_list(a.strategies)) {
    std::string opts = s;  // "graph+pdl": options of one strategy joined by '+'
    for (char& ch : opts)
      if (ch == '+') ch = ',';
    backends::CudaOptions o = backends::parse_cuda_backend_name("cuda:" + opts);
    o.canonical = base.canonical;
    strategies.push_back(o);
  }
  const std::vector<std::string> configs = split_list(a.configs), formats = split_list(a.formats);
  for (const std::string& f : formats)
    if (f != "fp16") parse_gguf_model_type(f);  // throws listing the types
  const std::string device = backends::cuda_device_description(0);
  const backends::cuda_calibrate::DeviceCosts costs = backends::cuda_calibrate::measure(65536 * 4);
  fmt::print("device: {}\nmeasured: read bandwidth {:.0f} GB/s (4 GiB, best of 10), D2D copy {:.0f} GB/s (read + "
             "write), launch {:.2f} us host, launch + sync {:.2f} us (p50), idle sync {:.2f} us, gap {:.2f} us, "
             "graph {:.2f} us per kernel + {:.2f} us per launch, f32 FMA peak {:.0f} GFLOP/s\n",
             device, costs.read_gbps, costs.copy_gbps, costs.encode_us, costs.launch_sync_us, costs.idle_sync_us,
             costs.gap_us, costs.graph_kernel_us, costs.graph_launch_us, costs.fp32_gflops);
  std::vector<Row> rows;
  std::string gemm_path;
  for (const std::string& cfg : configs) {
    const plan::ModelConfig c = plan::preset(cfg);
    for (const std::string& format : formats) {
      const std::string path = bench_model_file(a.models_dir, cfg, format);
      const Rwkv7Weights w = load_rwkv7(path);
      const double wbytes = double(bench::decode_weight_bytes(w));
      const size_t decode_ops = plan::build_plan(w.config, 1).ops.size();
      const double macs = double(bench::layer_matrix_macs(w));
      backends::BackendOptions bo;
      bo.forward.activations = DType::f16;
      backends::CudaBackend b(strategies.at(0));
      b.load(w, bo);
      if (gemm_path.empty()) {
        gemm_path = b.prefill_gemm_path();
        fmt::print("prefill matmuls: {}\n", gemm_path);
      }
      Rng rng(1);
      std::vector<uint32_t> prompt(size_t(a.prefill)), gen(size_t(a.decode + 3));
      for (uint32_t& t : prompt) t = uint32_t(rng.next_u64() % uint64_t(w.config.V));
      for (uint32_t& t : gen) t = uint32_t(rng.next_u64() % uint64_t(w.config.V));
      forward::PlanCache plans;
      for (const backends::CudaOptions& so : strategies) {
        b.set_options(so);
        const bool inflight = so.strategy == backends::CudaStrategy::inflight;
        const int64_t first = b.steps_begun();
        std::vector<float> sink(size_t(w.config.V));
        auto run_step = [&](std::span<const uint32_t> tokens) {
          const forward::Chunk chunk{0, tokens};
          const forward::StepLayout layout =
              forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1, w.config.V);
          const plan::Plan& p = plans.get(w.config, layout.T(), layout.outputs);
          b.begin_step(p, layout);
          b.run_ops(0, p.ops.size());
          if (!inflight) {
            const Tensor l = b.read("logits");
            std::memcpy(sink.data(), l.bytes.data(), sink.size() * sizeof(float));
          }
          b.end_step();
          const int64_t done = b.steps_begun() - first;  // steps of this strategy so far
          if (inflight && done >= so.in_flight) {  // the logits of the step N-1 back
            const float* l = b.logits_of(b.steps_begun() - so.in_flight);
            std::memcpy(sink.data(), l, sink.size() * sizeof(float));
          }
        };
        // Untimed warm-up of both shapes (plans, buffers, graph captures).
        run_step(std::span(prompt).subspan(0, size_t(std::min<int64_t>(a.chunk, a.prefill))));
        for (int i = 0; i < 3; ++i) run_step(std::span(gen).subspan(size_t(i), 1));
        b.synchronize();
        const int64_t dispatches = int64_t(b.launches(0, decode_ops));  // of the decode step, the last one run
        Row r;
        r.model = cfg;
        r.format = format;
        r.strategy = backends::strategy_name(so.strategy);
        if (inflight) r.strategy += fmt::format("={}", so.in_flight);
        if (so.pdl) r.strategy += "+pdl";
        if (so.wmma) r.strategy += "+wmma";
        if (so.dag) r.strategy += "+dag";
        if (so.fuse) r.strategy += "+fuse";
        if (so.merge) r.strategy += "+merge";
        const auto t0 = Clock::now();
        size_t at = 0;
        for (int64_t len : forward::chunk_lengths(a.prefill, a.chunk)) {
          run_step(std::span(prompt).subspan(at, size_t(len)));
          at += size_t(len);
        }
        b.synchronize();
        r.prefill_tps = double(a.prefill) / seconds_since(t0);
        const auto t1 = Clock::now();
        for (int64_t i = 0; i < a.decode; ++i) run_step(std::span(gen).subspan(size_t(3 + i), 1));
        b.synchronize();
        r.decode_tps = double(a.decode) / seconds_since(t1);
        r.dispatches = dispatches;
        r.weight_gb = wbytes / 1e9;
        r.bw_floor_tps = costs.read_gbps * 1e9 / wbytes;
        const double per_launch =
            so.strategy == backends::CudaStrategy::graph ? costs.graph_kernel_us : costs.encode_us;
        r.dispatch_floor_tps = 1e6 / (double(dispatches) * per_launch);
        r.prefill_tflops = 2.0 * macs * r.prefill_tps / 1e12;
        fmt::print(stderr, "bench: {} {} {}: prefill {:.0f} tok/s, decode {:.1f} tok/s\n", r.model, r.format,
                   r.strategy, r.prefill_tps, r.decode_tps);
        rows.push_back(r);
      }
    }
  }
  std::string table = fmt::format(
      "\n| model | weights | strategy | prefill tok/s | prefill TFLOP/s | decode tok/s | ms/token | weight GB | "
      "bandwidth floor tok/s | x floor | dispatches | dispatch floor tok/s | x floor |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    table += fmt::format("| {} | {} | {} | {:.0f} | {:.1f} | {:.1f} | {:.3f} | {:.3f} | {:.0f} | {:.2f} | {} | {:.0f} | "
                         "{:.2f} |\n",
                         r.model, r.format, r.strategy, r.prefill_tps, r.prefill_tflops, r.decode_tps,
                         1e3 / r.decode_tps, r.weight_gb, r.bw_floor_tps, r.decode_tps / r.bw_floor_tps, r.dispatches,
                         r.dispatch_floor_tps, r.decode_tps / r.dispatch_floor_tps);
  table += fmt::format("\nprefill: {} tokens in chunks of {} (logits of each chunk's last token); decode: {} "
                       "single-token steps, each step's logits copied to the host; f16 activations. {} ({}; prefill matmuls: {})\n",
                       a.prefill, a.chunk, a.decode, device, base.canonical ? "canonical kernels" : "fast kernels",
                       gemm_path);
  fmt::print("{}", table);
  if (!a.out.empty()) {
    std::ofstream f(a.out);
    f << "device: " << device << "\n" << table;
    if (!f) throw std::runtime_error(fmt::format("{}: cannot write the bench table", a.out));
  }
}
#endif

}  // namespace rwkv::cli
