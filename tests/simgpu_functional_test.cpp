// Functional mode: the op plan run through the reference kernels in the
// simulated completion order. Deferred batching is caught and the first op
// whose input was not ready is named; every other schedule matches an
// in-order reference run bit for bit.
#include <omp.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "reference/model/synth.h"
#include "reference/plan/model_config.h"
#include "simgpu/functional.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

class SimgpuFunctional : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The tiny model's kernels are small: one thread avoids OpenMP fork/join dominating on a busy machine
    // (the reference gives the same bits for any thread count).
    omp_set_num_threads(1);
    path_ = (std::filesystem::temp_directory_path() / ("simgpu_functional_" + std::to_string(::getpid()) + ".st"))
                .string();
    synth_safetensors(plan::preset("tiny"), 11, path_, true);
    weights_ = new Rwkv7Weights(load_rwkv7_safetensors(path_));
  }
  static void TearDownTestSuite() {
    delete weights_;
    std::filesystem::remove(path_);
  }
  static FunctionalReport check(const std::string& schedule, const char* profile, OpChecker* checker = nullptr) {
    const Profile p = find_profile(profile), peer = find_profile(p.peer);
    WeightFormats f;
    f.layer = WeightFormat::q4_k;
    forward::ForwardOptions fo;
    fo.activations = DType::f16;
    return check_functional(*weights_, fo, find_schedule(schedule), p, &peer, f, 3, 5, checker);
  }
  static std::string path_;
  static Rwkv7Weights* weights_;
};
std::string SimgpuFunctional::path_;
Rwkv7Weights* SimgpuFunctional::weights_ = nullptr;

TEST_F(SimgpuFunctional, DeferredBatchingIsCaughtAndTheFirstOpWhoseInputWasNotReadyNamed) {
  for (const char* profile : {"apple-m2max-wgpu", "nvidia-h100-vulkan"}) {
    const FunctionalReport r = check("deferred-batching", profile);
    EXPECT_FALSE(r.passed()) << profile;
    ASSERT_TRUE(r.first_not_ready) << profile;
    EXPECT_EQ(r.first_not_ready->consumer.name, "blocks.0.att.blit_kk");
    EXPECT_EQ(r.first_not_ready->producer.name, "blocks.0.att.matmul_k");
    EXPECT_EQ(r.first_not_ready->resource, "k");
    EXPECT_EQ(r.first_not_ready->hazard, "RAW");
    EXPECT_EQ(r.first_not_ready->consumer.step, 0);
    EXPECT_LT(r.first_not_ready->consumer_start_us, r.first_not_ready->producer_end_us);
    // The wrong order gives wrong tensors: the first in run order is the copy of the stale k.
    ASSERT_TRUE(r.first_divergent);
    EXPECT_GT(r.ops_divergent, 0u);
    EXPECT_EQ(r.first_divergent_run->name, "blocks.0.att.blit_kk");
    // In plan order, layer 0's matmul_r is already wrong: it read att_rx after layer 1 overwrote it.
    EXPECT_EQ(r.first_divergent->name, "blocks.0.att.matmul_r");
    const std::string text = describe(r);
    EXPECT_NE(text.find("FAIL"), std::string::npos);
    EXPECT_NE(text.find("blocks.0.att.blit_kk (step 0, op 22) read 'k'"), std::string::npos) << text;
  }
}

TEST_F(SimgpuFunctional, EveryOtherScheduleMatchesTheInOrderReferenceBitForBit) {
  for (const std::string& s : schedule_names()) {
    if (s == "deferred-batching") continue;
    for (const char* profile : {"apple-m2max-wgpu", "apple-m2max-metal", "nvidia-h100-vulkan", "nvidia-h100-cuda"}) {
      const FunctionalReport r = check(s, profile);
      EXPECT_TRUE(r.passed()) << s << " on " << profile << ":\n" << describe(r);
      EXPECT_EQ(r.ops_run, 3 * r.ops_per_step);
      EXPECT_EQ(r.ops_divergent, 0u) << s;
      EXPECT_FALSE(r.first_not_ready) << s;
    }
  }
}

// The checker is an interface the validation harness can take over: it sees every op as it completes.
class CountingChecker : public OpChecker {
 public:
  void prepare(const std::vector<std::vector<uint32_t>>& steps) override { steps_ = steps.size(); }
  bool check(int64_t step, size_t index, const forward::Executor& ex) override {
    ++seen;
    last_step = step;
    EXPECT_LT(index, ex.plan().ops.size());
    return index != 30;  // pretend op 30 is wrong
  }
  size_t steps_ = 0, seen = 0;
  int64_t last_step = -1;
};

TEST_F(SimgpuFunctional, AnotherCheckerCanJudgeTheOps) {
  CountingChecker c;
  const FunctionalReport r = check("wgpu-only", "apple-m2max-wgpu", &c);
  EXPECT_EQ(c.steps_, 3u);
  EXPECT_EQ(c.seen, 3 * r.ops_per_step);
  EXPECT_EQ(c.last_step, 2);
  EXPECT_EQ(r.ops_divergent, 3u);
  ASSERT_TRUE(r.first_divergent);
  EXPECT_EQ(r.first_divergent->index, 30u);
  EXPECT_EQ(r.first_divergent->step, 0);
  EXPECT_FALSE(r.first_not_ready);
}

TEST_F(SimgpuFunctional, SchedulesWithoutAWaitPerStepAreRefused) {
  Schedule s = find_schedule("full-metal");
  s.token_end = Sync::commit;
  const Profile p = find_profile("apple-m2max-metal");
  EXPECT_THROW(check_functional(*weights_, {}, s, p, nullptr, WeightFormats{}, 2, 1), std::invalid_argument);
}

}  // namespace
