#include "backends/harness/dump.h"

#include <fmt/format.h>

#include "reference/forward/chunking.h"
#include "vectors/golden_writer.h"

namespace rwkv::harness {

int64_t dump_backend(const Rwkv7Weights& w, Backend& b, const BackendOptions& bo, const RunSpec& run,
                     vectors::H5Writer& out) {
  out.set_attr("/", "producer", b.name());
  std::vector<int32_t> ids(run.tokens.begin(), run.tokens.end());
  out.write_i32("/inputs/tokens", ids, {ids.size()});
  b.load(w, bo);
  forward::PlanCache plans;
  const std::vector<int64_t> steps = forward::chunk_lengths(int64_t(run.tokens.size()), run.chunk);
  int64_t written = 0;
  size_t at = 0;
  vectors::RowStacks stacks(out);  // layer and embedding outputs: a row per token, as the golden file
  for (size_t s = 0; s < steps.size(); ++s) {
    const forward::Chunk chunk{0, std::span(run.tokens).subspan(at, size_t(steps[s]))};
    at += size_t(steps[s]);
    const forward::StepLayout layout = forward::layout_step(std::span(&chunk, 1), run.logits, bo.slots, w.config.V);
    const plan::Plan& p = plans.get(w.config, layout.T(), layout.outputs);
    b.begin_step(p, layout);
    for (size_t i = 0; i < p.ops.size(); ++i) {
      b.run_op(i);
      const vectors::GoldenPlace place = vectors::golden_op_place(p.ops[i], int64_t(s));
      const std::string& path = place.path;
      if (path.empty()) continue;
      Tensor t = b.read(p.ops[i].outputs.at(0));
      const TensorView v = t.view();
      if (place.stacked)
        stacks.append(path, v.dtype == DType::f16 ? vectors::H5Type::f16 : vectors::H5Type::f32,
                      uint64_t(v.shape[0]), v.data, uint64_t(v.shape[1] * v.shape[2]));
      else if (v.dtype == DType::f16)
        out.write_f16(path, std::span<const f16>(v.half(), size_t(v.numel())), vectors::golden_dims(v.shape));
      else
        out.write_f32(path, std::span<const float>(v.f32(), size_t(v.numel())), vectors::golden_dims(v.shape));
      ++written;
    }
    for (int64_t l = 0; l < w.config.L; ++l) {
      const std::vector<float> st = b.read_state(l);
      out.write_f32(fmt::format("/steps/{}/state/{}", s, l), st,
                    {uint64_t(bo.slots), uint64_t(w.config.N + 2), uint64_t(w.config.C)});
      ++written;
    }
    b.end_step();
  }
  stacks.flush();
  return written;
}

}  // namespace rwkv::harness
