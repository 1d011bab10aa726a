#include "sim/io/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "sim/io/file_io.hpp"

namespace masim::io {

using nlohmann::json;

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return std::string("boolean ") + (v.get<bool>() ? "true" : "false");
    case json::value_t::string: return "string " + v.dump();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number " + v.dump();
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a value";
  }
}

namespace {

// 1-based line and column of byte `offset` of `text`.
std::pair<std::size_t, std::size_t> line_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
  }
  return {line, col};
}

// Where the parser is, for the callback: one frame per open object or array.
// Frames hold only their own position (a key or an index), not a pointer each:
// a document nested 100 000 deep must not cost depth² bytes.
struct Frame {
  bool object = false;
  std::set<std::string> keys;      // keys seen so far (objects)
  std::string key;                 // the current member's key (objects)
  std::size_t index = 0;           // the current element's index (arrays)
};

// JSON Pointer of the value the first `n` frames lead to.
std::string pointer_of(const std::vector<Frame>& stack, std::size_t n) {
  std::string p;
  for (std::size_t i = 0; i < n; ++i) p = stack[i].object ? pointer_join(p, stack[i].key) : pointer_join(p, stack[i].index);
  return p;
}

}  // namespace

std::optional<json> parse_json_text(const std::string& text, const std::string& file,
                                    Diagnostics& diags) {
  // A NUL byte is never valid JSON; refused before parsing so that nothing
  // after it can go unread by a reader that stops at the first NUL.
  if (const std::size_t nul = text.find('\0'); nul != std::string::npos) {
    const auto [line, col] = line_column(text, nul);
    const std::size_t count = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\0'));
    diags.error(file, "", "invalid JSON: NUL byte at line " + std::to_string(line) + ", column " +
                              std::to_string(col) +
                              (count > 1 ? " (" + std::to_string(count) + " NUL bytes in all)" : std::string()));
    return std::nullopt;
  }
  // nlohmann::json keeps the last of two equal keys in an object without a word;
  // which one the author meant is unknowable, so both are refused. The callback
  // sees every key as it is parsed; a stack of frames gives its JSON Pointer.
  std::vector<Frame> stack;
  Diagnostics dups;
  // The caps: parsing stops at the first value past one (TooLarge), so a
  // hostile document costs at most the capped amount of memory.
  struct TooLarge {
    std::string pointer;
    std::string message;
  };
  std::size_t values = 0;
  const auto count_value = [&] {
    if (++values > kMaxJsonValues) {
      throw TooLarge{pointer_of(stack, stack.size()),
                     "expected a document of at most " + std::to_string(kMaxJsonValues) +
                         " JSON values (masim's cap on one input file), found more; parsing stopped here"};
    }
    if (!stack.empty() && !stack.back().object && stack.back().index >= kMaxJsonArrayLength) {
      throw TooLarge{pointer_of(stack, stack.size() - 1),
                     "expected an array of at most " + std::to_string(kMaxJsonArrayLength) +
                         " elements (masim's cap on any array), found more; parsing stopped at element " +
                         std::to_string(stack.back().index)};
    }
  };
  const json::parser_callback_t track = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        count_value();
        Frame f;
        f.object = event == json::parse_event_t::object_start;
        stack.push_back(std::move(f));
        break;
      }
      case json::parse_event_t::key: {
        count_value();
        Frame& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          const std::string object = pointer_of(stack, stack.size() - 1);
          dups.error(file, pointer_join(object, f.key),
                     "duplicate key \"" + f.key + "\" in " + (object.empty() ? std::string("/") : object) +
                         " (JSON keeps only one of them; remove the other)");
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        if (!stack.empty() && !stack.back().object) ++stack.back().index;
        break;
      case json::parse_event_t::value:
        // Members of objects are counted at their key; elements of arrays here.
        if (!stack.empty() && !stack.back().object) {
          count_value();
          ++stack.back().index;
        }
        break;
    }
    return true;
  };
  try {
    json doc = json::parse(text, track);
    if (!dups.empty()) {
      diags.append(dups);
      return std::nullopt;
    }
    return doc;
  } catch (const TooLarge& e) {
    diags.error(file, e.pointer, e.message);
    return std::nullopt;
  } catch (const json::parse_error& e) {
    // Translate the byte offset into line:column for the message.
    std::size_t line = 1, col = 1;
    const std::size_t limit = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (std::size_t i = 0; i < limit; ++i) {
      if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    std::string what = e.what();
    const auto pos = what.find("syntax error");
    if (pos != std::string::npos) what = what.substr(pos);
    diags.error(file, "", "invalid JSON at line " + std::to_string(line) + ", column " +
                              std::to_string(col) + ": " + what);
    return std::nullopt;
  } catch (const json::exception& e) {
    // A number outside the range of a double ("1e400": out_of_range.406) has no
    // byte offset; the position is that of the first occurrence of its text.
    std::string what = e.what();
    const auto close = what.rfind('\'');
    const auto open = close == std::string::npos || close == 0 ? std::string::npos : what.rfind('\'', close - 1);
    std::string where;
    if (open != std::string::npos) {
      const std::string token = what.substr(open + 1, close - open - 1);
      const std::size_t at = token.empty() ? std::string::npos : text.find(token);
      if (at != std::string::npos) {
        std::size_t line = 1, col = 1;
        for (std::size_t i = 0; i < at; ++i) {
          if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
        }
        where = " at line " + std::to_string(line) + ", column " + std::to_string(col);
      }
    }
    const auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    if (what.find("number overflow") != std::string::npos) what += " (outside the range of a double)";
    diags.error(file, "", "invalid JSON" + where + ": " + what);
    return std::nullopt;
  }
}

std::optional<json> load_json_file(const std::string& path, Diagnostics& diags) {
  const FileRead f = read_regular_file(path);
  switch (f.status) {
    case ReadStatus::kOk: return parse_json_text(f.text, path, diags);
    // The words profile::make_cost_model looks for.
    case ReadStatus::kNotFound: diags.error(path, "", "cannot open file"); break;
    default: diags.error(path, "", "cannot read file: " + f.error); break;
  }
  return std::nullopt;
}

JsonReader::JsonReader(const json& node, std::string file, std::string pointer, Diagnostics& diags)
    : node_(node), file_(std::move(file)), pointer_(std::move(pointer)), diags_(diags) {
  if (!node_.is_object()) {
    valid_ = false;
    diags_.error(file_, pointer_, "expected an object, found " + describe(node_));
  }
}

bool JsonReader::has(const std::string& key) const { return valid_ && node_.contains(key); }

void JsonReader::allow(const std::string& key) { known_.push_back(key); }

const json* JsonReader::find(const std::string& key, Required req) {
  known_.push_back(key);
  if (!valid_) return nullptr;
  auto it = node_.find(key);
  if (it == node_.end()) {
    if (req == Required::kYes) diags_.error(file_, pointer_of(key), "missing required key \"" + key + "\"");
    return nullptr;
  }
  return &*it;
}

void JsonReader::error(const std::string& key, const std::string& message) {
  diags_.error(file_, pointer_of(key), message);
}
void JsonReader::error_here(const std::string& message) { diags_.error(file_, pointer_, message); }

std::optional<std::int64_t> JsonReader::integer(const std::string& key, Required req,
                                                std::int64_t min, std::int64_t max) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  std::int64_t x = 0;
  if (v->is_number_integer() || v->is_number_unsigned()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      error(key, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                     "], found " + v->dump());
      return std::nullopt;
    }
    x = v->get<std::int64_t>();
  } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
             std::fabs(v->get<double>()) < 9e15) {
    x = static_cast<std::int64_t>(v->get<double>());
  } else {
    error(key, "expected an integer, found " + describe(*v));
    return std::nullopt;
  }
  if (x < min || x > max) {
    error(key, "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                   "], found " + std::to_string(x));
    return std::nullopt;
  }
  return x;
}

std::int64_t JsonReader::integer_or(const std::string& key, std::int64_t def, std::int64_t min,
                                    std::int64_t max) {
  return integer(key, Required::kNo, min, max).value_or(def);
}

namespace {
std::string fmt_num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

std::optional<double> JsonReader::number(const std::string& key, Required req, double min,
                                         double max) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    error(key, "expected a number, found " + describe(*v));
    return std::nullopt;
  }
  const double x = v->get<double>();
  if (!(x >= min && x <= max)) {
    error(key, "expected a number in [" + fmt_num(min) + ", " + fmt_num(max) + "], found " + v->dump());
    return std::nullopt;
  }
  return x;
}

double JsonReader::number_or(const std::string& key, double def, double min, double max) {
  return number(key, Required::kNo, min, max).value_or(def);
}

std::optional<std::string> JsonReader::string(const std::string& key, Required req) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    error(key, "expected a string, found " + describe(*v));
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::string JsonReader::string_or(const std::string& key, const std::string& def) {
  return string(key, Required::kNo).value_or(def);
}

std::optional<bool> JsonReader::boolean(const std::string& key, Required req) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    error(key, "expected true or false, found " + describe(*v));
    return std::nullopt;
  }
  return v->get<bool>();
}

bool JsonReader::boolean_or(const std::string& key, bool def) {
  return boolean(key, Required::kNo).value_or(def);
}

std::optional<std::string> JsonReader::choice(const std::string& key, Required req,
                                              const std::vector<std::string>& allowed) {
  auto s = string(key, req);
  if (!s) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *s) != allowed.end()) return s;
  std::string msg = "unknown value \"" + *s + "\"";
  const std::string near = nearest(*s, allowed);
  if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
  msg += " (expected one of:";
  for (const auto& a : allowed) msg += " \"" + a + "\"";
  msg += ")";
  error(key, msg);
  return std::nullopt;
}

std::string JsonReader::choice_or(const std::string& key, const std::string& def,
                                  const std::vector<std::string>& allowed) {
  return choice(key, Required::kNo, allowed).value_or(def);
}

std::optional<double> JsonReader::quantity(const std::string& key, Dimension dim, Required req,
                                           double min, double max) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    error(key, "expected " + dimension_example(dim) + ", found " + describe(*v));
    return std::nullopt;
  }
  const auto q = parse_quantity(v->get<std::string>(), dim);
  if (!q.ok) {
    error(key, q.error);
    return std::nullopt;
  }
  if (!(q.value >= min && q.value <= max)) {
    error(key, "value " + v->dump() + " is out of range [" + fmt_num(min) + ", " + fmt_num(max) +
                   "] (base units)");
    return std::nullopt;
  }
  return q.value;
}

const json* JsonReader::raw(const std::string& key, Required req) { return find(key, req); }

std::optional<JsonReader> JsonReader::object(const std::string& key, Required req) {
  const json* v = find(key, req);
  if (!v) return std::nullopt;
  return JsonReader(*v, file_, pointer_of(key), diags_);
}

const json* JsonReader::array(const std::string& key, Required req) {
  const json* v = find(key, req);
  if (!v) return nullptr;
  if (!v->is_array()) {
    error(key, "expected an array, found " + describe(*v));
    return nullptr;
  }
  return v;
}

void JsonReader::finish() {
  if (!valid_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string& k = it.key();
    if (k.rfind('_', 0) == 0 || k.rfind("$comment", 0) == 0) continue;
    if (std::find(known_.begin(), known_.end(), k) != known_.end()) continue;
    std::string msg = "unknown key";
    const std::string near = nearest(k, known_);
    if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
    diags_.error(file_, pointer_of(k), msg);
  }
}

}  // namespace masim::io
