// Where each value of a scenario came from: file and JSON Pointer, keyed by a
// dotted path into the typed spec ("model.num_heads", "layouts.1.ma.expert_tp").
//
// Parsers record every leaf they see; cross-field validation then reports a
// problem at the place the user wrote the value (or, for a defaulted value, at
// the nearest enclosing object that was written).
//
//   SourceMap where;
//   where.record_tree("model", doc, "scenarios/models/m.json", "");
//   Location l = where.find("model.num_heads");   // {"scenarios/models/m.json", "/num_heads"}
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace masim::frontend {

struct Location {
  std::string file;
  std::string pointer;
};

class SourceMap {
 public:
  void set(const std::string& key, Location loc) { map_[key] = std::move(loc); }
  bool contains(const std::string& key) const { return map_.count(key) != 0; }
  // Location of `key`, or of its nearest recorded ancestor ("a.b.c" -> "a.b" -> "a").
  // An unknown key with no recorded ancestor gives an empty Location.
  Location find(const std::string& key) const;
  // Records `node` at `prefix` and every member / element below it, down to
  // kMaxRecordDepth levels (deeper values report at their nearest recorded ancestor).
  static constexpr int kMaxRecordDepth = 32;
  // Elements of an array longer than this are not recorded one by one (they
  // report at the array): a routing trace of a million counts would otherwise
  // cost a key, a file name and a pointer each, ~250 bytes per value.
  static constexpr std::size_t kMaxRecordArray = 4096;
  void record_tree(const std::string& prefix, const nlohmann::json& node, const std::string& file,
                   const std::string& pointer);

 private:
  std::map<std::string, Location> map_;
};

}  // namespace masim::frontend
