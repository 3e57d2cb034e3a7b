// Data dependencies from the plan's buffer names and the recurrent state, and
// the checker that names an op that started before its producer completed.
#include <gtest/gtest.h>

#include <algorithm>

#include "reference/plan/model_config.h"
#include "simgpu/hazards.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

size_t index_of(const plan::Plan& p, const std::string& name) {
  for (size_t i = 0; i < p.ops.size(); ++i)
    if (p.ops[i].name == name) return i;
  throw std::runtime_error("no op " + name);
}

bool depends(const std::vector<std::vector<Dependency>>& deps, const ResourceTable& t, size_t consumer,
             size_t producer, const std::string& resource, Hazard h) {
  for (const Dependency& d : deps[consumer])
    if (d.producer == producer && t.names[d.resource] == resource && d.hazard == h) return true;
  return false;
}

// Ops run one after another in plan order, step after step, 1 us each.
std::vector<OpRun> in_order(size_t steps, size_t ops) {
  std::vector<OpRun> r(steps * ops);
  for (size_t i = 0; i < r.size(); ++i) r[i] = {double(i), double(i + 1)};
  return r;
}

class SimgpuHazards : public ::testing::Test {
 protected:
  plan::Plan p = plan::build_plan(plan::preset("tiny"), 1);
  ResourceTable t = op_resources(p);
  std::vector<std::vector<Dependency>> deps = step_dependencies(t);
  size_t at(const std::string& n) { return index_of(p, n); }
};

TEST_F(SimgpuHazards, BuffersGiveReadAfterWriteWriteAfterReadAndWriteAfterWrite) {
  // kk is a copy of k from before the k_a correction: blit_kk reads what matmul_k wrote...
  EXPECT_TRUE(depends(deps, t, at("blocks.0.att.blit_kk"), at("blocks.0.att.matmul_k"), "k", Hazard::read_after_write));
  // ... control_k corrects k in place only after blit_kk copied it, and blit_n_k packs the corrected k.
  EXPECT_TRUE(depends(deps, t, at("blocks.0.att.control_k"), at("blocks.0.att.blit_kk"), "k", Hazard::write_after_read));
  EXPECT_TRUE(depends(deps, t, at("blocks.0.att.blit_n_k"), at("blocks.0.att.control_k"), "k", Hazard::read_after_write));
  // The four blits into n write disjoint planes: none waits for another; time_mix reads all four.
  for (const char* a : {"k", "v", "a", "kk"})
    for (const Dependency& d : deps[at(std::string("blocks.0.att.blit_n_") + a)])
      EXPECT_EQ(p.ops[d.producer].name.find("blit_n_"), std::string::npos) << a << " waits for " << p.ops[d.producer].name;
  for (int plane = 0; plane < 4; ++plane) {
    const char* blit[] = {"k", "v", "a", "kk"};
    EXPECT_TRUE(depends(deps, t, at("blocks.0.att.time_mix"), at(std::string("blocks.0.att.blit_n_") + blit[plane]),
                        "n.plane" + std::to_string(plane), Hazard::read_after_write))
        << plane;
  }
  // Layer 1's blit into plane 0 waits for layer 0's time_first, the last reader of the whole n.
  EXPECT_TRUE(depends(deps, t, at("blocks.1.att.blit_n_k"), at("blocks.0.att.time_first"), "n.plane0",
                      Hazard::write_after_read));
  // Layer 1's token shift into att_rx must wait for layer 0's matmul_r to have read it.
  EXPECT_TRUE(depends(deps, t, at("blocks.1.att.token_shift_r"), at("blocks.0.att.matmul_r"), "att_rx",
                      Hazard::write_after_read));
}

TEST_F(SimgpuHazards, TheRecurrentStateIsAResourcePerLayerAndPart) {
  // time_mix overwrites state row 0 only after the six token shifts read it.
  for (const char* m : {"r", "w", "k", "v", "a", "g"})
    EXPECT_TRUE(depends(deps, t, at("blocks.1.att.time_mix"), at(std::string("blocks.1.att.token_shift_") + m),
                        "state.1.att", Hazard::write_after_read))
        << m;
  EXPECT_TRUE(depends(deps, t, at("blocks.1.ffn.channel_mix"), at("blocks.1.ffn.token_shift_k"), "state.1.ffn",
                      Hazard::write_after_read));
  // Layers do not share state.
  for (const Dependency& d : deps[at("blocks.1.att.time_mix")]) EXPECT_NE(t.names[d.resource], "state.0.att");
}

TEST_F(SimgpuHazards, PlanOrderHonoursEveryDependency) {
  EXPECT_TRUE(find_violations(t, 3, in_order(3, p.ops.size())).empty());
}

TEST_F(SimgpuHazards, AConsumerStartingBeforeItsProducerEndsIsNamed) {
  std::vector<OpRun> runs = in_order(1, p.ops.size());
  // matmul_k runs late: after blit_kk started.
  const size_t mk = at("blocks.0.att.matmul_k"), kk = at("blocks.0.att.blit_kk");
  runs[mk] = {runs[kk].start + 0.5, runs[kk].start + 1.5};
  const std::vector<Violation> v = find_violations(t, 1, runs);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].consumer, kk);
  EXPECT_EQ(v[0].producer, mk);
  EXPECT_EQ(t.names[v[0].resource], "k");
  EXPECT_EQ(v[0].hazard, Hazard::read_after_write);
  // Sorted by the consumer's start.
  for (size_t i = 1; i < v.size(); ++i) EXPECT_LE(v[i - 1].consumer_start, v[i].consumer_start);
}

TEST_F(SimgpuHazards, AWriterOverlappingAnEarlierReaderIsAWriteAfterRead) {
  std::vector<OpRun> runs = in_order(1, p.ops.size());
  // matmul_r (reads att_rx) lasts until after layer 1's token_shift_r overwrote att_rx.
  const size_t mr = at("blocks.0.att.matmul_r"), ts1 = at("blocks.1.att.token_shift_r");
  runs[mr].end = runs[ts1].start + 0.5;
  const std::vector<Violation> v = find_violations(t, 1, runs);
  const bool found = std::any_of(v.begin(), v.end(), [&](const Violation& x) {
    return x.consumer == ts1 && x.producer == mr && x.hazard == Hazard::write_after_read && t.names[x.resource] == "att_rx";
  });
  EXPECT_TRUE(found);
}

TEST_F(SimgpuHazards, StepsDependOnTheStateOfTheStepBefore) {
  const size_t ops = p.ops.size();
  std::vector<OpRun> runs = in_order(2, ops);
  // Step 0's time_mix of layer 1 completes only after step 1's token shift of layer 1 read the state.
  const size_t tm = at("blocks.1.att.time_mix"), ts = at("blocks.1.att.token_shift_r");
  runs[tm].end = runs[ops + ts].start + 0.5;
  const std::vector<Violation> v = find_violations(t, 2, runs);
  const bool found = std::any_of(v.begin(), v.end(), [&](const Violation& x) {
    return x.consumer == ops + ts && x.producer == tm && t.names[x.resource] == "state.1.att" &&
           x.hazard == Hazard::read_after_write;
  });
  EXPECT_TRUE(found);
}

TEST_F(SimgpuHazards, WrongRunCountIsAnError) {
  EXPECT_THROW(find_violations(t, 2, in_order(1, p.ops.size())), std::invalid_argument);
}

}  // namespace
