#pragma once
// How the chunks of one step are laid out for the op plan (web-rwkv's RnnJob):
// the non-empty chunks stacked along T, a cursor per stacked token naming its
// batch slot, and which stacked tokens want logits. Every runner of the plan
// (the reference executor, the backends, the validation harness) lays out a
// step with this one function, so they all run the same plan on the same
// stacking.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "reference/kernels/batch.h"
#include "reference/plan/op_plan.h"
#include "reference/tensor.h"

namespace rwkv::forward {

// One batch slot's tokens in a step. Chunks with no tokens are dropped, as
// web-rwkv drops empty chunks.
struct Chunk {
  uint32_t slot = 0;
  std::span<const uint32_t> tokens;
};

enum class LogitsFor : uint8_t {
  last,  // the last token of each chunk (web-rwkv RnnOption::Last)
  all,   // every token (RnnOption::Full)
};

// Which token a row of logits belongs to.
struct OutputRow {
  uint32_t slot = 0;
  int64_t token = 0;  // index within its chunk
};

struct StepLayout {
  std::vector<uint32_t> tokens;         // stacked
  std::vector<Cursor> cursors;          // one per stacked token
  std::vector<plan::TokenRun> outputs;  // runs of stacked tokens that want logits (adjacent runs merged)
  std::vector<OutputRow> rows;          // one per row of logits
  int64_t T() const { return int64_t(tokens.size()); }
};

// Checks and lays out a step for a model of vocabulary V run with `slots`
// batch slots. Throws std::invalid_argument naming the problem: no tokens at
// all, a slot out of range or given twice, a token id >= V.
StepLayout layout_step(std::span<const Chunk> chunks, LogitsFor want, int64_t slots, int64_t V);

// Plans by step shape (T and output runs), built on first use. Bounded: a long
// run of odd chunk lengths does not grow it without limit.
class PlanCache {
 public:
  const plan::Plan& get(const plan::ModelConfig& c, int64_t T, const std::vector<plan::TokenRun>& outputs);

 private:
  std::map<std::string, plan::Plan> plans_;
};

}  // namespace rwkv::forward
