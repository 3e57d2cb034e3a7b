// `rwkv-oracle bench`: prefill and decode tokens/s of the plain reference
// forward pass on synthetic models (or a given model file), on all cores, and
// what dumping a golden file costs on top; each figure beside the machine's
// limits measured in the same run (read bandwidth for decode, peak unfused
// mul+add for prefill).
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "bench/forward_bench.h"
#include "bench/machine_limits.h"
#include "cli/bench_backend.h"
#include "cli/commands.h"
#include "reference/model/rwkv7_weights.h"
#include "reference/model/rwkv7_gguf.h"
#include "reference/model/synth.h"
#include "reference/plan/model_config.h"
#include "vectors/golden_writer.h"

namespace rwkv::cli {

namespace {

struct BenchArgs {
  std::string configs = "0.1b,0.4b,1.5b", formats = "fp16,q4_k", model, models_dir = "out/bench-models",
              precision = "f16";
  int64_t prefill = 256, decode = 32, chunk = 128;
  bool golden = true;
  int64_t profile = 0;  // decode steps of the per-op profile (0: none)
  int64_t repeat = 3;   // plain and dump-alone runs, interleaved: the best of each phase
};

// The faster of two timings of each phase (a shared machine only ever adds time).
bench::ForwardBenchResult best_of(bench::ForwardBenchResult a, const bench::ForwardBenchResult& b) {
  if (b.prefill.seconds < a.prefill.seconds) a.prefill = b.prefill;
  if (b.decode.seconds < a.decode.seconds) a.decode = b.decode;
  return a;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The synthetic model of a preset as llama.cpp's GGUF (fp16 or llama-quantize's
// Q4_K mix), written once into the models folder and reused: the same files
// other engines can be timed on.
std::string synthetic_model(const BenchArgs& a, const plan::ModelConfig& c, const std::string& format) {
  std::filesystem::create_directories(a.models_dir);
  const GgufModelType type = format == "fp16" ? GgufModelType::f16 : parse_gguf_model_type(format);
  const std::string path = fmt::format("{}/synth-{}-seed1-{}.gguf", a.models_dir, c.name, format);
  if (!std::filesystem::exists(path)) {
    fmt::print(stderr, "bench: writing {} (once)\n", path);
    synth_gguf(c, 1, path, type, false);
  }
  return path;
}

struct Row {
  std::string model, format;
  bench::ForwardBenchResult plain;
  std::optional<bench::ForwardBenchResult> dump, golden;  // the tensors alone; rwkv-oracle golden's defaults
  double golden_mb = 0;
};

void print_rows(const std::vector<Row>& rows, const bench::MachineLimits& lim, int64_t chunk, int64_t repeat,
                double file_write_bps) {
  fmt::print("\n| model | weights | prefill tok/s | GFLOP/s (x peak) | decode tok/s | weight GB/s (x bandwidth) |"
             " dump alone: prefill / decode | dump MB per token: prefill / decode | writing them at the file rate "
             "| golden (defaults): prefill / decode |\n"
             "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    auto over = [&](const std::optional<bench::ForwardBenchResult>& g) {
      if (!g) return std::string("-");
      return fmt::format("+{:.0f}% / +{:.0f}%",
                         100.0 * (r.plain.prefill.tokens_per_second() / g->prefill.tokens_per_second() - 1.0),
                         100.0 * (r.plain.decode.tokens_per_second() / g->decode.tokens_per_second() - 1.0));
    };
    // The machine's floor under the dump: its bytes at the measured file write rate, over the plain run's time.
    std::string per_token = "-", floor = "-";
    if (r.dump && file_write_bps > 0) {
      const bench::PhaseTiming &p = r.dump->prefill, &d = r.dump->decode;
      per_token = fmt::format("{:.2f} / {:.2f}", double(p.observed_bytes) / 1e6 / double(p.tokens),
                              double(d.observed_bytes) / 1e6 / double(d.tokens));
      floor = fmt::format("+{:.0f}% / +{:.0f}%", 100.0 * double(p.observed_bytes) / file_write_bps / r.plain.prefill.seconds,
                          100.0 * double(d.observed_bytes) / file_write_bps / r.plain.decode.seconds);
    }
    fmt::print("| {} | {} | {:.1f} | {:.1f} ({:.2f}) | {:.2f} | {:.1f} ({:.2f}) | {} | {} | {} | {} |\n", r.model,
               r.format, r.plain.prefill.tokens_per_second(), r.plain.prefill_gflops(),
               r.plain.prefill_gflops() / lim.peak_gflops, r.plain.decode.tokens_per_second(), r.plain.decode_gbps(),
               r.plain.decode_gbps() / lim.read_gbps, over(r.dump), per_token, floor, over(r.golden));
  }
  fmt::print("\nprefill: {} tokens in chunks of {}, logits of each chunk's last token; decode: {} single-token steps "
             "after the prompt. dump alone: the same run with every op output written, uncompressed, the state "
             "after the last step (rwkv-oracle golden --envelope none --compress none --states last). golden: "
             "rwkv-oracle golden's defaults, which add each tensor's float64 error of the op and of the whole run, "
             "deflate and the state after every step. +x% = time added. Plain and dump-alone runs: the best of {} "
             "interleaved runs per phase; golden: one run.{}\n",
             rows.empty() ? 0 : rows[0].plain.prefill.tokens, chunk, rows.empty() ? 0 : rows[0].plain.decode.tokens,
             repeat,
             file_write_bps > 0
                 ? fmt::format(" The file rate (page cache, fresh file, as the dump writes): {:.0f} MB/s, best of 2 "
                               "passes of 512 MiB; 'writing them at the file rate' is the time that alone takes, the "
                               "floor under the dump's cost.",
                               file_write_bps / 1e6)
                 : std::string(" (--no-golden: no dump, no file rate measured.)"));
}

void run_bench(const BenchArgs& a) {
  if (a.precision != "f16" && a.precision != "f32")
    throw std::invalid_argument(fmt::format("--precision '{}': expected f16 or f32", a.precision));
  struct Model {
    std::string label, format, path;  // path "" until written
  };
  std::vector<Model> models;
  if (!a.model.empty()) {
    models.push_back({std::filesystem::path(a.model).filename().string(), "file", a.model});
  } else {
    for (const std::string& f : split(a.formats))
      if (f != "fp16" && f != "q4_k" && f != "q6_k" && f != "q8_0")
        throw std::invalid_argument(fmt::format("--formats: '{}' is not one of fp16, q4_k, q6_k, q8_0", f));
    for (const std::string& name : split(a.configs)) {
      (void)plan::preset(name);  // throws listing the names
      for (const std::string& f : split(a.formats)) models.push_back({name, f, ""});
    }
  }
  const bench::MachineLimits& lim = bench::machine_limits();
  fmt::print("machine: {} threads, {}; read bandwidth {:.1f} GB/s ({} MiB, best of 10), peak unfused mul+add "
             "{:.0f} GFLOP/s\n",
             lim.threads, lim.simd, lim.read_gbps, lim.read_bytes >> 20, lim.peak_gflops);
  bench::ForwardBenchOptions o;
  o.prefill_tokens = a.prefill;
  o.decode_tokens = a.decode;
  o.chunk = a.chunk;
  o.activations = a.precision == "f32" ? DType::f32 : DType::f16;
  double file_write_bps = 0;
  if (a.golden) {
    std::filesystem::create_directories(a.models_dir);
    file_write_bps = bench::measure_file_write(a.models_dir, size_t(512) << 20, 2);
  }
  std::vector<Row> rows;
  for (const Model& m : models) {
    const std::string path = m.path.empty() ? synthetic_model(a, plan::preset(m.label), m.format) : m.path;
    const Rwkv7Weights w = load_rwkv7(path);
    Row r;
    r.model = m.label;
    r.format = m.format == "file" ? std::string(format_name(w.matrix("blocks.0.att.key.weight").format)) : m.format;
    const std::string out = fmt::format("{}/bench-golden-{}.h5.tmp", a.models_dir, ::getpid());
    // The golden file of a run, dumped (full = false: every op output, nothing else) or with the
    // command's defaults (full: envelopes, deflate, every step's state), as rwkv-oracle golden writes it.
    auto with_golden = [&](bool full) {
      std::filesystem::create_directories(a.models_dir);
      vectors::H5Writer h5(out, vectors::Overwrite::yes,
                           full ? vectors::Compression::deflate : vectors::Compression::none,
                           vectors::Threading::background);
      vectors::GoldenOptions go;
      go.envelope = full;
      go.states_every_step = full;
      vectors::GoldenWriter g(h5, go);
      const bench::ForwardBenchResult t = bench::bench_forward(w, o, &g, [&g] { return g.bytes_written(); });
      h5.close();
      return t;
    };
    // Plain and dump-alone runs alternate, so that a slow minute of a shared
    // machine hits both alike; each phase keeps its best.
    for (int64_t i = 0; i < a.repeat; ++i) {
      const bench::ForwardBenchResult p = bench::bench_forward(w, o);
      r.plain = i == 0 ? p : best_of(r.plain, p);
      if (!a.golden) continue;
      const bench::ForwardBenchResult d = with_golden(false);
      r.dump = r.dump ? best_of(*r.dump, d) : d;
    }
    if (a.profile > 0) {
      const bench::DecodeProfile p = bench::profile_decode(w, o, a.profile);
      fmt::print("\ndecode profile, {} {}: {:.2f} ms per step over {} steps ({:.2f} ms outside the ops)\n"
                 "| op | per step | ms per step | share |\n|---|---|---|---|\n",
                 r.model, r.format, p.step_ms, p.steps, p.other_ms);
      for (const auto& e : p.entries)
        fmt::print("| {} | {} | {:.3f} | {:.1f}% |\n", e.key, e.ops_per_step, e.ms_per_step,
                   100.0 * e.ms_per_step / p.step_ms);
    }
    if (a.golden) {
      r.golden = with_golden(true);  // once: 10-25x the plain run, noise matters less
      r.golden_mb = double(std::filesystem::file_size(out)) / 1e6;
      std::filesystem::remove(out);
    }
    fmt::print(stderr, "bench: {} {} done\n", r.model, r.format);
    rows.push_back(std::move(r));
  }
  print_rows(rows, lim, a.chunk, a.repeat, file_write_bps);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "prefill and decode tokens/s of the reference forward, golden dump cost");
  auto* a = new BenchArgs;
  auto* g = new BackendBenchArgs;
  cmd->add_option("--backend", g->backend, "a GPU backend to bench instead of the reference (cuda, cuda:canonical): "
                                           "tokens/s per strategy beside the bandwidth and dispatch floors");
  cmd->add_option("--strategies", g->strategies, "with --backend: submission strategies")->capture_default_str();
  cmd->add_option("--out", g->out, "with --backend: also write the table (Markdown) to this file");
  cmd->add_option("--gemm", g->gemm_tokens, "with --backend cuda: instead of the model runs, time each prefill "
                                            "matmul shape of --configs (fp16, q4_k) at these tokens per chunk, e.g. "
                                            "128,512,4096, against a cuBLAS f16 8192^3 product's rate");
  cmd->add_option("--configs", a->configs, "synthetic model sizes, comma-separated")->capture_default_str();
  cmd->add_option("--formats", a->formats, "weights of the synthetic models (GGUF): fp16, q4_k, q6_k, q8_0")
      ->capture_default_str();  // shared with --backend
  cmd->add_option("--model", a->model, "a model file (.st or .gguf) instead of the synthetic ones");
  cmd->add_option("--models-dir", a->models_dir, "where synthetic models are written once and reused")
      ->capture_default_str();
  cmd->add_option("--prefill", a->prefill, "prompt tokens")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--chunk", a->chunk, "prompt chunk (1 or a multiple of 32)")->capture_default_str();
  cmd->add_option("--decode", a->decode, "generated tokens")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--precision", a->precision, "activations f16 or f32")->capture_default_str();
  cmd->add_option("--profile", a->profile, "also time this many decode steps op by op: ms per step per op kind")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--repeat", a->repeat, "plain and dump-alone runs, interleaved; each phase's best is quoted")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--golden,!--no-golden", a->golden, "also time the run with a golden file written")
      ->capture_default_str();
  cmd->callback([a, g, cmd] {
    if (cmd->count("--backend") == 0) return run_bench(*a);
    if (cmd->count("--configs")) g->configs = a->configs;
    if (cmd->count("--formats")) g->formats = a->formats;
    g->models_dir = a->models_dir;
    if (cmd->count("--prefill")) g->prefill = a->prefill;
    if (cmd->count("--chunk")) g->chunk = a->chunk;
    if (cmd->count("--decode")) g->decode = a->decode;
    run_backend_bench(*g);
  });
}

}  // namespace rwkv::cli
