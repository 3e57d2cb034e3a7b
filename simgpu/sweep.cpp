#include "simgpu/sweep.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

#include "simgpu/output_file.h"
#include "simgpu/profile.h"
#include "simgpu/schedule.h"
#include "simgpu/simulate.h"
#include "simgpu/workload.h"

namespace rwkv::simgpu {

SweepResult run_sweep(const SweepOptions& o) {
  SweepResult out;
  out.config = o.config.name;
  out.quant = std::string(format_name(o.formats.layer));
  const Workload w = plan_workload(plan::build_plan(o.config, 1), o.formats);
  const Schedule base = find_schedule(o.schedule);
  const std::vector<std::string> names = o.profiles.empty() ? profile_names() : o.profiles;
  for (const std::string& name : names) {
    const Profile p = find_profile(name);
    for (int64_t every : o.intervals) {
      Schedule s = base;
      if (every > 0) {
        s.split.at = "every";
        s.split.every = every;
      } else {
        s.split.at = "none";
      }
      SimOptions so;
      so.steps = o.steps;
      const SimResult r = simulate(w, s, p, nullptr, so);
      out.rows.push_back({p.name, p.api, every, r.syncs_per_token(), r.dispatches_per_token(), r.tokens_per_second(),
                          r.cpu_busy(), r.gpu_busy(), r.bound()});
    }
  }
  return out;
}

std::string sweep_csv(const SweepResult& r) {
  std::string csv =
      "config,quant,profile,api,sync_every,syncs_per_token,dispatches_per_token,tokens_per_s,cpu_busy,gpu_busy,bound\n";
  for (const SweepRow& x : r.rows)
    csv += fmt::format("{},{},{},{},{},{:.3f},{:.1f},{:.4f},{:.4f},{:.4f},{}\n", r.config, r.quant, x.profile, x.api,
                       x.sync_every, x.syncs_per_token, x.dispatches_per_token, x.tokens_per_second, x.cpu_busy,
                       x.gpu_busy, x.bound);
  return csv;
}

std::string sweep_summary(const SweepResult& r) {
  std::string out = fmt::format("sweep: {} {}, sync every S dispatches, S = 1 .. one per token\n", r.config, r.quant);
  for (size_t i = 0; i < r.rows.size();) {
    size_t j = i;
    while (j < r.rows.size() && r.rows[j].profile == r.rows[i].profile) ++j;
    const SweepRow &most = r.rows[i], &fewest = r.rows[j - 1];
    out += fmt::format("  {:20} {:7.1f} tok/s at {:5.0f} syncs/token .. {:7.1f} tok/s at {:4.0f} ({})\n",
                       most.profile, most.tokens_per_second, most.syncs_per_token, fewest.tokens_per_second,
                       fewest.syncs_per_token, fewest.bound);
    i = j;
  }
  return out;
}

void write_sweep(const SweepResult& r, const std::string& dir, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create the output directory: {}", dir, ec.message()));
  const std::string csv = dir + "/sweep.csv", png = dir + "/sweep.png";
  if (!force)
    for (const std::string& f : {csv, png})
      if (fs::exists(f)) throw std::runtime_error(fmt::format("{} already exists (use --force to overwrite)", f));
  write_text_file(csv, sweep_csv(r), force);
  const char* py_env = std::getenv("RWKV_PYTHON");
  const std::string python = py_env && *py_env ? py_env : "/usr/bin/python3";
  const std::string script = data_dir() + "/plot_sweep.py";
  const std::string tmp = fmt::format("{}.tmp.{}.png", png, ::getpid());
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  const std::string cmd = fmt::format("{} {} {} {} 2>&1", quote(python), quote(script), quote(csv), quote(tmp));
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error(fmt::format("cannot run {}", python));
  std::string output;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0 || !fs::exists(tmp)) {
    fs::remove(tmp, ec);
    throw std::runtime_error(fmt::format(
        "the plot failed ({} {}; needs Debian's python3-matplotlib, which scripts/setup installs; {} was written): {}",
        python, script, csv, output));
  }
  fs::rename(tmp, png, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot rename the plot into place: {}", png, ec.message()));
}

}  // namespace rwkv::simgpu
