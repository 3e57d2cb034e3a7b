// simgpu's dispatch descriptions: one per op of the plan, with web-rwkv's
// grids (spec 3, 6.1), the weight formats' bytes and 2KMT matmul FLOPs.
#include <gtest/gtest.h>

#include "reference/plan/model_config.h"
#include "simgpu/dispatch.h"
#include "simgpu/workload.h"
#include "support/expect_error.h"

namespace {

using namespace rwkv;
using namespace rwkv::simgpu;

WeightFormats q4k() {
  WeightFormats f;
  f.layer = WeightFormat::q4_k;
  return f;
}

const Dispatch& find(const std::vector<Dispatch>& ds, const std::string& name) {
  for (const Dispatch& d : ds)
    if (d.name == name) return d;
  throw std::runtime_error("no dispatch " + name);
}

TEST(SimgpuDispatch, OneDispatchPerOpAndTheSpecsCountPerToken) {
  for (const char* cfg : {"tiny", "1.5b", "2.9b"}) {
    const plan::Plan p = plan::build_plan(plan::preset(cfg), 1);
    const Workload w = plan_workload(p, q4k());
    ASSERT_EQ(w.dispatches.size(), p.ops.size()) << cfg;
    EXPECT_EQ(w.gpu_dispatches(), 44 * p.config.L + 1) << cfg;  // spec 6.1
    for (size_t i = 0; i < p.ops.size(); ++i) {
      EXPECT_EQ(w.dispatches[i].name, p.ops[i].name);
      EXPECT_EQ(w.dispatches[i].op, i);
      EXPECT_EQ(w.dispatches[i].host, p.ops[i].kernel == plan::Kernel::embedding);
      EXPECT_GT(w.dispatches[i].bytes_read + w.dispatches[i].bytes_written, 0) << p.ops[i].name;
    }
  }
}

TEST(SimgpuDispatch, GridsAreWebRwkvsAtC2048) {
  // Spec 6.1: T = 1, C = 2048: a C x C matmul is 512 workgroups of 128 threads, the head (V = 65536) 16384,
  // time_mix_v7 16 of 32.
  const plan::Plan p = plan::build_plan(plan::preset("1.5b"), 1);
  const std::vector<Dispatch> ds = describe_dispatches(p, WeightFormats{});
  const Dispatch& r = find(ds, "blocks.3.att.matmul_r");
  EXPECT_EQ(r.grid, (std::array<int64_t, 3>{512, 1, 1}));
  EXPECT_EQ(r.workgroup, (std::array<int64_t, 3>{128, 1, 1}));
  EXPECT_EQ(find(ds, "head.matmul").workgroups(), 16384);
  const Dispatch& tm = find(ds, "blocks.3.att.time_mix");
  EXPECT_EQ(tm.grid, (std::array<int64_t, 3>{16, 1, 1}));
  EXPECT_EQ(tm.workgroup, (std::array<int64_t, 3>{32, 1, 1}));
  EXPECT_EQ(find(ds, "blocks.3.att.ln1").grid, (std::array<int64_t, 3>{1, 1, 1}));
  EXPECT_EQ(find(ds, "blocks.3.att.ln_x").grid, (std::array<int64_t, 3>{1, 32, 1}));  // [1, H, T]
  EXPECT_EQ(find(ds, "blocks.3.att.token_shift_k").grid, (std::array<int64_t, 3>{4, 1, 1}));  // ceil(C/512)
  // T = 64: matmul_mat, 32 x 32 tiles of 8 x 8 threads.
  const std::vector<Dispatch> dm = describe_dispatches(plan::build_plan(plan::preset("1.5b"), 64), WeightFormats{});
  const Dispatch& rm = find(dm, "blocks.3.att.matmul_r");
  EXPECT_EQ(rm.kind, "matmul_mat.fp16");
  EXPECT_EQ(rm.grid, (std::array<int64_t, 3>{64, 2, 1}));
  EXPECT_EQ(rm.workgroup, (std::array<int64_t, 3>{8, 8, 1}));
  EXPECT_EQ(find(dm, "blocks.3.att.blit_x").workgroup, (std::array<int64_t, 3>{16, 16, 1}));
}

TEST(SimgpuDispatch, QuantAppliesToTheSixLayerMatricesOnly) {
  const plan::Plan p = plan::build_plan(plan::preset("2.9b"), 1);
  const std::vector<Dispatch> ds = describe_dispatches(p, q4k());
  int q4 = 0, fp16 = 0;
  for (const Dispatch& d : ds) {
    if (d.kernel != "matmul") continue;
    (d.weight_format == "q4_k" ? q4 : fp16) += 1;
  }
  EXPECT_EQ(q4, 6 * 32);             // receptance, key, value, output, ffn key, ffn value
  EXPECT_EQ(fp16, 6 + 8 * 31 + 1);  // LoRA (layer 0: w, a, g; later: + v) and the head
  EXPECT_EQ(find(ds, "blocks.0.att.matmul_w1").kind, "matmul_vec.fp16");
  EXPECT_EQ(find(ds, "head.matmul").weight_format, "fp16");
  EXPECT_EQ(find(ds, "blocks.5.ffn.matmul_v").kind, "matmul_vec.q4_k");
}

TEST(SimgpuDispatch, MatmulBytesAndFlopsFollowTheFormat) {
  const plan::Plan p = plan::build_plan(plan::preset("2.9b"), 1);
  const std::vector<Dispatch> ds = describe_dispatches(p, q4k());
  const Dispatch& r = find(ds, "blocks.1.att.matmul_r");
  EXPECT_EQ(r.weight_bytes, 2560.0 / 256 * 144 * 2560);  // 3,686,400
  EXPECT_EQ(r.bytes_read, r.weight_bytes + 2560 * 2);   // f16 input
  EXPECT_EQ(r.bytes_written, 2560 * 2);
  EXPECT_EQ(r.flops, 2.0 * 2560 * 2560);
  const Dispatch& up = find(ds, "blocks.1.ffn.matmul_k");
  EXPECT_EQ(up.weight_bytes, 2560.0 / 256 * 144 * 10240);
  EXPECT_EQ(find(ds, "head.matmul").weight_bytes, 2.0 * 2560 * 65536);
  EXPECT_EQ(find(ds, "head.matmul").bytes_written, 4.0 * 65536);  // f32 logits
  // Other formats: bytes per [K, M] matrix.
  EXPECT_EQ(matrix_bytes(WeightFormat::q8_0, 256, 4, "m"), 256.0 / 32 * 34 * 4);
  EXPECT_EQ(matrix_bytes(WeightFormat::q6_k, 256, 4, "m"), 210.0 * 4);
  EXPECT_EQ(matrix_bytes(WeightFormat::int8, 256, 4, "m"), 1024.0 + 8 * 4);
  EXPECT_EQ(matrix_bytes(WeightFormat::nf4, 256, 4, "m"), 512.0 + 16 * 2);
  test::expect_error([] { matrix_bytes(WeightFormat::q4_k, 96, 4, "blocks.0.att.w2"); }, "blocks.0.att.w2", "K = 96",
                     "multiple of 256");
}

TEST(SimgpuDispatch, StepWeightBytesAreEveryMatrixOnce) {
  // The matrices of a 2.9B step by the formula: 32 layers of 4 C x C + 2 C x F in Q4_K, the LoRA factors and
  // the head in fp16.
  const plan::ModelConfig c = plan::preset("2.9b");
  const Workload w = plan_workload(plan::build_plan(c, 1), q4k());
  double matrices = 0;
  for (const Dispatch& d : w.dispatches)
    if (d.kernel == "matmul") matrices += d.weight_bytes;
  const double q4 = double(c.L) * (4.0 * c.C * c.C + 2.0 * c.C * c.F) * 144 / 256;
  const double lora = 2.0 * 2 * c.C * (double(c.L) * (c.Dw + c.Da + c.Dg) + double(c.L - 1) * c.Dv);
  const double head = 2.0 * c.C * c.V;
  EXPECT_DOUBLE_EQ(matrices, q4 + lora + head);
  // Vectors and the embedding row add the rest: a few MB.
  EXPECT_GT(w.weight_bytes_per_step, matrices);
  EXPECT_LT(w.weight_bytes_per_step, matrices + 5e6);
}

TEST(SimgpuDispatch, TheHeadRunsOnTheWantedTokensOnly) {
  // A step of 4 tokens wanting the last one's logits: the head blit copies one token, the head matmul is for T = 1.
  const plan::Plan p = plan::build_plan(plan::preset("tiny"), 4, {plan::TokenRun{3, 1}});
  const std::vector<Dispatch> ds = describe_dispatches(p, WeightFormats{});
  const Dispatch& blit = find(ds, "head.blit_x_0");
  EXPECT_EQ(blit.bytes_read, 256.0 * 2);
  const Dispatch& head = find(ds, "head.matmul");
  EXPECT_EQ(head.flops, 2.0 * 256 * 1024);
  EXPECT_EQ(find(ds, "blocks.0.att.matmul_r").flops, 2.0 * 256 * 256 * 4);
}

}  // namespace
