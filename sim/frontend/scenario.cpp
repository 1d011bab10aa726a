#include "sim/frontend/scenario.hpp"

#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/frontend/validate.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/network/fit.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/topology/topology.hpp"

namespace masim::frontend {

using io::Required;
using nlohmann::json;

namespace {

// Reads `path` as JSON; "file not found" and syntax errors become diagnostics at
// (`ref_file`, `ref_pointer`) or the file itself.
std::optional<json> read_json(const FileSource& files, const std::string& path, const std::string& as_written,
                              const std::string& ref_file, const std::string& ref_pointer, io::Diagnostics& diags) {
  const FileSource::ReadResult rr = files.read(path);
  if (rr.status == FileSource::Status::kNotFound) {
    std::string msg = "file not found: \"" + as_written + "\"";
    if (as_written != path) msg += " (resolved to " + path + ")";
    diags.error(ref_file, ref_pointer, msg);
    return std::nullopt;
  }
  if (rr.status == FileSource::Status::kUnreadable) {
    diags.error(ref_file, ref_pointer, "cannot read file \"" + as_written + "\": " + rr.error);
    return std::nullopt;
  }
  return io::parse_json_text(rr.text, path, diags);
}

// A scenario member that is a relative path or an inline object.
struct Ref {
  const json* node = nullptr;
  std::string file;
  std::string pointer;
  bool is_file = false;
  std::string path_as_written;
};

std::optional<Ref> resolve(io::JsonReader& r, const std::string& key, const FileSource& files,
                           std::vector<std::unique_ptr<json>>& keep, io::Diagnostics& diags) {
  const json* v = r.raw(key, Required::kYes);
  if (v == nullptr) return std::nullopt;
  if (v->is_object()) return Ref{v, r.file(), r.pointer_of(key), false, ""};
  if (!v->is_string()) {
    r.error(key, "expected a file path (a string) or an object, found " + io::describe(*v));
    return std::nullopt;
  }
  const std::string written = v->get<std::string>();
  const std::string path = resolve_reference(r.file(), written);
  auto doc = read_json(files, path, written, r.file(), r.pointer_of(key), diags);
  if (!doc) return std::nullopt;
  keep.push_back(std::make_unique<json>(std::move(*doc)));
  return Ref{keep.back().get(), path, "", true, written};
}

int topology_gpus(const spec::TopologySpec& t) {
  int n = 0;
  for (const auto& v : t.vertices) n += v.kind == spec::VertexKind::kGpu ? 1 : 0;
  return n;
}

}  // namespace

std::optional<spec::ScenarioSpec> parse_scenario(const json& doc, const std::string& file, io::Diagnostics& diags,
                                                 const FileSource& files, SourceMap* where_out) {
  const std::size_t before = diags.size();
  SourceMap local;
  SourceMap& where = where_out ? *where_out : local;
  io::JsonReader r(doc, file, "", diags);
  if (!r.valid()) return std::nullopt;
  check_schema(r, SchemaRule::kRequired);

  spec::ScenarioSpec s;
  s.file = file;
  s.name = r.string("name", Required::kYes).value_or("");
  s.description = r.string_or("description", "");
  s.seed = static_cast<std::uint64_t>(r.integer_or("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));

  std::vector<std::unique_ptr<json>> keep;  // referenced documents, alive while parsing
  ScenarioParts parts;
  if (auto ref = resolve(r, "hardware", files, keep, diags)) {
    const ParseContext ctx{ref->file, ref->pointer, diags, where};
    parts.hardware = parse_hardware(*ref->node, ctx, ref->is_file ? SchemaRule::kRequired : SchemaRule::kOptional,
                                    ref->is_file ? file_stem(ref->file) : "inline");
    where.set("hardware", Location{file, r.pointer_of("hardware")});
  }
  if (auto ref = resolve(r, "topology", files, keep, diags)) {
    parts.topology = topology::parse_topology(*ref->node, ref->file, ref->pointer, diags);
    // The structural rules (unique ids, link ends, dense GPU numbering, connected
    // GPUs) are Topology::build's. Checked here, so a problem names the topology's
    // own file and pointer; a caller that builds the valid spec again gets no
    // second report.
    if (parts.topology && !topology::Topology::build(*parts.topology, ref->file, ref->pointer, diags)) {
      parts.topology.reset();
    }
    where.record_tree("topology", *ref->node, ref->file, ref->pointer);
    where.set("topology", Location{file, r.pointer_of("topology")});
  }
  if (auto ref = resolve(r, "model", files, keep, diags)) {
    const ParseContext ctx{ref->file, ref->pointer, diags, where};
    const std::string name = ref->is_file ? file_stem(ref->file) : "inline";
    if (is_hf_config(*ref->node)) {
      parts.model = import_hf_config(*ref->node, ctx, name);
    } else {
      parts.model = parse_model(*ref->node, ctx, ref->is_file ? SchemaRule::kRequired : SchemaRule::kOptional, name);
    }
    where.set("model", Location{file, r.pointer_of("model")});
  }
  if (const json* w = r.raw("workload", Required::kYes)) {
    parts.workload = parse_workload(*w, ParseContext{file, r.pointer_of("workload"), diags, where});
  }
  if (const json* ls = r.array("layouts", Required::kYes)) {
    if (ls->empty()) r.error("layouts", "expected at least one layout, found an empty array");
    for (std::size_t i = 0; i < ls->size(); ++i) {
      parts.layouts.push_back(
          parse_layout((*ls)[i], ParseContext{file, io::pointer_join(r.pointer_of("layouts"), i), diags, where}, i));
    }
  }
  if (auto prof = r.string("profile", Required::kNo)) {
    const std::string path = resolve_reference(file, *prof);
    const FileSource::ReadResult rr = files.read(path);
    if (rr.status != FileSource::Status::kOk) {
      // The same words as for the other references (read_json above).
      std::string msg = rr.status == FileSource::Status::kNotFound
                            ? "file not found: \"" + *prof + "\""
                            : "cannot read file \"" + *prof + "\": " + rr.error;
      if (*prof != path) msg += " (resolved to " + path + ")";
      r.error("profile", msg);
    }
    s.profile_path = path;
  }
  s.kernels = r.choice_or("kernels", "production", {"production", "masim"});
  if (const json* cs = r.array("choices", Required::kNo)) {
    for (std::size_t i = 0; i < cs->size(); ++i) {
      io::JsonReader c((*cs)[i], file, io::pointer_join(r.pointer_of("choices"), i), diags);
      if (!c.valid()) continue;
      spec::Choice ch;
      ch.key = c.string("key", Required::kYes).value_or("");
      ch.value = c.string("value", Required::kYes).value_or("");
      ch.reason = c.string("reason", Required::kYes).value_or("");
      c.finish();
      s.choices.push_back(std::move(ch));
    }
  }
  std::optional<spec::TimelineSpec> timeline;
  if (const json* t = r.raw("timeline", Required::kNo)) {
    timeline = parse_timeline(*t, ParseContext{file, r.pointer_of("timeline"), diags, where});
  }
  std::optional<spec::ServingSpec> serving;
  // Serving is asked for by workload kind "serving" with its "serving" object
  // inside the workload (the documented form), or by a top-level "serving"
  // block beside a decode or prefill workload (the earlier form, kept: it is
  // also what the resolved scenario echoes). Not both.
  const json* wnode = doc.is_object() && doc.contains("workload") ? &doc.at("workload") : nullptr;
  const bool serving_kind = wnode != nullptr && wnode->is_object() && wnode->contains("kind") &&
                            wnode->at("kind").is_string() && wnode->at("kind") == "serving";
  if (serving_kind && wnode->contains("serving")) {
    serving = parse_serving(wnode->at("serving"),
                            ParseContext{file, io::pointer_join(r.pointer_of("workload"), "serving"), diags, where},
                            files);
  }
  if (const json* sv = r.raw("serving", Required::kNo)) {
    if (serving_kind) {
      diags.error(file, r.pointer_of("serving"),
                  "the workload is of kind \"serving\": give the serving block once, as /workload/serving, "
                  "found a top-level \"serving\" too");
    } else {
      serving = parse_serving(*sv, ParseContext{file, r.pointer_of("serving"), diags, where}, files);
    }
  }
  if (serving_kind && serving && parts.workload && parts.workload->batch == 0) {
    parts.workload->batch = serving->max_num_seqs;
  }
  r.finish();

  validate_scenario(parts, where, diags);
  if (diags.size() != before) return std::nullopt;
  if (timeline) {
    std::vector<spec::LayoutSpec> layouts;
    for (auto& l : parts.layouts) layouts.push_back(*l);
    check_timeline(*timeline, *parts.topology, layouts, file, "/timeline", diags);
    if (diags.size() != before) return std::nullopt;
    s.timeline = std::move(timeline);
  }
  if (serving) {
    if (parts.workload->kind == spec::WorkloadKind::kTraining) {
      diags.error(file, "/serving", "applies to inference; this scenario's workload is \"training\"");
      return std::nullopt;
    }
    s.serving = std::move(serving);
  }
  s.hardware = std::move(*parts.hardware);
  s.topology = std::move(*parts.topology);
  s.model = std::move(*parts.model);
  s.workload = std::move(*parts.workload);
  for (auto& l : parts.layouts) s.layouts.push_back(std::move(*l));
  return s;
}

std::optional<spec::ScenarioSpec> load_scenario(const std::string& path, io::Diagnostics& diags,
                                                const FileSource& files) {
  auto doc = read_json(files, path, path, path, "", diags);
  if (!doc) return std::nullopt;
  return parse_scenario(*doc, path, diags, files);
}

const char* to_string(FileKind k) {
  switch (k) {
    case FileKind::kScenario: return "scenario";
    case FileKind::kHardware: return "hardware";
    case FileKind::kModel: return "model";
    case FileKind::kHfConfig: return "Hugging Face config";
    case FileKind::kTopology: return "topology";
    case FileKind::kUnknown: return "unknown";
  }
  return "?";
}

FileKind detect_kind(const json& doc) {
  if (!doc.is_object()) return FileKind::kUnknown;
  // A sweep file (sim/sweep: "axes" over a "base") may name "layouts" to keep; not one of these kinds.
  if (doc.contains("axes") && doc.contains("base")) return FileKind::kUnknown;
  if (doc.contains("model_type")) return FileKind::kHfConfig;
  if (doc.contains("layouts") || doc.contains("workload")) return FileKind::kScenario;
  if (doc.contains("peak_flops") || doc.contains("hbm_bandwidth")) return FileKind::kHardware;
  if (doc.contains("num_layers") || doc.contains("hidden_size")) return FileKind::kModel;
  if (doc.contains("generator") || doc.contains("vertices") || doc.contains("links")) return FileKind::kTopology;
  return FileKind::kUnknown;
}

namespace {

// A derived profile prices every op from another GPU's measurements: say so, with
// the derivation's measured error where it was measured (docs/VALIDATION.md).
std::string derived_profile_warning(const profile::ProfileCostModel& pm, const spec::ScenarioSpec& s) {
  const profile::Profile& p = pm.profile();
  std::string w = "profile " + profile::resolve_profile_path(s) + " is derived for " + p.provenance.gpu_name + " from " +
                  (p.derivation ? p.derivation->source_gpu : std::string("?")) +
                  " measurements and datasheet ratios, not measured on it; ";
  if (const auto b = pm.band()) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "its rule's measured error over whole steps: bias %+.1f%%, %+.1f%% to %+.1f%% over %d steps",
                  b->bias_pct, b->min_pct, b->max_pct, b->steps);
    const auto& e = *p.derivation->measured_error;
    w += std::string(buf) + " (against " + e.against + ", " + e.report +
         "); results.json gives every headline metric as an interval";
  } else {
    w += "its error has not been measured";
  }
  return w;
}

}  // namespace

CheckResult check_file(const std::string& path, io::Diagnostics& diags, const FileSource& files) {
  CheckResult res;
  const std::size_t before = diags.size();
  auto doc = read_json(files, path, path, path, "", diags);
  if (!doc) return res;
  res.kind = detect_kind(*doc);
  SourceMap where;
  const ParseContext ctx{path, "", diags, where};
  switch (res.kind) {
    case FileKind::kScenario: {
      auto s = parse_scenario(*doc, path, diags, files);
      if (!s) break;
      auto topo = topology::Topology::build(s->topology, s->file, diags);
      if (!topo) break;
      for (std::string& w : network::fit_range_warnings(*topo)) res.warnings.push_back(std::move(w));
      // The calibration profile, if named: readable, valid, for this GPU.
      if (!s->profile_path.empty()) {
        // The copy built into the binary when the file is not on disk (check --builtin).
        const FileSource::ReadResult rr = files.read(profile::resolve_profile_path(*s));
        const bool embedded = rr.status == FileSource::Status::kOk && rr.embedded;
        const auto cost = profile::make_cost_model(*s, diags, embedded ? &rr.text : nullptr);
        if (!cost) break;
        const auto* pm = dynamic_cast<const profile::ProfileCostModel*>(cost.get());
        if (pm != nullptr && pm->profile().derived) res.warnings.push_back(derived_profile_warning(*pm, *s));
      }
      res.summary = "scenario \"" + s->name + "\": " + std::to_string(s->layouts.size()) + " layouts, model \"" +
                    s->model.name + "\", " + std::to_string(topology_gpus(s->topology)) + " GPUs (" +
                    s->hardware.gpu.name + ")";
      res.estimate = estimate_work(*s);
      res.summary += "; estimated " + res.estimate->summary();
      break;
    }
    case FileKind::kHardware:
      if (auto h = parse_hardware(*doc, ctx, SchemaRule::kRequired, file_stem(path))) {
        res.summary = "hardware \"" + h->gpu.name + "\"";
      }
      break;
    case FileKind::kModel:
      if (auto m = parse_model(*doc, ctx, SchemaRule::kRequired, file_stem(path))) {
        res.summary = "model \"" + m->name + "\": " + std::to_string(m->num_layers) + " layers, " +
                      std::to_string(m->num_experts) + " experts";
      }
      break;
    case FileKind::kHfConfig:
      if (auto m = import_hf_config(*doc, ctx, file_stem(path))) {
        res.summary = "Hugging Face config \"" + m->name + "\": " + std::to_string(m->num_layers) + " layers, " +
                      std::to_string(m->num_experts) + " experts";
      }
      break;
    case FileKind::kTopology:
      if (auto t = topology::parse_topology(*doc, path, "", diags)) {
        if (auto topo = topology::Topology::build(*t, path, diags)) {
          res.summary = "topology \"" + t->name + "\": " + std::to_string(topo->num_gpus()) + " GPUs";
          for (std::string& w : network::fit_range_warnings(*topo)) res.warnings.push_back(std::move(w));
        }
      }
      break;
    case FileKind::kUnknown:
      diags.error(path, "",
                  "cannot tell what kind of input this is: expected a scenario (with \"layouts\"), hardware "
                  "(with \"peak_flops\"), a model (with \"num_layers\"), a Hugging Face config (with "
                  "\"model_type\") or a topology (with \"generator\" or \"vertices\")");
      break;
  }
  res.ok = diags.size() == before;
  return res;
}

}  // namespace masim::frontend
