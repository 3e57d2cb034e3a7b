#pragma once
// The speed of the plain reference forward pass on a loaded model: prefill
// (a prompt cut into steps as web-rwkv does, reference/forward/chunking.h)
// and decode (one token per step), tokens per second, with the weight
// traffic a decode step cannot avoid so that decode can be quoted against the
// machine's read bandwidth. `rwkv-oracle bench` prints these; an observer
// (e.g. the golden writer) can ride along to measure what it costs on top.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "reference/model/rwkv7_weights.h"

namespace rwkv::bench {

struct ForwardBenchOptions {
  int64_t prefill_tokens = 256;
  int64_t chunk = 128;        // steps of the prompt (1 or a multiple of 32)
  int64_t decode_tokens = 32;
  DType activations = DType::f16;  // web-rwkv's default
  uint64_t seed = 1;               // token ids: seeded, uniform below V
};

struct PhaseTiming {
  int64_t tokens = 0;
  double seconds = 0;
  uint64_t observed_bytes = 0;  // what the observer wrote during the phase (observer_bytes given)
  double tokens_per_second() const { return seconds > 0 ? double(tokens) / seconds : 0; }
};

struct ForwardBenchResult {
  PhaseTiming prefill, decode;
  uint64_t decode_weight_bytes = 0;  // weight bytes one decode step must read (decode_weight_bytes())
  uint64_t matrix_macs = 0;          // multiply-adds per token through the layer matrices (not the head)
  double decode_gbps() const { return double(decode_weight_bytes) * decode.tokens_per_second() / 1e9; }
  double prefill_gflops() const { return 2.0 * double(matrix_macs) * prefill.tokens_per_second() / 1e9; }
};

// Bytes a single-token step reads from the weights: every matrix (format
// bytes + metadata), every vector, and one row of the embedding table.
uint64_t decode_weight_bytes(const Rwkv7Weights& w);
// Multiply-adds per token through all matrices except the head.
uint64_t layer_matrix_macs(const Rwkv7Weights& w);

// Time per op kind over single-token decode steps (an observer, so the
// steps run exactly as bench_forward's): matmuls keyed by their op name
// without the layer ("att.matmul_k", "head.matmul"), every other op by its
// kernel ("time_mix_v7"). `other` is a step's time outside the ops (begin and
// end of step: buffer set-up, the logits copy).
struct OpProfileEntry {
  std::string key;
  int64_t ops_per_step = 0;
  double ms_per_step = 0;
};
struct DecodeProfile {
  int64_t steps = 0;
  double step_ms = 0;   // wall time of one step (best-of is not taken: the mean)
  double other_ms = 0;  // step_ms minus the ops
  std::vector<OpProfileEntry> entries;  // largest first
};
// Runs `prefill_tokens` of prompt as one chunk (untimed), then `steps` timed
// decode steps under the profiling observer.
DecodeProfile profile_decode(const Rwkv7Weights& w, const ForwardBenchOptions& options, int64_t steps);

// Runs prefill then decode from a zero state; `observer` (may be null) sees
// every op of both; `observer_bytes`, when given, says how many bytes the
// observer has written so far (GoldenWriter::bytes_written), to split them by
// phase. Throws std::invalid_argument on a bad chunk or counts.
ForwardBenchResult bench_forward(const Rwkv7Weights& w, const ForwardBenchOptions& options,
                                 forward::OpObserver* observer = nullptr,
                                 const std::function<uint64_t()>& observer_bytes = {});

}  // namespace rwkv::bench
