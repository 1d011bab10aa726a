#include "sim/frontend/source_map.hpp"

#include <algorithm>
#include <vector>

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
  // An explicit stack, and nothing recorded more than kMaxRecordDepth levels below
  // `prefix`: no input format nests that deep (cross-field rules look at most four
  // levels down), while a hostile file may nest arrays 100,000 deep, which would
  // overflow the call stack of a recursive walk and make the keys (each as long as
  // its depth) quadratic in size. A deeper value reports at its nearest recorded
  // ancestor (find()).
  struct Item {
    std::string key;
    const nlohmann::json* node;
    std::string pointer;
    int depth;
  };
  std::vector<Item> stack;
  stack.push_back(Item{prefix, &node, pointer, 0});
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    map_[item.key] = Location{file, item.pointer};
    if (item.depth >= kMaxRecordDepth) continue;
    // Children pushed last-first, so they are recorded in document order (as a
    // recursive pre-order walk would: the later of two equal keys wins).
    if (item.node->is_object()) {
      const std::size_t first = stack.size();
      for (auto it = item.node->begin(); it != item.node->end(); ++it) {
        stack.push_back(Item{item.key + "." + it.key(), &it.value(), io::pointer_join(item.pointer, it.key()),
                             item.depth + 1});
      }
      std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(first), stack.end());
    } else if (item.node->is_array() && item.node->size() <= kMaxRecordArray) {
      for (std::size_t i = item.node->size(); i-- > 0;) {
        stack.push_back(Item{item.key + "." + std::to_string(i), &(*item.node)[i], io::pointer_join(item.pointer, i),
                             item.depth + 1});
      }
    }
  }
}

}  // namespace masim::frontend
