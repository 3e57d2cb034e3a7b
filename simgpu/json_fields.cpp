#include "simgpu/json_fields.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv::simgpu {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open for reading", path));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(ss.str());
    if (!j.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object at the top level", path));
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

JsonFields::JsonFields(const nlohmann::json& object, std::string file, std::string where)
    : j_(object), file_(std::move(file)), where_(std::move(where)) {
  if (!j_.is_object())
    throw std::runtime_error(fmt::format("{}: {}: expected an object", file_, where_.empty() ? "top level" : where_));
}

std::string JsonFields::field(const char* key) const { return where_.empty() ? key : where_ + "." + key; }

void JsonFields::fail(const char* key, const std::string& what) const {
  throw std::runtime_error(fmt::format("{}: field '{}': {}", file_, field(key), what));
}

bool JsonFields::has(const char* key) const { return j_.contains(key); }

const nlohmann::json& JsonFields::raw(const char* key) const {
  if (!j_.contains(key)) fail(key, "missing");
  return j_.at(key);
}

Sourced JsonFields::sourced(const char* key) const {
  const nlohmann::json& v = raw(key);
  if (!v.is_object() || !v.contains("value") || !v.contains("source"))
    fail(key, "expected {\"value\": <number>, \"source\": \"<where it comes from>\"}");
  if (!v.at("value").is_number()) fail(key, fmt::format("value must be a number, got {}", v.at("value").dump()));
  if (!v.at("source").is_string() || v.at("source").get<std::string>().empty())
    fail(key, "source must be a non-empty string");
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "value" && it.key() != "source") fail(key, fmt::format("unknown key '{}'", it.key()));
  const double x = v.at("value").get<double>();
  if (!(x >= 0)) fail(key, fmt::format("value must be >= 0, got {}", x));
  return {x, v.at("source").get<std::string>()};
}

std::optional<Sourced> JsonFields::optional_sourced(const char* key) const {
  if (!has(key)) return std::nullopt;
  return sourced(key);
}

std::string JsonFields::string(const char* key) const {
  const nlohmann::json& v = raw(key);
  if (!v.is_string() || v.get<std::string>().empty()) fail(key, "expected a non-empty string");
  return v.get<std::string>();
}

std::string JsonFields::string_or(const char* key, const std::string& fallback) const {
  return has(key) ? string(key) : fallback;
}

bool JsonFields::boolean_or(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = raw(key);
  if (!v.is_boolean()) fail(key, fmt::format("expected true or false, got {}", v.dump()));
  return v.get<bool>();
}

int64_t JsonFields::integer_or(const char* key, int64_t fallback, int64_t min_value) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = raw(key);
  if (!v.is_number_integer() || v.get<int64_t>() < min_value)
    fail(key, fmt::format("expected an integer >= {}, got {}", min_value, v.dump()));
  return v.get<int64_t>();
}

JsonFields JsonFields::object(const char* key) const {
  const nlohmann::json& v = raw(key);
  if (!v.is_object()) fail(key, "expected an object");
  return JsonFields(v, file_, field(key));
}

std::vector<JsonFields> JsonFields::objects(const char* key) const {
  std::vector<JsonFields> out;
  if (!has(key)) return out;
  const nlohmann::json& v = raw(key);
  if (!v.is_array()) fail(key, "expected an array of objects");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_object()) fail(key, fmt::format("element {} is not an object", i));
    out.emplace_back(v[i], file_, fmt::format("{}[{}]", field(key), i));
  }
  return out;
}

void JsonFields::only(std::initializer_list<const char*> known) const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw std::runtime_error(
          fmt::format("{}: unknown field '{}' (known: {})", file_, field(it.key().c_str()), list));
    }
  }
}

}  // namespace rwkv::simgpu
