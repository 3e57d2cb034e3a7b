#include "bench/forward_bench.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "reference/forward/chunking.h"
#include "reference/util/rng.h"

namespace rwkv::bench {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t matrix_bytes(const Matrix& m) { return uint64_t(m.data_bytes) + uint64_t(m.meta_count) * sizeof(f16); }

// Reads every weight byte once, so that a memory-mapped model's pages are in
// memory before the clock starts (a cold page comes from disk, and this
// machine's memory monitor evicts file pages left untouched for a while).
uint64_t touch_weights(const Rwkv7Weights& w) {
  uint64_t sum = 0;
  auto touch = [&](const void* p, size_t n) {
    const auto* b = static_cast<const volatile uint8_t*>(p);
    for (size_t i = 0; i < n; i += 4096) sum += b[i];
    if (n) sum += b[n - 1];
  };
  for (const auto& [name, m] : w.matrices) {
    touch(m.data, m.data_bytes);
    touch(m.meta, m.meta_count * sizeof(f16));
  }
  for (const auto& [name, v] : w.vectors) touch(v.data, size_t(v.shape.numel()) * sizeof(f16));
  return sum;
}

}  // namespace

uint64_t decode_weight_bytes(const Rwkv7Weights& w) {
  uint64_t bytes = 0;
  for (const auto& [name, m] : w.matrices) bytes += matrix_bytes(m);
  for (const auto& [name, v] : w.vectors) {
    if (name == "emb.weight") bytes += uint64_t(v.shape[0]) * sizeof(f16);  // one row is gathered
    else bytes += uint64_t(v.shape.numel()) * sizeof(f16);
  }
  return bytes;
}

uint64_t layer_matrix_macs(const Rwkv7Weights& w) {
  uint64_t macs = 0;
  for (const auto& [name, m] : w.matrices)
    if (name != "head.weight") macs += uint64_t(m.K) * uint64_t(m.M);
  return macs;
}

ForwardBenchResult bench_forward(const Rwkv7Weights& w, const ForwardBenchOptions& o, forward::OpObserver* observer,
                                 const std::function<uint64_t()>& observer_bytes) {
  auto bytes_now = [&] { return observer_bytes ? observer_bytes() : uint64_t(0); };
  if (o.prefill_tokens < 1 || o.decode_tokens < 1)
    throw std::invalid_argument(fmt::format("bench: prefill ({}) and decode ({}) token counts must be >= 1",
                                            o.prefill_tokens, o.decode_tokens));
  const std::vector<int64_t> steps = forward::chunk_lengths(o.prefill_tokens, o.chunk);
  Rng rng(o.seed);
  const uint64_t V = uint64_t(w.config.V);
  std::vector<uint32_t> prompt(size_t(o.prefill_tokens));
  for (uint32_t& t : prompt) t = uint32_t(rng.next_u64() % V);
  std::vector<uint32_t> generated(size_t(o.decode_tokens) + 1);
  for (uint32_t& t : generated) t = uint32_t(rng.next_u64() % V);

  forward::ForwardOptions fo;
  fo.activations = o.activations;
  forward::Executor ex(w, fo);
  ex.set_observer(observer);
  ForwardBenchResult r;
  r.decode_weight_bytes = decode_weight_bytes(w);
  r.matrix_macs = layer_matrix_macs(w);

  volatile uint64_t sink = touch_weights(w);
  (void)sink;
  const auto t0 = Clock::now();
  int64_t at = 0;
  for (int64_t len : steps) {
    // Logits of the chunk's last token only, as web-rwkv prefills (RnnOption::Last).
    const forward::Chunk chunk{0, std::span<const uint32_t>(prompt.data() + at, size_t(len))};
    ex.step(std::span(&chunk, 1), forward::LogitsFor::last);
    at += len;
  }
  if (observer) observer->settle();
  r.prefill = {o.prefill_tokens, seconds_since(t0), bytes_now()};

  ex.step(std::span(&generated[0], 1));  // untimed: builds the single-token plan and buffers
  if (observer) observer->settle();
  const uint64_t before_decode = bytes_now();
  const auto t1 = Clock::now();
  for (int64_t i = 1; i <= o.decode_tokens; ++i) ex.step(std::span(&generated[size_t(i)], 1));
  if (observer) observer->settle();
  r.decode = {o.decode_tokens, seconds_since(t1), bytes_now() - before_decode};
  return r;
}

namespace {

class OpTimer : public forward::OpObserver {
 public:
  void before_op(const forward::Executor&, const plan::Op&, size_t) override { t_ = Clock::now(); }
  void after_op(const forward::Executor&, const plan::Op& op, size_t) override {
    const double s = seconds_since(t_);
    std::string key;
    if (op.kernel == plan::Kernel::matmul) {
      key = op.name;
      if (key.rfind("blocks.", 0) == 0) key = key.substr(key.find('.', 7) + 1);  // "blocks.3.att.x" -> "att.x"
    } else {
      key = std::string(plan::kernel_name(op.kernel));
    }
    auto& e = totals_[key];
    e.first += s;
    e.second += 1;
    ops_seconds_ += s;
  }
  std::map<std::string, std::pair<double, int64_t>> totals_;
  double ops_seconds_ = 0;

 private:
  Clock::time_point t_;
};

}  // namespace

DecodeProfile profile_decode(const Rwkv7Weights& w, const ForwardBenchOptions& o, int64_t steps) {
  if (steps < 1) throw std::invalid_argument("profile_decode: steps must be >= 1");
  Rng rng(o.seed);
  const uint64_t V = uint64_t(w.config.V);
  std::vector<uint32_t> tokens(size_t(steps) + 2);
  for (uint32_t& t : tokens) t = uint32_t(rng.next_u64() % V);
  forward::ForwardOptions fo;
  fo.activations = o.activations;
  forward::Executor ex(w, fo);
  volatile uint64_t sink = touch_weights(w);
  (void)sink;
  ex.step(std::span(&tokens[0], 1));  // untimed: plan and buffers
  OpTimer timer;
  ex.set_observer(&timer);
  const auto t0 = Clock::now();
  for (int64_t i = 1; i <= steps; ++i) ex.step(std::span(&tokens[size_t(i)], 1));
  const double total = seconds_since(t0);
  DecodeProfile p;
  p.steps = steps;
  p.step_ms = 1e3 * total / double(steps);
  p.other_ms = 1e3 * (total - timer.ops_seconds_) / double(steps);
  for (const auto& [key, v] : timer.totals_)
    p.entries.push_back({key, v.second / steps, 1e3 * v.first / double(steps)});
  std::sort(p.entries.begin(), p.entries.end(),
            [](const OpProfileEntry& a, const OpProfileEntry& b) { return a.ms_per_step > b.ms_per_step; });
  return p;
}

}  // namespace rwkv::bench
