#pragma once
// The sync-interval sweep: every profile runs the op plan on its own API with
// a commit and a blocking wait every S dispatches (the sync-every schedule
// with split.every = S), S = 1, 2, 4, ... 1024 and a whole token. Written as CSV and as a
// plot of tokens/s against syncs per token (matplotlib of the system Python).
#include <string>
#include <vector>

#include "reference/plan/model_config.h"
#include "simgpu/dispatch.h"

namespace rwkv::simgpu {

struct SweepOptions {
  plan::ModelConfig config;
  WeightFormats formats;
  int64_t steps = 8;
  // Nested sets of sync points (each interval divides the next), so more syncs are
  // never faster along the curve; 0: only the token's read-back.
  std::vector<int64_t> intervals = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 0};
  std::vector<std::string> profiles;  // empty: every profile
  std::string schedule = "sync-every";
};

struct SweepRow {
  std::string profile, api;
  int64_t sync_every = 0;  // 0: only the token's read-back
  double syncs_per_token = 0, dispatches_per_token = 0, tokens_per_second = 0, cpu_busy = 0, gpu_busy = 0;
  std::string bound;
};

struct SweepResult {
  std::string config, quant;
  std::vector<SweepRow> rows;
};

SweepResult run_sweep(const SweepOptions& options);
std::string sweep_csv(const SweepResult& r);
std::string sweep_summary(const SweepResult& r);  // one line per profile: tok/s at the fewest and most syncs
// Writes DIR/sweep.csv and DIR/sweep.png (creating DIR). Refuses existing
// files unless force; throws std::runtime_error naming what failed (a
// missing matplotlib included).
void write_sweep(const SweepResult& r, const std::string& dir, bool force);

}  // namespace rwkv::simgpu
