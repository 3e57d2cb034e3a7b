// The executor's step shapes: several batch slots in one job each behave as if
// run alone (bit for bit, when both take the same matmul path), logits of the
// last token equal that row of a full-logits step, op-by-op execution in plan
// order equals step(), a slot's state exported and imported resumes exactly,
// and bad input is refused before anything runs.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "reference/forward/executor.h"
#include "tests/support/expect_error.h"

namespace rwkv::forward {
namespace {

const std::string kTiny = std::string(RWKV_SHARED_DIR) + "/crosscheck/rwkv7-tiny.st";

class ForwardBatch : public ::testing::TestWithParam<DType> {
 protected:
  static void SetUpTestSuite() { weights_ = new Rwkv7Weights(load_rwkv7_safetensors(kTiny)); }
  static void TearDownTestSuite() {
    delete weights_;
    weights_ = nullptr;
  }
  static Rwkv7Weights* weights_;
  ForwardOptions options() const { return {GetParam(), kDecayWebRwkv, true}; }
};
Rwkv7Weights* ForwardBatch::weights_ = nullptr;

std::vector<uint32_t> ids(size_t n, uint32_t seed) {
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint32_t((seed * 7919u + i * 104729u) % 1024u);
  return v;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Two steps for slots 0 and 1 together match each slot run on its own, for
// chunk lengths where the stacked job takes the same matmul path as each
// alone: vec (3 + 5 = 8 tokens) and mat (32 + 32 = 64).
TEST_P(ForwardBatch, TwoSlotsInOneJobMatchEachRunAlone) {
  for (auto [n0, n1] : {std::pair<size_t, size_t>{3, 5}, {32, 32}}) {
    const std::vector<uint32_t> a1 = ids(n0, 1), b1 = ids(n1, 2), a2 = ids(1, 3), b2 = ids(1, 4);
    Executor both(*weights_, options(), 2);
    const Chunk s1[] = {{0, a1}, {1, b1}};
    const StepResult r1 = both.step(s1, LogitsFor::last);
    const Chunk s2[] = {{0, a2}, {1, b2}};
    const StepResult r2 = both.step(s2, LogitsFor::last);
    ASSERT_EQ(r1.rows.size(), 2u);
    EXPECT_EQ(r1.rows[0].slot, 0u);
    EXPECT_EQ(r1.rows[0].token, int64_t(n0) - 1);
    EXPECT_EQ(r1.rows[1].slot, 1u);
    EXPECT_EQ(r1.rows[1].token, int64_t(n1) - 1);

    int slot = 0;
    for (const auto* seq : {&a1, &b1}) {
      Executor alone(*weights_, options());
      const Chunk c1[] = {{0, *seq}};
      const StepResult q1 = alone.step(c1, LogitsFor::last);
      const std::vector<uint32_t>& next = slot == 0 ? a2 : b2;
      const Chunk c2[] = {{0, next}};
      const StepResult q2 = alone.step(c2, LogitsFor::last);
      EXPECT_TRUE(same_bits(q1.row(0), r1.row(size_t(slot)))) << "slot " << slot << " T " << n0 + n1;
      EXPECT_TRUE(same_bits(q2.row(0), r2.row(size_t(slot)))) << "slot " << slot << " T " << n0 + n1;
      const SlotState sb = both.export_state(uint32_t(slot)), sa = alone.export_state(0);
      EXPECT_TRUE(same_bits(sb.data, sa.data)) << "state of slot " << slot;
      ++slot;
    }
  }
}

TEST_P(ForwardBatch, LastTokenLogitsEqualThatRowOfAllLogits) {
  const std::vector<uint32_t> t0 = ids(7, 5), t1 = ids(4, 6);
  const Chunk chunks[] = {{0, t0}, {1, t1}};
  Executor all(*weights_, options(), 2), last(*weights_, options(), 2);
  const StepResult ra = all.step(chunks, LogitsFor::all);
  const StepResult rl = last.step(chunks, LogitsFor::last);
  ASSERT_EQ(ra.rows.size(), 11u);
  ASSERT_EQ(rl.rows.size(), 2u);
  EXPECT_TRUE(same_bits(rl.row(0), ra.row(6)));
  EXPECT_TRUE(same_bits(rl.row(1), ra.row(10)));
  // The head blits one run per slot: 2 blits more than the full-logits plan.
  EXPECT_EQ(last.plan().dispatch_count(), all.plan().dispatch_count() + 2);
}

TEST_P(ForwardBatch, OpByOpInPlanOrderEqualsStep) {
  const std::vector<uint32_t> t = ids(5, 7);
  Executor a(*weights_, options()), b(*weights_, options());
  const std::vector<float> want = a.step(t);
  const Chunk chunk{0, t};
  b.begin_step(std::span(&chunk, 1), LogitsFor::all);
  for (size_t i = 0; i < b.plan().ops.size(); ++i) b.run_op(i);
  const StepResult got = b.end_step();
  EXPECT_TRUE(same_bits(got.logits, want));
  // Out of order (the last layer's ops before the first's) gives other numbers.
  Executor c(*weights_, options());
  c.begin_step(std::span(&chunk, 1), LogitsFor::all);
  const size_t n = c.plan().ops.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::rotate(order.begin() + 3, order.begin() + 3 + 44, order.end() - 2);  // layer 0 after the others
  for (size_t i : order) c.run_op(i);
  EXPECT_FALSE(same_bits(c.end_step().logits, want));
}

TEST_P(ForwardBatch, ExportedStateResumesBitForBit) {
  const std::vector<uint32_t> head = ids(6, 8), tail = ids(3, 9);
  Executor straight(*weights_, options());
  straight.step(head);
  const std::vector<float> want = straight.step(tail);

  Executor first(*weights_, options());
  first.step(head);
  const SlotState s = first.export_state(0);
  Executor resumed(*weights_, options(), 3);
  resumed.import_state(2, s);
  const Chunk chunk{2, tail};
  const StepResult got = resumed.step(std::span(&chunk, 1), LogitsFor::all);
  EXPECT_TRUE(same_bits(got.logits, want));
  // Other slots were untouched: still zero.
  const SlotState other = resumed.export_state(0);
  EXPECT_TRUE(std::all_of(other.data.begin(), other.data.end(), [](float v) { return v == 0.0f; }));
  resumed.reset_slot(2);
  const SlotState zero = resumed.export_state(2);
  EXPECT_TRUE(std::all_of(zero.data.begin(), zero.data.end(), [](float v) { return v == 0.0f; }));
}

INSTANTIATE_TEST_SUITE_P(Activations, ForwardBatch, ::testing::Values(DType::f32, DType::f16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ForwardBadInput, RefusedBeforeAnythingRuns) {
  const Rwkv7Weights w = load_rwkv7_safetensors(kTiny);
  Executor ex(w, {}, 2);
  const std::vector<uint32_t> ok = {1, 2}, big = {5, 1024}, none;
  const Chunk empty[] = {{0, none}, {1, none}};
  test::expect_error([&] { ex.step(empty); }, "token list is empty");
  test::expect_error([&] { ex.step(none); }, "token list is empty");
  const Chunk oov[] = {{1, big}};
  test::expect_error([&] { ex.step(oov); }, "token id 1024", "slot 1", "position 1", "0 to 1023");
  const Chunk slot[] = {{2, ok}};
  test::expect_error([&] { ex.step(slot); }, "slot 2", "2 slots");
  const Chunk twice[] = {{0, ok}, {0, ok}};
  test::expect_error([&] { ex.step(twice); }, "slot 0 has two chunks");
  // Nothing ran: the state is still zero and the executor still works.
  EXPECT_EQ(ex.steps_done(), 0);
  const SlotState s = ex.export_state(1);
  EXPECT_TRUE(std::all_of(s.data.begin(), s.data.end(), [](float v) { return v == 0.0f; }));
  EXPECT_NO_THROW(ex.step(ok));
  test::expect_error([&] { Executor(w, {}, 0); }, "0 batch slots");
  test::expect_error([&] { Executor(w, {}, 257); }, "expected 1 to 256");
  SlotState wrong = ex.export_state(0);
  wrong.C = 512;
  test::expect_error([&] { ex.import_state(0, wrong); }, "C=512", "C=256");
  EXPECT_THROW(ex.run_op(0), std::logic_error);  // outside a step
}

}  // namespace
}  // namespace rwkv::forward
