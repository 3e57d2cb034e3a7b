#include "backends/harness/report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#ifndef RWKV_SOURCE_DIR
#error "RWKV_SOURCE_DIR must name the source tree (for reports/plot_check.py)"
#endif

namespace rwkv::harness {

namespace {

nlohmann::ordered_json record_json(const CheckRecord& r) {
  nlohmann::ordered_json j;
  j["step"] = r.step;
  j["layer"] = r.layer;
  j["op"] = r.op;
  j["kernel"] = r.kernel;
  j["dtype"] = dtype_name(r.dtype);
  j["shape"] = {r.shape[0], r.shape[1], r.shape[2]};
  j["pass"] = r.pass();
  j["ref_err_f64"] = r.ref_err;
  j["k"] = r.tol.k;
  j["n"] = r.tol.n;
  j["max_abs"] = r.m.max_abs;
  j["max_rel"] = r.m.max_rel;
  j["nmse"] = r.m.nmse;
  j["cosine"] = r.m.cosine;
  j["ulp_max"] = r.m.ulp_max == UINT64_MAX ? -1.0 : double(r.m.ulp_max);
  j["ulp_hist"] = r.m.ulp_hist;
  j["count"] = r.m.count;
  j["beyond"] = r.m.beyond;
  j["worst_ratio"] = std::isfinite(r.m.worst_ratio) ? r.m.worst_ratio : 1e300;
  j["worst_index"] = r.m.worst_index;
  j["worst_ref"] = r.m.worst_ref;
  j["worst_cand"] = r.m.worst_cand;
  return j;
}

// The op name without its layer prefix ("blocks.3.att.matmul_r" -> "att.matmul_r").
std::string short_name(const CheckRecord& r) {
  if (r.layer >= 0 && r.op.rfind("blocks.", 0) == 0) return r.op.substr(r.op.find('.', 7) + 1);
  return r.op;
}

}  // namespace

std::string write_report(const CheckResult& r, const std::string& title, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  nlohmann::ordered_json j;
  j["title"] = title;
  j["pass"] = r.pass();
  j["missing"] = r.missing;
  const CheckRecord* first = r.first_divergence();
  j["first_divergence"] = first ? record_json(*first) : nlohmann::ordered_json();
  nlohmann::ordered_json recs = nlohmann::ordered_json::array();
  for (const CheckRecord& rec : r.records) recs.push_back(record_json(rec));
  j["records"] = std::move(recs);
  {
    std::ofstream out(dir + "/results.json");
    out << j.dump(1) << "\n";
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write results.json", dir));
  }

  // Markdown: summary, first divergence, depth, the worst of each op.
  std::string md = fmt::format("# {}\n\n", title);
  int64_t failing = 0;
  for (const CheckRecord& rec : r.records) failing += !rec.pass();
  md += fmt::format("**{}**: {} of {} tensors beyond tolerance{}.\n\n", r.pass() ? "PASS" : "FAIL", failing,
                    r.records.size(), r.missing ? fmt::format(" ({} golden tensors missing in the candidate)", r.missing) : "");
  if (first)
    md += fmt::format("First divergence: step {}, {}, `{}` ({}).\n\n```\n{}\n```\n\n", first->step,
                      first->layer < 0 ? std::string("embedding/head") : fmt::format("layer {}", first->layer),
                      first->op, first->kernel, describe(*first));
  md += "## Error along depth\n\nWorst |cand − ref| / tolerance over each layer's ops and steps (< 1 passes).\n\n"
        "| layer | worst ratio | max abs | max NMSE | failing |\n|---|---|---|---|---|\n";
  for (const LayerGrowth& g : error_growth(r.records))
    md += fmt::format("| {} | {:.3g} | {:.3g} | {:.3g} | {} |\n", g.layer < 0 ? std::string("embed/head")
                                                                               : fmt::format("{}", g.layer),
                      g.worst_ratio, g.max_abs, g.max_nmse, g.failing);
  md += "\n![error per layer and op](error_by_layer.png)\n\n![ULP distance histogram](ulp_hist.png)\n\n";
  md += "## Each op, worst over layers and steps\n\n| op | kernel | dtype | max abs | max ULP | max NMSE | min cosine | "
        "beyond | k | n |\n|---|---|---|---|---|---|---|---|---|---|\n";
  struct Worst {
    std::string kernel, dtype;
    double max_abs = 0, nmse = 0, cos = 1;
    uint64_t ulp = 0;
    int64_t beyond = 0, count = 0;
    double k = 0, n = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Worst> worst;
  for (const CheckRecord& rec : r.records) {
    const std::string name = rec.op.rfind("state.", 0) == 0 ? "state" : short_name(rec);
    auto [it, added] = worst.try_emplace(name);
    if (added) order.push_back(name);
    Worst& w = it->second;
    w.kernel = rec.kernel;
    w.dtype = dtype_name(rec.dtype);
    w.max_abs = std::max(w.max_abs, rec.m.max_abs);
    w.nmse = std::max(w.nmse, rec.m.nmse);
    w.cos = std::min(w.cos, rec.m.cosine);
    w.ulp = std::max(w.ulp, rec.m.ulp_max);
    w.beyond += rec.m.beyond;
    w.count += rec.m.count;
    w.k = rec.tol.k;
    w.n = rec.tol.n;
  }
  for (const std::string& name : order) {
    const Worst& w = worst[name];
    md += fmt::format("| `{}` | {} | {} | {:.3g} | {} | {:.3g} | {:.9f} | {} | {:g} | {:g} |\n", name, w.kernel,
                      w.dtype, w.max_abs, w.ulp == UINT64_MAX ? std::string("inf") : fmt::format("{}", w.ulp),
                      w.nmse, w.cos,
                      w.beyond == 0 ? fmt::format("0 of {}", w.count)
                                    : fmt::format("{} of {} ({:.3g}%)", w.beyond, w.count,
                                                  100.0 * double(w.beyond) / double(w.count)),
                      w.k, w.n);
  }
  const std::string page = dir + "/report.md";
  {
    std::ofstream out(page);
    out << md;
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write report.md", dir));
  }
  // Plots and the HTML page.
  const std::string cmd = fmt::format("/usr/bin/python3 '{}/reports/plot_check.py' '{}' 2>&1", RWKV_SOURCE_DIR, dir);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run the plotting script");
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0)
    throw std::runtime_error(fmt::format("reports/plot_check.py failed (needs python3-matplotlib):\n{}", out));
  return page;
}

}  // namespace rwkv::harness
