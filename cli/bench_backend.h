#pragma once
// `rwkv-oracle bench --backend cuda`: the CUDA backend's prefill and decode
// tokens/s under each submission strategy, beside the floors measured in the
// same run (cmd_bench_backend.cpp).
#include <cstdint>
#include <string>

namespace rwkv::cli {

struct BackendBenchArgs {
  std::string backend = "cuda";
  std::string configs = "0.1b,0.4b,1.5b,2.9b";
  std::string formats = "fp16,q4_k";
  std::string strategies = "op,layer,token,graph,inflight=3";
  std::string models_dir = "out/bench-models";
  std::string out;  // also write the table (Markdown) here
  // Non-empty: instead of the model runs, the prefill matmul shapes of
  // `configs` at these tokens per chunk ("128,512"), `formats` fp16 and/or
  // q4_k, against the tensor-core peak measured in the same run (gemm_bench.h).
  std::string gemm_tokens;
  int64_t prefill = 512, chunk = 128, decode = 64;
};

void run_backend_bench(const BackendBenchArgs& a);

// The synthetic model of preset `config` (seed 1) in `format` (fp16: web-rwkv
// .st; q4_k, q6_k, q8_0: llama.cpp rwkv7 GGUF quantised from it), written
// into `models_dir` once and reused.
std::string bench_model_file(const std::string& models_dir, const std::string& config, const std::string& format);

}  // namespace rwkv::cli
