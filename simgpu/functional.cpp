#include "simgpu/functional.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "reference/model/synth.h"
#include "reference/plan/model_config.h"
#include "reference/util/rng.h"
#include "reference/util/sha256.h"
#include "simgpu/hazards.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace rwkv::simgpu {

OpDigest op_output_digest(const forward::Executor& ex, const plan::Op& op) {
  Sha256 h;
  for (const std::string& name : op.outputs) {
    const TensorView v = ex.buffer(name);
    h.update(name);
    h.update(v.data, size_t(v.numel()) * dtype_size(v.dtype));
  }
  if (op.params.state_layer >= 0 &&
      (op.kernel == plan::Kernel::time_mix_v7 || op.kernel == plan::Kernel::channel_mix_v7)) {
    const LayerState& s = ex.state(op.params.state_layer);
    h.update(s.data, size_t(s.C * s.rows() * s.B) * sizeof(float));
  }
  return h.finish();
}

InOrderReference::InOrderReference(const Rwkv7Weights& weights, forward::ForwardOptions options)
    : weights_(weights), options_(options) {}

void InOrderReference::prepare(const std::vector<std::vector<uint32_t>>& steps) {
  forward::Executor ex(weights_, options_);
  digests_.clear();
  for (const std::vector<uint32_t>& tokens : steps) {
    const forward::Chunk chunk{0, tokens};
    ex.begin_step(std::span(&chunk, 1));
    std::vector<OpDigest> d;
    for (size_t i = 0; i < ex.plan().ops.size(); ++i) {
      ex.run_op(i);
      d.push_back(op_output_digest(ex, ex.plan().ops[i]));
    }
    ex.end_step();
    digests_.push_back(std::move(d));
  }
}

bool InOrderReference::check(int64_t step, size_t index, const forward::Executor& ex) {
  return digests_.at(size_t(step)).at(index) == op_output_digest(ex, ex.plan().ops[index]);
}

FunctionalReport check_functional(const Rwkv7Weights& weights, forward::ForwardOptions options,
                                  const Schedule& schedule, const Profile& given, const Profile* peer,
                                  const WeightFormats& formats, int64_t steps, uint64_t token_seed,
                                  OpChecker* checker) {
  if (steps < 1) throw std::invalid_argument(fmt::format("functional: steps = {}, expected >= 1", steps));
  if (schedule.token_end != Sync::cpu_wait)
    throw std::invalid_argument(fmt::format(
        "functional: schedule '{}' does not wait at the end of a step; the executor runs one step at a time",
        schedule.name));
  const plan::Plan plan = plan::build_plan(weights.config, 1);
  const Workload w = plan_workload(plan, formats);
  SimOptions so;
  so.steps = steps;
  so.record = true;
  const SimResult sim = simulate(w, schedule, given, peer, so);
  const SimDevice& dev = *sim.device;
  const size_t ops = plan.ops.size();
  // The dispatches the device ran: the plan's ops, or under "merge" its merged launches (each runs
  // plan ops [op, op + ops), in plan order, as one kernel).
  const Workload& ran = launched(w, schedule.merge);
  const size_t units = ran.dispatches.size();

  FunctionalReport r;
  r.schedule = schedule.name;
  r.config = weights.config.name;
  r.steps = steps;
  r.ops_per_step = ops;
  auto ref = [&](uint64_t inst) { return OpRef{int64_t(inst / ops), size_t(inst % ops), plan.ops[inst % ops].name}; };
  // A dispatch instance (step * units + dispatch) as the instance of its first plan op.
  auto first_op = [&](uint64_t unit) { return (unit / units) * ops + ran.dispatches[unit % units].op; };

  // The cause: an op that started before an op it depends on had completed (a merged launch: one
  // that started before a launch it depends on).
  const std::vector<Violation> v = find_violations(ran.resources, size_t(steps), dev.op_runs());
  r.not_ready_count = v.size();
  if (!v.empty())
    r.first_not_ready = NotReady{ref(first_op(v[0].consumer)), ref(first_op(v[0].producer)),
                                 ran.resources.names.at(v[0].resource),
                                 std::string(hazard_name(v[0].hazard)), v[0].consumer_start, v[0].producer_end};

  // Tokens: seeded, the same for the reference and the functional run.
  Rng rng(token_seed);
  auto tokens = std::vector<std::vector<uint32_t>>(size_t(steps));
  for (auto& t : tokens) t = {uint32_t(rng.next_u64() % uint64_t(weights.config.V))};
  InOrderReference own(weights, options);
  OpChecker& check = checker ? *checker : own;
  check.prepare(tokens);

  // The effect: run the ops in the simulated order and compare each as it completes.
  std::vector<uint64_t> order;
  for (uint64_t unit : dev.run_order()) {
    const Dispatch& d = ran.dispatches[unit % units];
    for (uint32_t k = 0; k < d.ops; ++k) order.push_back(first_op(unit) + k);
  }
  if (order.size() != size_t(steps) * ops)
    throw std::logic_error(fmt::format("functional: the timeline ran {} op instances, expected {}", order.size(),
                                       size_t(steps) * ops));
  forward::Executor ex(weights, options);
  uint64_t first_plan = std::numeric_limits<uint64_t>::max();
  size_t at = 0;
  for (int64_t s = 0; s < steps; ++s) {
    const forward::Chunk chunk{0, tokens[size_t(s)]};
    ex.begin_step(std::span(&chunk, 1));
    if (ex.plan().ops.size() != ops)
      throw std::logic_error("functional: the executor's plan differs from the simulated one");
    for (size_t k = 0; k < ops; ++k, ++at) {
      const uint64_t inst = order[at];
      if (int64_t(inst / ops) != s)
        throw std::invalid_argument(fmt::format("functional: schedule '{}' interleaves steps {} and {}; the executor "
                                                "runs one step at a time",
                                                schedule.name, s, inst / ops));
      const size_t i = size_t(inst % ops);
      ex.run_op(i);
      ++r.ops_run;
      if (!check.check(s, i, ex)) {
        ++r.ops_divergent;
        if (!r.first_divergent_run) r.first_divergent_run = ref(inst);
        first_plan = std::min(first_plan, inst);
      }
    }
    ex.end_step();
  }
  if (first_plan != std::numeric_limits<uint64_t>::max()) r.first_divergent = ref(first_plan);
  return r;
}

FunctionalReport run_functional(const plan::ModelConfig& timing_config, const Schedule& schedule,
                                const Profile& given, const Profile* peer, const FunctionalOptions& o) {
  std::vector<std::string> notes;
  plan::ModelConfig config = timing_config;
  if (!o.config_name.empty()) {
    config = plan::preset(o.config_name);
  } else {
    // fp16 bytes of the synthetic model: every plan weight plus the embedding table.
    WeightFormats fp16;
    const Workload w = plan_workload(plan::build_plan(timing_config, 1), fp16);
    const double bytes = w.weight_bytes_per_step + 2.0 * double(timing_config.C) * double(timing_config.V);
    if (bytes > o.max_model_bytes) {
      notes.push_back(fmt::format("functional run on the tiny config: a synthetic {} is {:.2f} GB, above the {:.0f} "
                                  "MiB limit (--functional-config chooses another)",
                                  timing_config.name, bytes / 1e9, o.max_model_bytes / 1024 / 1024));
      config = plan::preset("tiny");
    }
  }
  namespace fs = std::filesystem;
  const fs::path path = fs::temp_directory_path() /
                        fmt::format("rwkv-simgpu-{}-{}-{}.st", config.name, o.model_seed, ::getpid());
  synth_safetensors(config, o.model_seed, path.string(), true);
  FunctionalReport r;
  try {
    const Rwkv7Weights weights = load_rwkv7_safetensors(path.string());
    forward::ForwardOptions fo;
    fo.activations = o.formats.activations;
    std::unique_ptr<DescribingChecker> checker = o.make_checker ? o.make_checker(weights, fo) : nullptr;
    r = check_functional(weights, fo, schedule, given, peer, o.formats, o.steps, o.token_seed, checker.get());
    if (checker) r.verdict = checker->first_failure_line();
    r.config = config.name;
  } catch (...) {
    std::error_code ec;
    fs::remove(path, ec);
    throw;
  }
  std::error_code ec;
  fs::remove(path, ec);
  notes.push_back(fmt::format("synthetic {} model (seed {}), {} activations", config.name, o.model_seed,
                              dtype_name(o.formats.activations)));
  r.notes.insert(r.notes.begin(), notes.begin(), notes.end());
  return r;
}

std::string describe(const FunctionalReport& r) {
  std::string out = fmt::format("functional: schedule {} on {}, {} steps x {} ops in the simulated order: {}\n",
                                r.schedule, r.config, r.steps, r.ops_per_step, r.passed() ? "OK" : "FAIL");
  for (const std::string& n : r.notes) out += fmt::format("  note: {}\n", n);
  if (r.first_not_ready) {
    const NotReady& n = *r.first_not_ready;
    const char* verb = n.hazard == "RAW" ? "read" : "overwrote";
    out += fmt::format(
        "  first op whose input was not ready: {} (step {}, op {}) {} '{}' at {:.1f} us, before {} (step {}, op {}) "
        "completed at {:.1f} us ({}); {} such ops in all\n",
        n.consumer.name, n.consumer.step, n.consumer.index, verb, n.resource, n.consumer_start_us, n.producer.name,
        n.producer.step, n.producer.index, n.producer_end_us, n.hazard, r.not_ready_count);
  } else {
    out += "  every dependency honoured (no op started before an op it depends on completed)\n";
  }
  if (r.first_divergent) {
    out += fmt::format("  first divergent op (plan order): {} (step {}, op {}); first in run order: {} (step {}, op "
                       "{}); {} of {} op outputs differ from the in-order reference\n",
                       r.first_divergent->name, r.first_divergent->step, r.first_divergent->index,
                       r.first_divergent_run->name, r.first_divergent_run->step, r.first_divergent_run->index,
                       r.ops_divergent, r.ops_run);
    if (!r.verdict.empty()) out += fmt::format("  validation harness: {}\n", r.verdict);
  } else {
    out += fmt::format("  all {} op outputs match the in-order reference{}\n", r.ops_run,
                       r.verdict.empty() ? " bit for bit" : " (validation harness: within tolerance)");
  }
  return out;
}

}  // namespace rwkv::simgpu
