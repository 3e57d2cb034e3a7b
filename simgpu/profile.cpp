#include "simgpu/profile.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

namespace {

// Every scalar field of a profile and its member, in file order.
struct ScalarField {
  const char* name;
  Sourced Profile::*member;
};
constexpr ScalarField kScalars[] = {
    {"bandwidth_gbps", &Profile::bandwidth_gbps},
    {"peak_gflops", &Profile::peak_gflops},
    {"encode_us", &Profile::encode_us},
    {"gap_us", &Profile::gap_us},
    {"barrier_us", &Profile::barrier_us},
    {"cb_overhead_us", &Profile::cb_overhead_us},
    {"submit_us", &Profile::submit_us},
    {"submit_latency_us", &Profile::submit_latency_us},
    {"wait_spin_us", &Profile::wait_spin_us},
    {"wait_sleep_us", &Profile::wait_sleep_us},
    {"event_us", &Profile::event_us},
    {"cross_event_us", &Profile::cross_event_us},
    {"handoff_us", &Profile::handoff_us},
    {"import_us", &Profile::import_us},
    {"readback_us", &Profile::readback_us},
    {"host_token_us", &Profile::host_token_us},
    {"replay_encode_us", &Profile::replay_encode_us},
    {"replay_submit_us", &Profile::replay_submit_us},
    {"replay_gap_us", &Profile::replay_gap_us},
};

}  // namespace

const std::vector<std::string>& Profile::scalar_field_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const ScalarField& f : kScalars) v.push_back(f.name);
    return v;
  }();
  return names;
}

const KernelEfficiency& Profile::efficiency_for(std::string_view kind) const {
  return const_cast<Profile*>(this)->efficiency_for(kind);
}

KernelEfficiency& Profile::efficiency_for(std::string_view kind) {
  auto find = [&](std::string_view k) -> KernelEfficiency* {
    for (KernelEfficiency& e : efficiency)
      if (e.kind == k) return &e;
    return nullptr;
  };
  if (KernelEfficiency* e = find(kind)) return *e;
  const size_t dot = kind.find('.');
  if (dot != std::string_view::npos)
    if (KernelEfficiency* e = find(kind.substr(0, dot))) return *e;
  if (KernelEfficiency* e = find("default")) return *e;
  throw std::logic_error(fmt::format("profile {}: no efficiency entry 'default'", name));
}

Sourced& Profile::field(std::string_view n) {
  for (const ScalarField& f : kScalars)
    if (n == f.name) return this->*f.member;
  const std::string prefix = "efficiency.";
  if (n.substr(0, prefix.size()) == prefix) {
    const std::string_view rest = n.substr(prefix.size());
    const size_t dot = rest.rfind('.');
    if (dot != std::string_view::npos) {
      const std::string_view kind = rest.substr(0, dot), which = rest.substr(dot + 1);
      for (KernelEfficiency& e : efficiency)
        if (e.kind == kind) {
          if (which == "bandwidth") return e.bandwidth;
          if (which == "compute") return e.compute;
          if (which == "latency") return e.latency;
          if (which == "full_grid" && e.full_grid) return *e.full_grid;
          if (which == "peak_gflops" && e.peak_gflops) return *e.peak_gflops;
        }
    }
  }
  if (n == "pdl_gap_us" && pdl_gap_us) return *pdl_gap_us;
  if (n == "merged_load_us" && merged_load_us) return *merged_load_us;
  throw std::invalid_argument(fmt::format("profile {}: no field '{}'", name, n));
}

const Sourced& Profile::field(std::string_view n) const { return const_cast<Profile*>(this)->field(n); }

Profile load_profile(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  const JsonFields f(j, path);
  std::vector<const char*> known = {"name", "description", "device", "api", "role", "peer", "immediate_launch",
                                    "efficiency", "pdl_gap_us", "merged_load_us", "shared_roofline"};
  for (const ScalarField& s : kScalars) known.push_back(s.name);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return it.key() == k; }) == known.end())
      throw std::runtime_error(fmt::format("{}: unknown field '{}'", path, it.key()));
  Profile p;
  p.file = path;
  p.name = f.string("name");
  p.description = f.string("description");
  p.device = f.string("device");
  p.api = f.string("api");
  p.role = f.string("role");
  if (p.role != "portable" && p.role != "native")
    f.fail("role", fmt::format("expected \"portable\" or \"native\", got \"{}\"", p.role));
  p.peer = f.string_or("peer", "");
  const JsonFields il = f.object("immediate_launch");
  il.only({"value", "source"});
  if (!il.raw("value").is_boolean()) il.fail("value", "expected true or false");
  p.immediate_launch = il.raw("value").get<bool>();
  p.immediate_launch_source = il.string("source");
  if (f.has("shared_roofline")) {
    const JsonFields sr = f.object("shared_roofline");
    sr.only({"value", "source"});
    if (!sr.raw("value").is_boolean()) sr.fail("value", "expected true or false");
    p.shared_roofline = sr.raw("value").get<bool>();
    p.shared_roofline_source = sr.string("source");
  }
  for (const ScalarField& s : kScalars) p.*s.member = f.sourced(s.name);
  p.pdl_gap_us = f.optional_sourced("pdl_gap_us");
  if (p.pdl_gap_us && p.pdl_gap_us->value < 0) f.fail("pdl_gap_us", "must be >= 0");
  p.merged_load_us = f.optional_sourced("merged_load_us");
  if (p.merged_load_us && p.merged_load_us->value < 0) f.fail("merged_load_us", "must be >= 0");
  if (p.bandwidth_gbps.value <= 0) f.fail("bandwidth_gbps", "must be > 0");
  if (p.peak_gflops.value <= 0) f.fail("peak_gflops", "must be > 0");
  for (const JsonFields& e : f.objects("efficiency")) {
    e.only({"kind", "bandwidth", "compute", "latency_us", "full_grid", "peak_gflops"});
    KernelEfficiency k{e.string("kind"), e.sourced("bandwidth"), e.sourced("compute")};
    if (const std::optional<Sourced> l = e.optional_sourced("latency_us")) {
      if (l->value < 0) e.fail("latency_us", "must be >= 0");
      k.latency = *l;
    }
    k.full_grid = e.optional_sourced("full_grid");
    if (k.full_grid && k.full_grid->value < 1) e.fail("full_grid", "must be >= 1 (workgroups)");
    k.peak_gflops = e.optional_sourced("peak_gflops");
    if (k.peak_gflops && k.peak_gflops->value <= 0) e.fail("peak_gflops", "must be > 0");
    if (k.bandwidth.value <= 0 || k.bandwidth.value > 1) e.fail("bandwidth", "must be in (0, 1]");
    if (k.compute.value <= 0 || k.compute.value > 1) e.fail("compute", "must be in (0, 1]");
    p.efficiency.push_back(std::move(k));
  }
  if (std::none_of(p.efficiency.begin(), p.efficiency.end(), [](const KernelEfficiency& e) { return e.kind == "default"; }))
    f.fail("efficiency", "needs an entry with kind \"default\"");
  return p;
}

std::string data_dir() {
  if (const char* env = std::getenv("RWKV_SIMGPU_DIR"); env && *env) return env;
  return RWKV_SIMGPU_SOURCE_DIR;
}

namespace {
bool looks_like_path(const std::string& s) {
  return s.find('/') != std::string::npos || (s.size() > 5 && s.compare(s.size() - 5, 5, ".json") == 0);
}
std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::vector<std::string> profile_names() { return names_in(data_dir() + "/profiles"); }

Profile find_profile(const std::string& name_or_path) {
  if (looks_like_path(name_or_path)) return load_profile(name_or_path);
  const std::string path = data_dir() + "/profiles/" + name_or_path + ".json";
  if (!std::filesystem::exists(path)) {
    std::string list;
    for (const std::string& n : profile_names()) list += (list.empty() ? "" : ", ") + n;
    throw std::invalid_argument(fmt::format("unknown profile '{}' (known: {})", name_or_path, list));
  }
  return load_profile(path);
}

}  // namespace rwkv::simgpu
