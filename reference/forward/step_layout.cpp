#include "reference/forward/step_layout.h"

#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::forward {

StepLayout layout_step(std::span<const Chunk> chunks, LogitsFor want, int64_t slots, int64_t V) {
  std::vector<bool> seen(size_t(slots), false);
  std::vector<std::pair<uint32_t, uint32_t>> stacked;  // (slot, length) of the non-empty chunks
  StepLayout out;
  for (const Chunk& ch : chunks) {
    if (int64_t(ch.slot) >= slots)
      throw std::invalid_argument(
          fmt::format("step: slot {} out of range (the executor has {} slots)", ch.slot, slots));
    if (seen[ch.slot]) throw std::invalid_argument(fmt::format("step: slot {} has two chunks in one step", ch.slot));
    seen[ch.slot] = true;
    for (size_t i = 0; i < ch.tokens.size(); ++i)
      if (int64_t(ch.tokens[i]) >= V)
        throw std::invalid_argument(fmt::format(
            "step: token id {} (slot {}, position {}) is out of the vocabulary: expected 0 to {}", ch.tokens[i],
            ch.slot, i, V - 1));
    if (ch.tokens.empty()) continue;
    stacked.emplace_back(ch.slot, uint32_t(ch.tokens.size()));
    out.tokens.insert(out.tokens.end(), ch.tokens.begin(), ch.tokens.end());
  }
  if (out.tokens.empty()) throw std::invalid_argument("step: the token list is empty: expected at least one token");
  int64_t at = 0;
  for (auto [slot, len] : stacked) {
    const int64_t first = want == LogitsFor::all ? 0 : int64_t(len) - 1;
    for (int64_t t = first; t < int64_t(len); ++t) out.rows.push_back(OutputRow{slot, t});
    const plan::TokenRun r{at + first, int64_t(len) - first};
    if (!out.outputs.empty() && out.outputs.back().first + out.outputs.back().count == r.first)
      out.outputs.back().count += r.count;
    else
      out.outputs.push_back(r);
    at += len;
  }
  out.cursors = make_cursors(stacked);
  return out;
}

const plan::Plan& PlanCache::get(const plan::ModelConfig& c, int64_t T, const std::vector<plan::TokenRun>& outputs) {
  std::string key = fmt::format("{}", T);
  for (const plan::TokenRun& r : outputs) key += fmt::format(":{}+{}", r.first, r.count);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= 16) plans_.clear();
    it = plans_.emplace(key, plan::build_plan(c, T, outputs)).first;
  }
  return it->second;
}

}  // namespace rwkv::forward
