// `rwkv-oracle calibrate --backend cuda`: measures the GPU's launch, sync,
// graph and readback costs, its bandwidth and f32 peak, and the device time of
// every op of a decode step and a prefill step of a synthetic model, and
// writes them as a simgpu device profile (simgpu/profiles/*.json fields; the
// per-kind efficiencies are fitted so that simgpu's kernel cost,
// bytes / (bandwidth * eff), reproduces each kind's measured time less the
// measured gap). Prints the per-kind table. Exit 0; 2 on bad usage or no GPU.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/bench_backend.h"
#include "cli/commands.h"
#include "reference/forward/step_layout.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/plan/model_config.h"
#include "simgpu/dispatch.h"
#ifdef RWKV_HAVE_CUDA
#include "backends/cuda/calibrate.h"
#include "backends/cuda/cuda_backend.h"
#endif

namespace rwkv::cli {

namespace {

struct CalibrateArgs {
  std::string backend = "cuda", config = "1.5b", formats = "fp16,q4_k", models_dir = "out/bench-models", out;
  int64_t chunk = 128, repeats = 20;
  bool force = false;
};

#ifdef RWKV_HAVE_CUDA
struct KindTotals {
  int64_t ops = 0;
  double us = 0, device_us = 0, bytes = 0, flops = 0;
};

nlohmann::json sourced(double v, const std::string& source) { return {{"value", v}, {"source", source}}; }

void run_calibrate(const CalibrateArgs& a) {
  if (a.backend != "cuda" && a.backend.rfind("cuda:", 0) != 0)
    throw std::invalid_argument(fmt::format("calibrate --backend {}: only the cuda backend is calibrated", a.backend));
  if (a.out.empty()) throw std::invalid_argument("calibrate: --out FILE.json is required");
  if (std::filesystem::exists(a.out) && !a.force)
    throw std::invalid_argument(fmt::format("{} already exists (use --force to overwrite)", a.out));
  std::string why;
  if (!backends::cuda_available(&why)) throw std::runtime_error("calibrate: " + why);
  const plan::ModelConfig cfg = plan::preset(a.config);
  const backends::cuda_calibrate::DeviceCosts c = backends::cuda_calibrate::measure(size_t(cfg.V) * 4);
  fmt::print("device: {}\n", c.device);
  fmt::print("launch {:.2f} us, launch+sync p50 {:.2f} (p10 {:.2f}, p90 {:.2f}), blocking {:.2f}, idle sync {:.2f}, "
             "gap {:.2f}, graph {:.3f}/kernel + {:.2f}/launch, event {:.2f}, readback {:.2f} us ({} B)\n"
             "read {:.0f} GB/s, copy {:.0f} GB/s, f32 peak {:.0f} GFLOP/s\n",
             c.encode_us, c.launch_sync_us, c.launch_sync_p10_us, c.launch_sync_p90_us, c.blocking_sync_us,
             c.idle_sync_us, c.gap_us, c.graph_kernel_us, c.graph_launch_us, c.event_us, c.readback_us,
             c.readback_bytes, c.read_gbps, c.copy_gbps, c.fp32_gflops);
  // Per kind: decode ops (T = 1) and prefill ops (T = chunk), timed apart.
  std::map<std::string, KindTotals> decode, prefill;
  std::map<std::string, KindTotals> decode_matmuls;  // by format and shape: where a GEMV's bandwidth goes
  std::stringstream formats(a.formats);
  for (std::string format; std::getline(formats, format, ',');) {
    const std::string path = bench_model_file(a.models_dir, a.config, format);
    const Rwkv7Weights w = load_rwkv7(path);
    backends::BackendOptions bo;
    bo.forward.activations = DType::f16;
    backends::CudaBackend b(backends::parse_cuda_backend_name(a.backend));
    b.load(w, bo);
    simgpu::WeightFormats wf;
    wf.layer = w.matrix("blocks.0.att.key.weight").format;
    wf.head = w.matrix("head.weight").format;
    for (int64_t T : {int64_t(1), a.chunk}) {
      std::vector<uint32_t> tokens(static_cast<size_t>(T));
      for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t(i * 7919 % size_t(w.config.V));
      const forward::Chunk chunk{0, tokens};
      const forward::StepLayout layout =
          forward::layout_step(std::span(&chunk, 1), forward::LogitsFor::last, 1, w.config.V);
      const plan::Plan p = plan::build_plan(w.config, T, layout.outputs);
      b.begin_step(p, layout);
      const std::vector<double> us = b.time_ops(int(T == 1 ? a.repeats : std::max<int64_t>(2, a.repeats / 5)));
      b.end_step();
      double step_us = 0;
      for (size_t i = 0; i < p.ops.size(); ++i) {
        const simgpu::Dispatch d = simgpu::describe_dispatch(p, i, wf);
        if (d.host) continue;
        KindTotals& k = (T == 1 ? decode : prefill)[d.kind];
        ++k.ops;
        k.us += us[i];
        step_us += us[i];
        k.device_us += std::max(0.05, us[i] - c.graph_kernel_us);
        k.bytes += d.bytes_read + d.bytes_written;
        k.flops += d.flops;
        if (T == 1 && p.ops[i].kernel == plan::Kernel::matmul) {
          const auto& m = w.matrix(p.ops[i].params.weights.at(0));
          KindTotals& s = decode_matmuls[fmt::format("{} K={} M={}", d.kind, m.K, m.M)];
          ++s.ops;
          s.us += us[i];
          s.device_us += std::max(0.05, us[i] - c.graph_kernel_us);
          s.bytes += d.bytes_read + d.bytes_written;
        }
      }
      fmt::print("{} {}-token step: {} dispatches, {:.1f} us of device time (sum of the ops, each timed in a "
                 "replayed graph)\n",
                 format, T, p.dispatch_count(), step_us);
    }
  }
  auto table = [&](const char* title, const std::map<std::string, KindTotals>& kinds) {
    fmt::print("\n{}\n| kind | ops | us per op | GB/s | x bandwidth | TFLOP/s |\n|---|---|---|---|---|---|\n", title);
    for (const auto& [kind, k] : kinds) {
      const double gbps = k.bytes / (k.device_us * 1e-6) / 1e9;
      fmt::print("| {} | {} | {:.2f} | {:.0f} | {:.3f} | {:.2f} |\n", kind, k.ops, k.us / double(k.ops), gbps,
                 gbps / c.read_gbps, k.flops / (k.us * 1e-6) / 1e12);
    }
  };
  table("decode (T = 1) ops by kind:", decode);
  table(fmt::format("prefill (T = {}) ops by kind:", a.chunk).c_str(), prefill);
  table("decode (T = 1) matmuls by shape:", decode_matmuls);
  std::map<std::string, KindTotals> kinds = decode;
  for (const auto& [kind, k] : prefill)
    if (kind.rfind("matmul_mat", 0) == 0) kinds[kind] = k;
  nlohmann::json eff = nlohmann::json::array();
  KindTotals other;
  for (const auto& [kind, k] : kinds) {
    const double gbps = k.bytes / (k.device_us * 1e-6) / 1e9;
    const double e = std::clamp(gbps / c.read_gbps, 1e-3, 1.0);
    eff.push_back({{"kind", kind},
                   {"bandwidth", sourced(e, fmt::format("measured: {} ops of {} {} steps ({}), {:.2f} us each less "
                                                        "the {:.2f} us per-kernel gap of a replayed graph; simgpu's "
                                                        "bytes",
                                                        k.ops, a.config, kind.rfind("matmul_mat", 0) == 0
                                                                             ? fmt::format("{}-token", a.chunk)
                                                                             : std::string("decode"),
                                                        a.formats, k.us / double(k.ops), c.graph_kernel_us))},
                   {"compute", sourced(1.0, "not limiting: the measured time is charged to bandwidth")}});
    if (kind.rfind("matmul", 0) != 0) {
      other.ops += k.ops;
      other.device_us += k.device_us;
      other.bytes += k.bytes;
    }
  }
  const double other_e = other.ops ? std::clamp(other.bytes / (other.device_us * 1e-6) / 1e9 / c.read_gbps, 1e-3, 1.0)
                                   : 0.5;
  eff.push_back({{"kind", "default"},
                 {"bandwidth", sourced(other_e, "measured: every non-matmul decode op together")},
                 {"compute", sourced(1.0, "not limiting")}});
  const std::string src = fmt::format("measured by rwkv-oracle calibrate on {}", c.device);
  const double latency = std::max(0.0, c.launch_sync_us - c.encode_us - c.gap_us - c.idle_sync_us);
  nlohmann::json j = {
      {"name", "cuda-measured"},
      {"description", fmt::format("{} through the rwkv-oracle CUDA backend (streams; CUDA graphs for replayed "
                                  "schedules), measured by rwkv-oracle calibrate",
                                  c.device)},
      {"device", c.device},
      {"api", "cuda"},
      {"role", "native"},
      {"peer", "nvidia-h100-vulkan"},
      {"immediate_launch", {{"value", true}, {"source", "CUDA streams: every launch is its own submission"}}},
      {"bandwidth_gbps", sourced(c.read_gbps, src + ": a kernel reading 4 GiB, best of 10")},
      {"peak_gflops", sourced(c.fp32_gflops, src + ": independent f32 FMA chains, best of 5")},
      {"encode_us", sourced(c.encode_us, src + ": host time per asynchronous launch, mean of 2000")},
      {"gap_us", sourced(c.gap_us, src + ": 2 t(S) - t(2S) of back-to-back spin kernels")},
      {"barrier_us", sourced(0, "stream order needs no barrier command")},
      {"cb_overhead_us", sourced(0, "a stream has no command buffers")},
      {"submit_us", sourced(0, "each launch is its own submission (encode_us)")},
      {"submit_latency_us",
       sourced(latency, src + ": launch + spinning sync p50 less launch, gap and idle sync")},
      {"wait_spin_us", sourced(c.idle_sync_us, src + ": cudaStreamSynchronize on an idle stream, p50")},
      {"wait_sleep_us",
       sourced(std::max(0.0, c.blocking_sync_us - c.encode_us - c.gap_us - latency),
               src + ": launch + cudaEventBlockingSync wait p50 less launch, gap and latency")},
      {"event_us", sourced(c.event_us, src + ": host time of cudaEventRecord + cudaStreamWaitEvent")},
      {"cross_event_us", sourced(10, "assumed (not measured): a Vulkan semaphore imported into CUDA")},
      {"handoff_us", sourced(1, "assumed (not measured)")},
      {"import_us", sourced(20, "assumed (not measured)")},
      {"readback_us", sourced(std::max(0.0, c.readback_us - c.idle_sync_us),
                              fmt::format("{}: sync + {} B D2H to pinned memory p50, less the idle sync", src,
                                          c.readback_bytes))},
      {"host_token_us", sourced(20, "assumed: the host's own work per token (not measured)")},
      {"replay_encode_us", sourced(0, "a CUDA graph's kernels are launched by the driver")},
      {"replay_submit_us", sourced(c.graph_launch_us, src + ": host time of one cudaGraphLaunch, p50")},
      {"replay_gap_us", sourced(c.graph_kernel_us, src + ": per kernel of a replayed graph of 100 empty kernels")},
      {"efficiency", eff},
  };
  const std::string tmp = a.out + ".tmp";
  {
    std::ofstream f(tmp);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error(fmt::format("{}: cannot write", tmp));
  }
  std::filesystem::rename(tmp, a.out);
  fmt::print("\nprofile: {}\n", a.out);
}
#else
void run_calibrate(const CalibrateArgs& a) {
  throw std::invalid_argument(fmt::format("calibrate --backend {}: this build has no CUDA backend", a.backend));
}
#endif

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("calibrate", "measure a GPU backend's launch, sync and kernel costs; write a simgpu "
                                              "device profile");
  auto* a = new CalibrateArgs;
  cmd->add_option("--backend", a->backend, "the backend (cuda, cuda:canonical)")->capture_default_str();
  cmd->add_option("--config", a->config, "synthetic model whose ops are timed")->capture_default_str();
  cmd->add_option("--formats", a->formats, "weight formats of the timed models")->capture_default_str();
  cmd->add_option("--models-dir", a->models_dir, "where synthetic models are written once and reused")
      ->capture_default_str();
  cmd->add_option("--chunk", a->chunk, "tokens of the timed prefill step")->capture_default_str();
  cmd->add_option("--repeats", a->repeats, "launches per timed op (decode)")->capture_default_str();
  cmd->add_option("--out", a->out, "the profile to write (JSON)")->required();
  cmd->add_flag("--force", a->force, "overwrite --out");
  cmd->callback([a] { run_calibrate(*a); });
}

}  // namespace rwkv::cli
