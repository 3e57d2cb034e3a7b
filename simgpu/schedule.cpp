#include "simgpu/schedule.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "simgpu/json_fields.h"
#include "simgpu/profile.h"

namespace rwkv::simgpu {

std::string_view sync_name(Sync s) {
  switch (s) {
    case Sync::none: return "none";
    case Sync::cpu_wait: return "cpu_wait";
    case Sync::shared_event: return "shared_event";
    case Sync::commit: return "commit";
    case Sync::defer: return "defer";
  }
  return "?";
}

std::string_view wait_name(WaitMode w) { return w == WaitMode::spin ? "spin" : "sleep"; }

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative matcher with one backtrack point for the last '*'.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi, ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool AssignRule::matches(const Dispatch& d) const {
  return glob_match(op, d.name) && glob_match(kernel, d.kernel) && glob_match(weight_format, d.weight_format);
}

const std::string& Schedule::api_for(const Dispatch& d) const {
  for (const AssignRule& r : assign)
    if (r.matches(d)) return r.api;
  return default_api;
}

namespace {

Sync parse_sync(const JsonFields& f, const char* key, std::initializer_list<Sync> allowed, Sync fallback) {
  if (!f.has(key)) return fallback;
  const std::string s = f.string(key);
  std::string list;
  for (Sync a : allowed) {
    if (s == sync_name(a)) return a;
    list += (list.empty() ? "" : ", ") + std::string(sync_name(a));
  }
  f.fail(key, fmt::format("\"{}\" is not one of {}", s, list));
}

WaitMode parse_wait(const JsonFields& f, const char* key, const std::string& s) {
  if (s == "spin") return WaitMode::spin;
  if (s == "sleep") return WaitMode::sleep;
  f.fail(key, fmt::format("\"{}\" is not spin or sleep", s));
}

void check_role(const JsonFields& f, const char* key, const std::string& role, bool allow_profile) {
  if (role == "portable" || role == "native" || (allow_profile && role == "profile")) return;
  f.fail(key, fmt::format("\"{}\" is not portable{}", role, allow_profile ? ", native or profile" : " or native"));
}

}  // namespace

Schedule load_schedule(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  const JsonFields f(j, path);
  f.only({"name", "description", "source", "default_api", "assign", "api_switch", "split", "token_end", "wait",
          "in_flight", "replay", "encode_ahead", "pdl", "dag", "dag_streams", "merge"});
  Schedule s;
  s.file = path;
  s.name = f.string("name");
  s.description = f.string("description");
  s.source = f.string("source");
  s.default_api = f.string_or("default_api", "portable");
  check_role(f, "default_api", s.default_api, true);
  for (const JsonFields& r : f.objects("assign")) {
    r.only({"api", "op", "kernel", "weight_format"});
    AssignRule rule{r.string("api"), r.string_or("op", "*"), r.string_or("kernel", "*"),
                    r.string_or("weight_format", "*")};
    check_role(r, "api", rule.api, false);
    s.assign.push_back(std::move(rule));
  }
  s.api_switch = parse_sync(f, "api_switch", {Sync::cpu_wait, Sync::shared_event, Sync::defer}, Sync::cpu_wait);
  if (f.has("split")) {
    const JsonFields sp = f.object("split");
    sp.only({"at", "every", "sync", "round_trip", "api"});
    s.split.at = sp.string("at");
    if (s.split.at != "none" && s.split.at != "layer" && s.split.at != "every")
      sp.fail("at", fmt::format("\"{}\" is not none, layer or every", s.split.at));
    s.split.every = sp.integer_or("every", 0, 0);
    if (s.split.at == "every" && s.split.every < 1) sp.fail("every", "needs an integer >= 1 when at is \"every\"");
    s.split.sync = parse_sync(sp, "sync", {Sync::cpu_wait, Sync::shared_event, Sync::commit}, Sync::cpu_wait);
    s.split.round_trip = sp.boolean_or("round_trip", false);
    s.split.api = sp.string_or("api", "*");
    if (s.split.api != "*") check_role(sp, "api", s.split.api, true);
  }
  s.token_end = parse_sync(f, "token_end", {Sync::cpu_wait, Sync::commit}, Sync::cpu_wait);
  if (f.has("wait")) {
    const nlohmann::json& w = f.raw("wait");
    if (w.is_string()) {
      s.wait_portable = s.wait_native = parse_wait(f, "wait", w.get<std::string>());
    } else {
      const JsonFields wf = f.object("wait");
      wf.only({"portable", "native"});
      s.wait_portable = parse_wait(wf, "portable", wf.string_or("portable", "spin"));
      s.wait_native = parse_wait(wf, "native", wf.string_or("native", "spin"));
    }
  }
  s.in_flight = f.integer_or("in_flight", 1, 1);
  s.replay = f.boolean_or("replay", false);
  s.encode_ahead = f.boolean_or("encode_ahead", false);
  s.pdl = f.boolean_or("pdl", false);
  s.dag = f.boolean_or("dag", false);
  s.dag_streams = f.integer_or("dag_streams", 8, 1);
  s.merge = f.boolean_or("merge", false);
  return s;
}

std::vector<std::string> schedule_names() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(data_dir() + "/schedules", ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

Schedule find_schedule(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos ||
      (name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".json") == 0))
    return load_schedule(name_or_path);
  const std::string path = data_dir() + "/schedules/" + name_or_path + ".json";
  if (!std::filesystem::exists(path)) {
    std::string list;
    for (const std::string& n : schedule_names()) list += (list.empty() ? "" : ", ") + n;
    throw std::invalid_argument(fmt::format("unknown schedule '{}' (known: {})", name_or_path, list));
  }
  return load_schedule(path);
}

}  // namespace rwkv::simgpu
