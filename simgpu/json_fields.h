#pragma once
// Reading simgpu's data files (profiles, schedules): typed fields of a JSON
// object with errors that name the file, the field and what was expected,
// and a check that refuses unknown fields (a misspelt "sync_evry" must not be
// silently ignored). Every number a profile holds is a Sourced value:
// {"value": 3.66, "source": "where it comes from"}.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rwkv::simgpu {

struct Sourced {
  double value = 0;
  std::string source;
};

// Parses `path`; throws std::runtime_error naming the file on a read or parse error.
nlohmann::json read_json_file(const std::string& path);

class JsonFields {
 public:
  // `where` names the object inside the file ("" for the top level, "efficiency[2]"...).
  JsonFields(const nlohmann::json& object, std::string file, std::string where = "");

  bool has(const char* key) const;
  Sourced sourced(const char* key) const;  // required {"value": number, "source": non-empty string}
  std::optional<Sourced> optional_sourced(const char* key) const;
  std::string string(const char* key) const;  // required, non-empty
  std::string string_or(const char* key, const std::string& fallback) const;
  bool boolean_or(const char* key, bool fallback) const;
  int64_t integer_or(const char* key, int64_t fallback, int64_t min_value) const;
  JsonFields object(const char* key) const;
  std::vector<JsonFields> objects(const char* key) const;  // an array of objects (may be absent: empty)
  const nlohmann::json& raw(const char* key) const;
  // Throws if the object has a key outside `known`.
  void only(std::initializer_list<const char*> known) const;
  // Throws std::runtime_error "<file>: <field>: <what>".
  [[noreturn]] void fail(const char* key, const std::string& what) const;
  const std::string& file() const { return file_; }

 private:
  std::string field(const char* key) const;
  const nlohmann::json& j_;
  std::string file_, where_;
};

}  // namespace rwkv::simgpu
