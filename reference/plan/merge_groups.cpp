// The merged-launch finder on the plan (merge_groups.h): the CUDA backend's
// conditions (cuda_backend.cpp merged_epilogue, merged_norm_shift,
// merged_time_mix_tail) with buffers named instead of device pointers.
#include "reference/plan/merge_groups.h"

#include <algorithm>

#include "reference/plan/dependencies.h"

namespace rwkv::plan {

std::string_view merge_kind_name(MergeKind k) {
  switch (k) {
    case MergeKind::single: return "single";
    case MergeKind::matmul_epilogue: return "matmul_epilogue";
    case MergeKind::norm_shift: return "norm_shift";
    case MergeKind::time_mix_tail: return "time_mix_tail";
  }
  return "?";
}

namespace {

int64_t numel(const Buffer& b) { return b.d0 * b.d1 * b.d2; }

class Finder {
 public:
  Finder(const Plan& p, const MatrixFormatOf& format_of, const MergeLimits& limits)
      : p_(p), format_of_(format_of), lim_(limits), deps_(step_dependencies(op_resources(p))) {}

  // The group that begins at op i (single when none merges there).
  MergeGroup at(size_t i) const {
    const Kernel k = p_.ops[i].kernel;
    size_t end = i + 1;
    MergeKind kind = MergeKind::single;
    if (k == Kernel::matmul) end = epilogue_end(i), kind = MergeKind::matmul_epilogue;
    else if (k == Kernel::blit) end = norm_shift_end(i), kind = MergeKind::norm_shift;
    else if (k == Kernel::time_mix_v7) end = time_mix_tail_end(i), kind = MergeKind::time_mix_tail;
    if (end == i + 1) kind = MergeKind::single;
    return {i, end, kind};
  }

 private:
  const Buffer& buf(const std::string& name) const { return p_.buffer(name); }
  const Buffer& out(size_t j) const { return buf(p_.ops[j].outputs.at(0)); }
  bool is(size_t j, Kernel k) const { return j < p_.ops.size() && p_.ops[j].kernel == k; }
  // Whether one merged op's output fits the merged kernels (a chain descriptor's limit).
  bool fits(size_t j) const { return numel(out(j)) <= lim_.max_elements; }

  // The fast set's warp GEMV takes the matrix (backends/cuda/kernels.h gemv_takes_epilogue).
  bool gemv_takes(const Op& m) const {
    const int64_t K = buf(m.inputs.at(0)).d0;
    const WeightFormat f = format_of_ ? format_of_(m.params.weights.at(0)) : WeightFormat::fp16;
    if (f == WeightFormat::fp16) return K % 8 == 0;
    if (f == WeightFormat::q4_k || f == WeightFormat::q6_k) return K % 256 == 0;
    return false;
  }

  // Ops [i + 1, end) that join matmul i's epilogue.
  size_t epilogue_end(size_t i) const {
    const Op& m = p_.ops[i];
    const Buffer& in = buf(m.inputs.at(0));
    const Buffer& y = out(i);
    if (in.d1 % 32 == 0 || !gemv_takes(m)) return i + 1;  // the mat path (GEMM), or no warp GEMV
    std::vector<std::string> written = {m.outputs.at(0)};  // by the matmul and the epilogue so far
    auto written_here = [&](const std::string& b) { return std::find(written.begin(), written.end(), b) != written.end(); };
    size_t j = i + 1;
    for (int count = 0; j < p_.ops.size() && count < lim_.epilogue_ops; ++j, ++count) {
      const Op& op = p_.ops[j];
      const Kernel k = op.kernel;
      const bool binary = k == Kernel::add || k == Kernel::mul || k == Kernel::add_activate;
      if (!binary && k != Kernel::lerp && k != Kernel::channel_mix_v7 && k != Kernel::control_k_v7 &&
          k != Kernel::affine)
        break;
      const Buffer& o = out(j);
      if (!fits(j) || numel(o) != numel(y) || o.d0 != y.d0 || op.outputs.at(0) == m.inputs.at(0)) break;
      const bool follows = std::any_of(deps_[j].begin(), deps_[j].end(),
                                       [&](const Dependency& d) { return d.producer >= i && d.producer < j; });
      if (!follows) break;
      // The broadcast operand (a) of a binary op or a lerp: element i of the output reads element i of it
      // only when it has the output's shape (or one token). Taken from what the group wrote, it must.
      const std::string* broadcast = nullptr;
      if (binary && op.params.weights.empty()) broadcast = &op.inputs.at(0);
      if (k == Kernel::lerp) broadcast = &op.inputs.at(0);
      if (broadcast && written_here(*broadcast)) {
        const Buffer& a = buf(*broadcast);
        const bool at_i = y.d1 == 1 || (a.d0 == o.d0 && a.d1 == o.d1 && a.d2 == o.d2);
        if (!at_i) break;
      }
      written.push_back(op.outputs.at(0));
    }
    return j;
  }

  // Ops [i + 1, end) that join blit i: its layer_norm and the token shifts.
  size_t norm_shift_end(size_t i) const {
    const Op& b = p_.ops[i];
    if (!is(i + 1, Kernel::layer_norm)) return i + 1;
    const Buffer& src = buf(b.inputs.at(0));
    const Buffer& dst = out(i);
    const OpParams& bp = b.params;
    // A whole-buffer copy between two buffers of one element type.
    const bool whole = bp.out_plane < 0 && (bp.token_count == 0 ? numel(src) == numel(dst)
                                                                 : bp.src_token == 0 && bp.dst_token == 0 &&
                                                                       bp.token_count * src.d0 == numel(dst));
    if (!whole || src.type != dst.type || b.inputs.at(0) == b.outputs.at(0)) return i + 1;
    const Op& n = p_.ops[i + 1];
    if (n.inputs.at(0) != b.outputs.at(0) || n.outputs.at(0) != n.inputs.at(0)) return i + 1;
    const Buffer& row = buf(n.inputs.at(0));
    const int64_t len = row.d0;
    if (numel(row) != len || len < lim_.min_norm_row || len > lim_.max_norm_row || !fits(i + 1)) return i + 1;
    size_t j = i + 2;
    for (int shifts = 0; is(j, Kernel::token_shift) && shifts < lim_.shift_ops; ++j, ++shifts) {
      const Op& s = p_.ops[j];
      if (s.inputs.at(0) != n.outputs.at(0) || !fits(j) || s.outputs.at(0) == b.inputs.at(0)) break;
    }
    return j == i + 2 ? i + 1 : j;  // a norm without a shift stays two launches
  }

  // Ops [i + 1, i + 4) that join time mix i: group_norm, time_first, mul by g.
  size_t time_mix_tail_end(size_t i) const {
    const Op& tm = p_.ops[i];
    const std::string& x = tm.outputs.at(0);
    const Buffer& xb = buf(x);
    const int64_t N = tm.params.head_size;
    if (xb.d1 * xb.d2 != 1 || N < lim_.min_head || N > lim_.max_head || !is(i + 3, Kernel::mul)) return i + 1;
    const Op& gn = p_.ops[i + 1];
    const Op& tf = p_.ops[i + 2];
    const Op& mul = p_.ops[i + 3];
    if (gn.kernel != Kernel::group_norm || gn.inputs.at(0) != x || gn.outputs.at(0) != x || gn.params.head_size != N)
      return i + 1;
    if (tf.kernel != Kernel::time_first_v7 || tf.outputs.at(0) != x || tf.inputs.at(0) != tm.inputs.at(0) ||
        tf.inputs.at(1) != tm.inputs.at(2) || tf.params.head_size != N)
      return i + 1;
    if (!mul.params.weights.empty() || mul.outputs.at(0) != x || numel(buf(mul.inputs.at(0))) != numel(xb))
      return i + 1;
    // The merged kernel's limits on each op (a chain descriptor each): rows of a group_norm, a time_first head
    // that divides the chain's block.
    if (!fits(i + 1) || !fits(i + 2) || !fits(i + 3) || numel(xb) / N > 256 || N < 8 || 1024 % N != 0) return i + 1;
    return i + 4;
  }

  const Plan& p_;
  const MatrixFormatOf& format_of_;
  const MergeLimits& lim_;
  std::vector<std::vector<Dependency>> deps_;
};

}  // namespace

std::vector<MergeGroup> merge_groups(const Plan& plan, const MatrixFormatOf& format_of, const MergeLimits& limits) {
  const Finder f(plan, format_of, limits);
  std::vector<MergeGroup> out;
  for (size_t i = 0; i < plan.ops.size();) {
    out.push_back(f.at(i));
    i = out.back().end;
  }
  return out;
}

std::vector<size_t> group_starts(const std::vector<MergeGroup>& groups, size_t ops) {
  std::vector<size_t> start(ops, 0);
  for (const MergeGroup& g : groups)
    for (size_t j = g.begin; j < g.end && j < ops; ++j) start[j] = g.begin;
  return start;
}

}  // namespace rwkv::plan
