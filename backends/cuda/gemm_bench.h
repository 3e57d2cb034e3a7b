#pragma once
// Prefill matmul throughput against the tensor-core peak measured in the same
// run (`rwkv-oracle bench --backend cuda --gemm`): each matmul shape of a
// model (C x C, C x 4C with its squared ReLU, 4C x C, the head with f32
// logits) at several tokens per chunk, through the code the backend runs in
// fast mode (cublas_gemm.h: dequantisation, GEMM, activation), so a quantised
// format's time includes its dequantisation.
#include <cstdint>
#include <string>
#include <vector>

namespace rwkv::backends::cuda_gemm_bench {

struct Peak {
  double tflops = 0;   // cuBLAS f16 x f16 (f32 accumulation, f16 out) n^3, mean of 10 after 3 warm-ups
  int64_t n = 0;
};

struct Row {
  std::string config, shape, format;  // "1.5b", "C x 4C (sqrelu)", "fp16" | "q4_k"
  int64_t K = 0, M = 0, T = 0;
  double us = 0;          // one matmul, everything included (mean of the timed repeats)
  double dequant_us = 0;  // the dequantisation alone (0 for fp16)
  double tflops = 0;      // 2 M K T / us: the model's FLOPs, not the extra of a split or dequant
  double of_peak = 0;     // tflops / the peak measured in the same run
};

// The library GEMM must be available (cuda::cublas_library()); throws otherwise.
Peak measure_peak(int64_t n = 8192);
// Every shape of every config at every T, fp16 and/or q4_k (`formats`).
std::vector<Row> sweep(const std::vector<std::string>& configs, const std::vector<int64_t>& tokens,
                       const std::vector<std::string>& formats, double peak_tflops);

}  // namespace rwkv::backends::cuda_gemm_bench
