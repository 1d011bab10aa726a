#include "sim/frontend/source_map.hpp"

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"

namespace masim::frontend {

Location SourceMap::find(const std::string& key) const {
  std::string k = key;
  while (true) {
    auto it = map_.find(k);
    if (it != map_.end()) return it->second;
    const auto dot = k.rfind('.');
    if (dot == std::string::npos) return {};
    k.resize(dot);
  }
}

void SourceMap::record_tree(const std::string& prefix, const nlohmann::json& node,
                            const std::string& file, const std::string& pointer) {
  map_[prefix] = Location{file, pointer};
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      record_tree(prefix + "." + it.key(), it.value(), file, io::pointer_join(pointer, it.key()));
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      record_tree(prefix + "." + std::to_string(i), node[i], file, io::pointer_join(pointer, i));
    }
  }
}

}  // namespace masim::frontend
