#include "sim/sweep/sweep_spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "sim/frontend/parse.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::sweep {

using io::Required;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxAxisValues = 1000000;
// Keys of a scenario whose string values are file paths (relative to the file that names them).
const std::set<std::string> kPathPointers = {"/hardware", "/topology", "/model", "/profile"};

std::string label_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool pointer_has_prefix(const std::string& p, const std::string& prefix) {
  return p == prefix || (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 && p[prefix.size()] == '/');
}

std::optional<json> read_json(const frontend::FileSource& files, const std::string& path, const std::string& ref_file,
                              const std::string& ref_pointer, io::Diagnostics& diags) {
  const auto rr = files.read(path);
  if (rr.status == frontend::FileSource::Status::kNotFound) {
    diags.error(ref_file, ref_pointer, "file not found: \"" + path + "\"");
    return std::nullopt;
  }
  if (rr.status == frontend::FileSource::Status::kUnreadable) {
    diags.error(ref_file, ref_pointer, "cannot read file \"" + path + "\": " + rr.error);
    return std::nullopt;
  }
  return io::parse_json_text(rr.text, path, diags);
}

struct Parser {
  const SweepSpec& spec;
  io::Diagnostics& diags;

  // A key of a "set" object: a JSON Pointer below what `below` names. Allowed
  // in `r` either way; false after a diagnostic at the key.
  static bool pointer_key(io::JsonReader& r, const std::string& ptr, const std::string& below) {
    r.allow(ptr);
    try {
      (void)json::json_pointer(ptr);
    } catch (const json::exception&) {
      r.error(ptr, "expected a JSON Pointer (RFC 6901) as the key, found \"" + ptr + "\"");
      return false;
    }
    if (ptr.empty()) {
      r.error(ptr, "expected a JSON Pointer below " + below);
      return false;
    }
    return true;
  }

  // The layout named `name` in the base: its index, or a diagnostic at `where` (nearest name).
  std::optional<std::size_t> layout_index(const std::string& name, const std::string& where) {
    std::vector<std::string> names;
    if (spec.base.contains("layouts") && spec.base["layouts"].is_array()) {
      const json& ls = spec.base["layouts"];
      for (std::size_t i = 0; i < ls.size(); ++i) {
        const json& l = ls[i];
        if (l.is_object() && l.contains("name") && l["name"].is_string()) {
          if (l["name"].get<std::string>() == name) return i;
          names.push_back(l["name"].get<std::string>());
        }
      }
    }
    std::string msg = "expected the name of a layout of the base scenario, found \"" + name + "\"";
    const std::string near = io::nearest(name, names);
    if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
    diags.error(spec.file, where, msg);
    return std::nullopt;
  }

  // An axis member: "pointer" (and optional "layout") with "values". Returns
  // the absolute pointer, or nullopt after a diagnostic.
  std::optional<std::string> target(io::JsonReader& r) {
    const auto ptr = r.string("pointer", Required::kYes);
    const auto layout = r.string("layout", Required::kNo);
    if (!ptr) return std::nullopt;
    try {
      (void)json::json_pointer(*ptr);
    } catch (const json::exception&) {
      r.error("pointer", "expected a JSON Pointer (RFC 6901) such as \"/workload/batch\", found \"" + *ptr + "\"");
      return std::nullopt;
    }
    if (ptr->empty()) {
      r.error("pointer", "expected a JSON Pointer below the scenario's root, found \"\" (the whole scenario)");
      return std::nullopt;
    }
    if (!layout) return *ptr;
    const auto i = layout_index(*layout, r.pointer_of("layout"));
    if (!i) return std::nullopt;
    return "/layouts/" + std::to_string(*i) + *ptr;
  }

  // A value written at a path key, given relative to the sweep file: rewritten
  // relative to the base scenario, against which the scenario parser resolves it.
  json rebase(const std::string& pointer, const json& v) const {
    if (!kPathPointers.count(pointer) || !v.is_string() || spec.base_file == spec.file) return v;
    const std::string p = v.get<std::string>();
    if (std::filesystem::path(p).is_absolute()) return v;
    const std::string from_cwd = frontend::resolve_reference(spec.file, p);
    const std::filesystem::path base_dir = std::filesystem::path(spec.base_file).parent_path();
    std::string rel = std::filesystem::path(from_cwd).lexically_relative(base_dir.empty() ? "." : base_dir).generic_string();
    return rel.empty() ? v : json(rel);
  }

  std::optional<std::vector<json>> values(io::JsonReader& r) {
    const json* vs = r.array("values", Required::kYes);
    if (vs == nullptr) return std::nullopt;
    if (vs->empty()) {
      r.error("values", "expected at least one value, found an empty array");
      return std::nullopt;
    }
    if (vs->size() > kMaxAxisValues) {
      r.error("values", "expected at most " + std::to_string(kMaxAxisValues) + " values, found " +
                            std::to_string(vs->size()));
      return std::nullopt;
    }
    return std::vector<json>(vs->begin(), vs->end());
  }

  std::optional<Axis> axis(const json& node, const std::string& pointer) {
    io::JsonReader r(node, spec.file, pointer, diags);
    if (!r.valid()) return std::nullopt;
    Axis a;
    a.source = pointer;
    const std::size_t before = diags.size();
    a.name = r.string("name", Required::kYes).value_or("");
    if (r.has("name") && a.name.empty()) r.error("name", "expected a non-empty name (the axis's CSV column)");
    for (const std::string& c : fixed_columns()) {
      if (a.name == c) r.error("name", "\"" + c + "\" is a column every sweep output has; choose another axis name");
    }
    const int forms = (r.has("pointer") ? 1 : 0) + (r.has("zip") ? 1 : 0) + (r.has("variants") ? 1 : 0);
    if (forms != 1) {
      r.error_here(std::string(forms == 0 ? "expected one of" : "expected only one of") +
                   " \"pointer\" (with \"values\"), \"zip\" or \"variants\", found " +
                   (forms == 0 ? "none" : std::to_string(forms)));
      r.allow("pointer");
      r.allow("values");
      r.allow("layout");
      r.allow("zip");
      r.allow("variants");
      r.allow("labels");
      r.allow("reason");
      r.finish();
      return std::nullopt;
    }
    a.reason = r.string_or("reason", "");
    if (r.has("pointer")) {
      const auto t = target(r);
      const auto vs = values(r);
      if (t && vs) {
        for (std::size_t i = 0; i < vs->size(); ++i) {
          a.values.push_back(AxisValue{label_of((*vs)[i]), "",
                                       {Assignment{*t, rebase(*t, (*vs)[i]),
                                                   io::pointer_join(r.pointer_of("values"), i)}}});
        }
      }
    } else if (r.has("zip")) {
      const json* zs = r.array("zip", Required::kYes);
      std::optional<std::size_t> n;
      if (zs != nullptr && zs->size() < 2) r.error("zip", "expected at least two members to advance together");
      if (zs != nullptr) {
        for (std::size_t m = 0; m < zs->size(); ++m) {
          io::JsonReader z((*zs)[m], spec.file, io::pointer_join(r.pointer_of("zip"), m), diags);
          if (!z.valid()) continue;
          const auto t = target(z);
          const auto vs = values(z);
          z.finish();
          if (!t || !vs) continue;
          if (n && *n != vs->size()) {
            z.error("values", "expected " + std::to_string(*n) + " values (as the zip's first member), found " +
                                  std::to_string(vs->size()));
            continue;
          }
          n = vs->size();
          if (a.values.empty()) a.values.resize(vs->size());
          for (std::size_t i = 0; i < vs->size(); ++i) {
            AxisValue& av = a.values[i];
            av.label += (av.label.empty() ? "" : "/") + label_of((*vs)[i]);
            av.sets.push_back(Assignment{*t, rebase(*t, (*vs)[i]), io::pointer_join(z.pointer_of("values"), i)});
          }
        }
      }
      if (const json* ls = r.array("labels", Required::kNo)) {
        if (ls->size() != a.values.size()) {
          r.error("labels", "expected " + std::to_string(a.values.size()) + " labels (one per value), found " +
                                std::to_string(ls->size()));
        } else {
          for (std::size_t i = 0; i < ls->size(); ++i) {
            if (!(*ls)[i].is_string()) {
              diags.error(spec.file, io::pointer_join(r.pointer_of("labels"), i),
                          "expected a string, found " + io::describe((*ls)[i]));
            } else {
              a.values[i].label = (*ls)[i].get<std::string>();
            }
          }
        }
      }
    } else {
      const json* vs = r.array("variants", Required::kYes);
      if (vs != nullptr && vs->empty()) r.error("variants", "expected at least one variant, found an empty array");
      if (vs != nullptr) {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < vs->size(); ++i) {
          io::JsonReader v((*vs)[i], spec.file, io::pointer_join(r.pointer_of("variants"), i), diags);
          if (!v.valid()) continue;
          AxisValue av;
          av.label = v.string("label", Required::kYes).value_or("");
          av.description = v.string_or("description", "");
          if (!seen.insert(av.label).second) v.error("label", "label \"" + av.label + "\" is used twice on this axis");
          // No "set" and no "layout_set": the base as it is (a reference row).
          if (auto set = v.object("set", Required::kNo)) {
            // Pointers in the order written would be nicer, but nlohmann::json
            // keeps object keys sorted: a variant's values are set in pointer
            // order (a parent before its children), which is what nesting needs.
            for (const auto& [ptr, value] : (*vs)[i]["set"].items()) {
              if (!pointer_key(*set, ptr, "the scenario's root, found \"\"")) continue;
              av.sets.push_back(Assignment{ptr, rebase(ptr, value), set->pointer_of(ptr)});
            }
            if (av.sets.empty()) v.error("set", "expected at least one pointer to set, found an empty object");
            set->finish();
          }
          // "layout_set": {"<layout name>": {"/pointer in that layout": value}}.
          if (auto ls = v.object("layout_set", Required::kNo)) {
            const json& lsn = (*vs)[i]["layout_set"];
            if (lsn.empty()) v.error("layout_set", "expected at least one layout name, found an empty object");
            for (const auto& [name, inner] : lsn.items()) {
              ls->allow(name);
              const auto li = layout_index(name, ls->pointer_of(name));
              if (!li) continue;
              auto in = ls->object(name, Required::kYes);
              if (!in) continue;
              if (inner.empty()) ls->error(name, "expected at least one pointer to set, found an empty object");
              for (const auto& [ptr, value] : inner.items()) {
                if (!pointer_key(*in, ptr, "the layout, found \"\" (the whole layout)")) continue;
                const std::string abs = "/layouts/" + std::to_string(*li) + ptr;
                av.sets.push_back(Assignment{abs, value, in->pointer_of(ptr)});
              }
              in->finish();
            }
            ls->finish();
          }
          v.finish();
          a.values.push_back(std::move(av));
        }
      }
    }
    r.finish();
    if (diags.size() != before) return std::nullopt;
    return a;
  }
};


// A pointer below a file reference of the base ("/model/num_experts" with
// "model": "../models/x.json") needs the referenced document in the base: it
// is read (relative to the base file) and written in place of the path.
void inline_references(SweepSpec& s, io::Diagnostics& diags, const frontend::FileSource& files) {
  for (const std::string& key : kPathPointers) {
    if (key == "/profile") continue;  // a profile is only ever named, never edited
    const json::json_pointer kp(key);
    if (!s.base.contains(kp) || !s.base.at(kp).is_string()) continue;
    const Assignment* below = nullptr;
    for (const Axis& a : s.axes) {
      for (const AxisValue& v : a.values) {
        for (const Assignment& x : v.sets) {
          if (x.pointer != key && pointer_has_prefix(x.pointer, key) && below == nullptr) below = &x;
        }
      }
    }
    if (below == nullptr) continue;
    const std::string written = s.base.at(kp).get<std::string>();
    const std::string path = frontend::resolve_reference(s.base_file, written);
    if (auto doc = read_json(files, path, s.file, below->source, diags)) {
      if (!doc->is_object()) {
        diags.error(s.file, below->source,
                    "expected " + key + " (\"" + written + "\") to be a JSON object to set " + below->pointer +
                        " in, found " + io::describe(*doc));
        continue;
      }
      s.base[kp] = std::move(*doc);
    }
  }
}

// Keeps the base's layouts named in the sweep's "layouts" (in the base's order).
void keep_layouts(SweepSpec& s, const json& names, const std::string& file, io::Diagnostics& diags) {
  if (!names.is_array() || names.empty()) {
    diags.error(file, "/layouts", "expected a non-empty array of layout names of the base scenario, found " +
                                      io::describe(names));
    return;
  }
  std::vector<std::string> base_names;
  for (const json& l : s.base["layouts"]) {
    if (l.is_object() && l.contains("name") && l["name"].is_string()) base_names.push_back(l["name"].get<std::string>());
  }
  std::set<std::string> keep;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string where = io::pointer_join("/layouts", i);
    if (!names[i].is_string()) {
      diags.error(file, where, "expected a layout name (a string), found " + io::describe(names[i]));
      continue;
    }
    const std::string n = names[i].get<std::string>();
    if (std::find(base_names.begin(), base_names.end(), n) == base_names.end()) {
      std::string msg = "expected the name of a layout of the base scenario, found \"" + n + "\"";
      const std::string near = io::nearest(n, base_names);
      if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
      diags.error(file, where, msg);
      continue;
    }
    if (!keep.insert(n).second) diags.error(file, where, "layout \"" + n + "\" is named twice");
  }
  json kept = json::array();
  for (const json& l : s.base["layouts"]) {
    if (l.is_object() && l.contains("name") && l["name"].is_string() && keep.count(l["name"].get<std::string>())) {
      kept.push_back(l);
    }
  }
  s.base["layouts"] = std::move(kept);
}

// Each pointer must land in the base scenario: its parent exists there (or some
// axis sets the parent), and a key the base lacks must be one the scenario
// format knows (a typo is reported here, once, not at every point).
void check_targets(const SweepSpec& s, io::Diagnostics& diags, const frontend::FileSource& files) {
  std::vector<std::string> all;
  for (const Axis& a : s.axes) {
    for (const AxisValue& v : a.values) {
      for (const Assignment& x : v.sets) all.push_back(x.pointer);
    }
  }
  std::set<std::string> checked;
  for (const Axis& a : s.axes) {
    for (const AxisValue& v : a.values) {
      for (const Assignment& x : v.sets) {
        if (!checked.insert(x.pointer).second) continue;
        const json::json_pointer jp(x.pointer);
        bool set_by_other = false;
        for (const std::string& p : all) {
          if (p != x.pointer && pointer_has_prefix(x.pointer, p)) set_by_other = true;
        }
        if (set_by_other || s.base.contains(jp)) continue;
        const json::json_pointer parent = jp.parent_pointer();
        if (!s.base.contains(parent)) {
          diags.error(s.file, x.source,
                      "expected a location in the base scenario, found none: " + parent.to_string() +
                          " does not exist in " + s.base_file + (s.base_pointer.empty() ? "" : s.base_pointer) +
                          " (so " + x.pointer + " cannot be set)");
          continue;
        }
        if (!s.base.at(parent).is_object()) {
          diags.error(s.file, x.source,
                      "expected a location in the base scenario, found none: " + x.pointer + " is past the end of the array " +
                          parent.to_string());
          continue;
        }
        // A key the base leaves at its default: the scenario parser says whether it is one.
        json probe = s.base;
        probe[jp] = x.value;
        io::Diagnostics pd;
        (void)frontend::parse_scenario(probe, s.base_file, pd, files);
        for (const io::Diagnostic& d : pd.items()) {
          if (d.file == s.base_file && d.pointer == x.pointer && d.message.rfind("unknown key", 0) == 0) {
            diags.error(s.file, x.source, x.pointer + ": " + d.message);
            break;
          }
        }
      }
    }
  }
}

}  // namespace

const std::vector<std::string>& metric_columns() {
  static const std::vector<std::string> k = {
      "tpot_ms",     "ttft_ms",    "tokens_per_s",       "tokens_per_s_per_gpu", "iteration_ms",
      "gpu_util",    "gpu_util_with_comm", "mfu",        "hbm_bw_util",          "comm_share",
      "comm_exposed_ms", "peak_memory_gib", "capacity_gib", "max_batch_that_fits", "events", "binding"};
  return k;
}

const std::vector<std::string>& fixed_columns() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> c = {"point", "layout", "kind", "gpus", "status"};
    for (const std::string& m : metric_columns()) c.push_back(m);
    for (const char* x : {"estimated_events", "hash", "error"}) c.push_back(x);
    return c;
  }();
  return k;
}

bool is_sweep(const json& doc) { return doc.is_object() && doc.contains("axes"); }

double SweepSpec::point_count() const {
  double n = 1;
  for (const Axis& a : axes) n *= static_cast<double>(a.values.size());
  return n;
}

std::optional<SweepSpec> parse_sweep(const json& doc, const std::string& file, io::Diagnostics& diags,
                                     const frontend::FileSource& files) {
  const std::size_t before = diags.size();
  io::JsonReader r(doc, file, "", diags);
  if (!r.valid()) return std::nullopt;
  SweepSpec s;
  s.file = file;
  frontend::check_schema(r, frontend::SchemaRule::kRequired);
  s.name = r.string("name", Required::kYes).value_or("");
  s.description = r.string_or("description", "");
  bool base_ok = false;
  if (const json* b = r.raw("base", Required::kYes)) {
    if (b->is_string()) {
      s.base_file = frontend::resolve_reference(file, b->get<std::string>());
      if (auto bd = read_json(files, s.base_file, file, "/base", diags)) {
        s.base = std::move(*bd);
        base_ok = true;
      }
    } else if (b->is_object()) {
      s.base = *b;
      s.base_file = file;
      s.base_pointer = "/base";
      base_ok = true;
    } else {
      r.error("base", "expected a scenario file path (a string) or an inline scenario (an object), found " +
                          io::describe(*b));
    }
  }
  if (base_ok) {
    if (!s.base.is_object() || !s.base.contains("layouts")) {
      diags.error(file, "/base", "expected a scenario (an object with \"layouts\"), found " +
                                     std::string(s.base.is_object() ? "an object without \"layouts\"" : io::describe(s.base)));
      base_ok = false;
    } else {
      // A sweep compares steady-state steps; the run timeline and serving of a
      // base scenario would multiply every point's cost and are not run.
      for (const char* k : {"timeline", "serving"}) {
        if (s.base.contains(k)) {
          s.base.erase(k);
          s.notes.push_back(std::string("the base scenario's \"") + k + "\" block is not run by sweeps (steady-state rows only)");
        }
      }
    }
  }
  const json* axes = r.array("axes", Required::kYes);
  if (const json* keep = r.raw("layouts", Required::kNo); keep != nullptr && base_ok) {
    const std::size_t b = diags.size();
    keep_layouts(s, *keep, file, diags);
    if (diags.size() != b) base_ok = false;
  }
  r.finish();
  if (axes != nullptr && axes->empty()) r.error("axes", "expected at least one axis, found an empty array");
  if (axes != nullptr && base_ok) {
    Parser p{s, diags};
    std::set<std::string> names;
    for (std::size_t i = 0; i < axes->size(); ++i) {
      const std::string ptr = io::pointer_join("/axes", i);
      if (auto a = p.axis((*axes)[i], ptr)) {
        if (!names.insert(a->name).second) {
          diags.error(file, ptr + "/name", "axis name \"" + a->name + "\" is used twice");
          continue;
        }
        s.axes.push_back(std::move(*a));
      }
    }
  }
  inline_references(s, diags, files);
  check_targets(s, diags, files);
  if (diags.size() != before) return std::nullopt;
  return s;
}

std::optional<SweepSpec> load_sweep(const std::string& path, io::Diagnostics& diags, const frontend::FileSource& files) {
  const auto rr = files.read(path);
  if (rr.status != frontend::FileSource::Status::kOk) {
    diags.error(path, "", rr.status == frontend::FileSource::Status::kNotFound ? "file not found"
                                                                                : "cannot read file: " + rr.error);
    return std::nullopt;
  }
  auto doc = io::parse_json_text(rr.text, path, diags);
  if (!doc) return std::nullopt;
  return parse_sweep(*doc, path, diags, files);
}

void check_point_count(const SweepSpec& s, double max_points, const std::string& option, io::Diagnostics& diags) {
  const double n = s.point_count();
  if (n <= max_points) return;
  char count[64];
  std::snprintf(count, sizeof count, n < 1e15 ? "%.0f" : "%.3g", n);
  char limit[64];
  std::snprintf(limit, sizeof limit, "%.0f", max_points);
  std::string sizes;
  for (const Axis& a : s.axes) sizes += (sizes.empty() ? "" : " x ") + a.name + " " + std::to_string(a.values.size());
  diags.error(s.file, "/axes",
              "expected a sweep of at most " + std::string(limit) + " points (" + option + "), found " + count +
                  " points (" + sizes + "); remove values or raise the limit with " + option + " " + count);
}

Point point_at(const SweepSpec& s, std::size_t index) {
  Point p;
  p.index = index;
  p.doc = s.base;
  std::vector<std::size_t> digit(s.axes.size());
  std::size_t rest = index;
  for (std::size_t a = s.axes.size(); a-- > 0;) {
    const std::size_t n = s.axes[a].values.size();
    digit[a] = rest % n;
    rest /= n;
  }
  for (std::size_t a = 0; a < s.axes.size(); ++a) {
    const AxisValue& v = s.axes[a].values[digit[a]];
    p.labels.push_back(v.label);
    p.descriptions.push_back(v.description);
    for (const Assignment& x : v.sets) {
      p.sets.push_back(&x);
      const json::json_pointer jp(x.pointer);
      const json::json_pointer parent = jp.parent_pointer();
      const bool parent_ok = p.doc.contains(parent) && (p.doc.at(parent).is_object() ||
                                                        (p.doc.at(parent).is_array() && p.doc.contains(jp)));
      if (!parent_ok) {
        if (p.error.empty()) {
          p.error = "axis \"" + s.axes[a].name + "\" cannot set " + x.pointer + ": " + parent.to_string() +
                    " is not an object or element of this point's scenario";
        }
        continue;
      }
      p.doc[jp] = x.value;
    }
  }
  return p;
}

std::string describe(const SweepSpec& s, const Point& p) {
  std::string out;
  for (std::size_t a = 0; a < s.axes.size() && a < p.labels.size(); ++a) {
    out += (out.empty() ? "" : ", ") + s.axes[a].name + "=" + p.labels[a];
  }
  return out;
}

}  // namespace masim::sweep
