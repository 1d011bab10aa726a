#include "tests/robustness/harness.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace masim::robustness {

namespace fs = std::filesystem;
using nlohmann::json;

std::string source_path(const std::string& rel) { return (fs::path(MASIM_SOURCE_DIR) / rel).generic_string(); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::vector<std::string> json_files(const std::string& rel_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(source_path(rel_dir))) {
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(rel_dir + "/" + e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string stem_of(const std::string& repo_path) {
  std::string s = fs::path(repo_path).filename().string();
  return s.substr(0, s.size() - 5);  // drop ".json"
}

// A small valid scenario naming `hardware`, `topology` and `model` (repository
// paths): TP=1 on one GPU and MA Separation with one attention and one expert GPU.
std::string host_scenario(const std::string& name, const std::string& hardware, const std::string& topology,
                          const std::string& model) {
  json s = {{"schema", 1},
            {"name", name},
            {"seed", 3},
            {"hardware", "../../" + hardware},
            {"topology", "../../" + topology},
            {"model", "../../" + model},
            {"workload", {{"kind", "decode"}, {"batch", 2}, {"context_length", 64}, {"iterations", 1}}},
            {"layouts",
             {{{"name", "TP=1"}, {"kind", "tp"}, {"tp", 1}},
              {{"name", "MA"},
               {"kind", "ma_separation"},
               {"ma", {{"attention_gpus", {0}}, {"expert_gpus", {1}}}}}}}};
  return s.dump(2) + "\n";
}

}  // namespace

Vfs Vfs::shipped() {
  Vfs v;
  std::vector<std::string> hardware = json_files("scenarios/hardware");
  std::vector<std::string> models = json_files("scenarios/models");
  std::vector<std::string> topologies = json_files("topologies");
  std::vector<std::string> scenarios;
  for (const std::string& f : json_files("scenarios/paper")) {
    if (f != "scenarios/paper/reference.json") scenarios.push_back(f);  // the study's numbers, not an input
  }
  for (const auto* list : {&hardware, &models, &topologies, &scenarios}) {
    for (const std::string& f : *list) v.files_[path(f)] = read_text(source_path(f));
  }
  // The profiles the scenarios name (issue 17: every shipped scenario prices ops
  // with its hardware's profile). A check parses the whole profile, 1.3 MB and
  // ~50 ms for the derived A100 one, which thousands of scenario mutations cannot
  // afford: the stand-in keeps everything but the op tables after the first, so
  // the reference, the GPU match and the derived-profile warning are still checked.
  for (const auto& [vp, text] : std::map<std::string, std::string>(v.files_)) {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("layouts") || !doc.contains("profile")) continue;
    const std::string repo = fs::path(vp).lexically_relative(kVfsRoot).parent_path().generic_string();
    const std::string prof = fs::path(repo + "/" + doc["profile"].get<std::string>()).lexically_normal().generic_string();
    if (v.files_.contains(path(prof))) continue;
    json p = json::parse(read_text(source_path(prof)));
    if (p.contains("ops") && p["ops"].is_array() && p["ops"].size() > 1) p["ops"].erase(p["ops"].begin() + 1, p["ops"].end());
    v.files_[path(prof)] = p.dump(1) + "\n";
  }

  auto gpu_name = [&](const std::string& f, const char* key) {
    return json::parse(v.files_[path(f)]).value(key, std::string());
  };
  // The single-node topology of a GPU (the explicit form: small and fast to build).
  auto topology_for = [&](const std::string& gpu) {
    for (const std::string& t : topologies) {
      if (gpu_name(t, "gpu_model") == gpu && stem_of(t).find("-x") == std::string::npos) return t;
    }
    throw std::runtime_error("no single-node topology for GPU " + gpu);
  };
  auto hardware_for = [&](const std::string& gpu) {
    for (const std::string& h : hardware) {
      if (gpu_name(h, "name") == gpu) return h;
    }
    throw std::runtime_error("no hardware file for GPU " + gpu);
  };
  const std::string h100 = "scenarios/hardware/h100-sxm5-80gb.json";
  const std::string seed_model = "scenarios/models/seed-moe-4l.json";
  auto add_host = [&](const std::string& f, DocKind kind, const std::string& hw, const std::string& topo,
                      const std::string& model) {
    const std::string host = "scenarios/robustness/host-" + stem_of(f) + ".json";
    v.files_[path(host)] = host_scenario("host-" + stem_of(f), hw, topo, model);
    v.corpus_.push_back(CorpusFile{f, kind, path(host)});
  };
  for (const std::string& f : hardware) {
    add_host(f, DocKind::kHardware, f, topology_for(gpu_name(f, "name")), seed_model);
  }
  for (const std::string& f : models) {
    const bool hf = f.size() > 12 && f.compare(f.size() - 12, 12, ".config.json") == 0;
    add_host(f, hf ? DocKind::kHfConfig : DocKind::kModel, h100, topology_for(gpu_name(h100, "name")), f);
  }
  for (const std::string& f : topologies) {
    const std::string gpu = gpu_name(f, "gpu_model");
    add_host(f, DocKind::kTopology, hardware_for(gpu), f, seed_model);
  }
  for (const std::string& f : scenarios) v.corpus_.push_back(CorpusFile{f, DocKind::kScenario, ""});
  return v;
}

frontend::FileSource Vfs::source() {
  if (table_stale_) {
    table_.clear();
    for (const auto& [p, t] : files_) table_.push_back(frontend::EmbeddedFile{p, t});
    table_stale_ = false;
  }
  return frontend::FileSource(table_);
}

const std::string& Vfs::text(const std::string& vpath) const {
  const auto it = files_.find(vpath);
  if (it == files_.end()) throw std::runtime_error("not in the virtual tree: " + vpath);
  return it->second;
}

void Vfs::set(const std::string& vpath, std::string text) {
  files_[vpath] = std::move(text);
  table_stale_ = true;
}

void Vfs::erase(const std::string& vpath) {
  files_.erase(vpath);
  table_stale_ = true;
}

void Vfs::write_to(const std::string& dir) const {
  for (const auto& [p, t] : files_) {
    const fs::path out = fs::path(dir) / p;
    fs::create_directories(out.parent_path());
    std::ofstream o(out, std::ios::binary | std::ios::trunc);
    o << t;
    if (!o) throw std::runtime_error("cannot write " + out.string());
  }
}

std::string diagnostic_problems(const io::Diagnostics& d, const frontend::FileSource& files) {
  std::string out;
  for (const io::Diagnostic& x : d.items()) {
    const std::string line = "  " + x.file + ":" + (x.pointer.empty() ? "/" : x.pointer) + ": " + x.message + "\n";
    if (x.file.empty()) {
      out += "no file:" + line;
      continue;
    }
    if (x.message.empty()) {
      out += "no message:" + line;
      continue;
    }
    const frontend::FileSource::ReadResult rr = files.read(x.file);
    if (rr.status != frontend::FileSource::Status::kOk) {
      out += "names a file that cannot be read:" + line;
      continue;
    }
    const json doc = json::parse(rr.text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      if (!x.pointer.empty()) out += "a pointer into a file that is not JSON:" + line;
      continue;
    }
    if (x.pointer.empty()) continue;
    try {
      const json::json_pointer p(x.pointer);
      if (doc.contains(p)) continue;
      // A key that is missing: its parent must be an object there without it.
      const json::json_pointer parent = p.parent_pointer();
      if (doc.contains(parent) && doc[parent].is_object() && !doc[parent].contains(p.back())) continue;
      out += "pointer does not resolve in the file:" + line;
    } catch (const json::exception& e) {
      out += std::string("malformed pointer (") + e.what() + "):" + line;
    }
  }
  return out;
}

}  // namespace masim::robustness
