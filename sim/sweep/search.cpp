#include "sim/sweep/search.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "sim/frontend/parse.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/sweep/point_runner.hpp"
#include "sim/sweep/pool.hpp"

namespace masim::sweep {

using io::Required;
using nlohmann::json;

namespace {

const std::vector<std::string> kKinds = {"tp", "pp", "tp_pp", "ep", "ma_separation"};

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::vector<int> int_list(io::JsonReader& r, const std::string& key, std::vector<int> def, int lo, int hi) {
  const json* a = r.array(key, Required::kNo);
  if (a == nullptr) return def;
  std::vector<int> out;
  if (a->empty()) r.error(key, "expected at least one value, found an empty array");
  for (std::size_t i = 0; i < a->size(); ++i) {
    const json& v = (*a)[i];
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      r.diagnostics().error(r.file(), io::pointer_join(r.pointer_of(key), i),
                            "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], found " +
                                io::describe(v));
      continue;
    }
    out.push_back(static_cast<int>(v.get<std::int64_t>()));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A path written in the search file, made relative to the base scenario (the
// scenario parser resolves it from there).
json rebase(const json& v, const std::string& file, const std::string& base_file) {
  if (!v.is_string() || file == base_file) return v;
  const std::string p = v.get<std::string>();
  if (std::filesystem::path(p).is_absolute()) return v;
  const std::filesystem::path dir = std::filesystem::path(base_file).parent_path();
  return std::filesystem::path(frontend::resolve_reference(file, p)).lexically_relative(dir.empty() ? "." : dir).generic_string();
}

std::string micro(int m) { return std::to_string(m) + (m == 1 ? " micro-batch" : " micro-batches"); }

std::vector<int> range(int from, int to) {
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

}  // namespace

bool is_search(const json& doc) {
  return doc.is_object() && doc.contains("slo") && doc.contains("base") && !doc.contains("axes");
}

std::optional<SearchSpec> load_search(const std::string& path, io::Diagnostics& diags, const frontend::FileSource& files) {
  const std::size_t before = diags.size();
  const auto rr = files.read(path);
  if (rr.status != frontend::FileSource::Status::kOk) {
    diags.error(path, "", rr.status == frontend::FileSource::Status::kNotFound ? "file not found" : "cannot read file: " + rr.error);
    return std::nullopt;
  }
  const auto doc = io::parse_json_text(rr.text, path, diags);
  if (!doc) return std::nullopt;
  io::JsonReader r(*doc, path, "", diags);
  if (!r.valid()) return std::nullopt;
  frontend::check_schema(r, frontend::SchemaRule::kRequired);
  SearchSpec s;
  s.file = path;
  s.name = r.string("name", Required::kYes).value_or("");
  r.string_or("description", "");
  if (const auto b = r.string("base", Required::kYes)) {
    s.base_file = frontend::resolve_reference(path, *b);
    const auto br = files.read(s.base_file);
    if (br.status != frontend::FileSource::Status::kOk) {
      r.error("base", "file not found or unreadable: \"" + *b + "\" (resolved to " + s.base_file + ")");
    } else if (auto bd = io::parse_json_text(br.text, s.base_file, diags)) {
      s.base = std::move(*bd);
      for (const char* k : {"timeline", "serving"}) s.base.erase(k);
    }
  }
  if (auto slo = r.object("slo", Required::kYes)) {
    if (const auto t = slo->quantity("tpot", io::Dimension::kTime, Required::kYes, 1e-6, 3600)) s.tpot_slo_ms = *t * 1e3;
    slo->finish();
  }
  const double price = r.number_or("price_per_gpu_hour", 0.0, 0.0, 1e6);
  if (const json* sys = r.array("systems", Required::kNo)) {
    if (sys->empty()) r.error("systems", "expected at least one system, found an empty array");
    for (std::size_t i = 0; i < sys->size(); ++i) {
      io::JsonReader x((*sys)[i], path, io::pointer_join("/systems", i), diags);
      if (!x.valid()) continue;
      SearchSystem ss;
      ss.name = x.string("name", Required::kYes).value_or("");
      if (const json* h = x.raw("hardware", Required::kYes)) ss.hardware = rebase(*h, path, s.base_file);
      if (const json* t = x.raw("topology", Required::kYes)) ss.topology = rebase(*t, path, s.base_file);
      ss.price_per_gpu_hour = x.number_or("price_per_gpu_hour", price, 0.0, 1e6);
      x.finish();
      s.systems.push_back(std::move(ss));
    }
  } else {
    s.systems.push_back(SearchSystem{"base", json(), json(), price});
  }
  if (const json* k = r.array("kinds", Required::kNo)) {
    for (std::size_t i = 0; i < k->size(); ++i) {
      const json& v = (*k)[i];
      if (!v.is_string() || std::find(kKinds.begin(), kKinds.end(), v.get<std::string>()) == kKinds.end()) {
        std::string msg = "expected a layout kind (\"tp\", \"pp\", \"tp_pp\", \"ep\", \"ma_separation\"), found " + io::describe(v);
        if (v.is_string()) {
          const std::string near = io::nearest(v.get<std::string>(), kKinds);
          if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
        }
        diags.error(path, io::pointer_join("/kinds", i), msg);
        continue;
      }
      s.kinds.push_back(v.get<std::string>());
    }
  } else {
    s.kinds = kKinds;
  }
  s.gpus = int_list(r, "gpus", {}, 1, 1 << 20);
  s.batch_per_gpu = int_list(r, "batch_per_gpu", {}, 1, 1 << 20);
  s.micro_batches = int_list(r, "micro_batches", {1, 2}, 1, 64);
  s.hot_expert_replicas = int_list(r, "hot_expert_replicas", {0}, 0, 1 << 20);
  s.max_tp = static_cast<int>(r.integer_or("max_tp", 8, 1, 1 << 20));
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return s;
}

std::vector<Candidate> search_candidates(const SearchSpec& s, const frontend::FileSource& files) {
  std::vector<Candidate> out;
  for (const SearchSystem& sys : s.systems) {
    json base = s.base;
    if (!sys.hardware.is_null()) base["hardware"] = sys.hardware;
    if (!sys.topology.is_null()) base["topology"] = sys.topology;
    // The model and the topology's size shape the space; a base that is not
    // valid here gives no candidates (load_search's caller reports it).
    io::Diagnostics d;
    const auto spec = frontend::parse_scenario(base, s.base_file, d, files);
    if (!spec) continue;
    int topo_gpus = 0;
    for (const auto& v : spec->topology.vertices) topo_gpus += v.kind == spec::VertexKind::kGpu ? 1 : 0;
    const std::vector<int> gpu_counts = s.gpus.empty() ? std::vector<int>{topo_gpus} : s.gpus;
    const int experts = spec->model.num_experts;
    const int layers = spec->model.num_layers;
    for (const int n : gpu_counts) {
      const std::vector<int> loads = s.batch_per_gpu.empty()
                                         ? std::vector<int>{static_cast<int>(std::max<std::int64_t>(1, spec->workload.batch / n))}
                                         : s.batch_per_gpu;
      std::vector<std::pair<std::string, std::vector<std::pair<std::string, json>>>> families;  // kind -> (family, layout)
      auto add = [&](const std::string& kind, const std::string& family, json layout) {
        layout["name"] = family;
        layout["kind"] = kind;
        families.push_back({kind, {{family, std::move(layout)}}});
      };
      std::vector<int> pow2;
      for (int t = 1; t <= n && t <= s.max_tp; t *= 2) pow2.push_back(t);
      for (const std::string& kind : s.kinds) {
        if (kind == "tp") {
          for (int t : pow2) {
            if (n % t == 0) add(kind, "TP=" + std::to_string(t) + " x DP=" + std::to_string(n / t), {{"tp", t}, {"dp", n / t}});
          }
        } else if (kind == "pp") {
          for (int p = 2; p <= layers && p <= n; p *= 2) {
            if (n % p != 0) continue;
            for (int m : s.micro_batches) {
              add(kind, "PP=" + std::to_string(p) + " x DP=" + std::to_string(n / p) + ", " + micro(m),
                  {{"pp", p}, {"dp", n / p}, {"stage_parallelism", "none"}, {"micro_batches", m}});
            }
          }
        } else if (kind == "tp_pp") {
          for (int t : pow2) {
            if (t < 2) continue;
            for (int p = 2; p <= layers && t * p <= n; p *= 2) {
              if (n % (t * p) != 0) continue;
              for (int m : s.micro_batches) {
                add(kind, "TP=" + std::to_string(t) + " x PP=" + std::to_string(p) + " x DP=" + std::to_string(n / (t * p)) + ", " + micro(m),
                    {{"tp", t}, {"pp", p}, {"dp", n / (t * p)}, {"micro_batches", m}});
              }
            }
          }
        } else if (kind == "ep") {
          for (int e = 2; e <= n && e <= std::max(experts, 1); e *= 2) {
            if (n % e != 0) continue;
            for (int m : s.micro_batches) {
              add(kind, "EP=" + std::to_string(e) + " x DP=" + std::to_string(n / e) + ", " + micro(m),
                  {{"ep", e}, {"dp", n / e}, {"micro_batches", m}});
            }
          }
        } else if (kind == "ma_separation") {
          for (int a = 1; a < n; ++a) {
            const int e = n - a;
            for (int atp : pow2) {
              if (a % atp != 0) continue;
              for (int etp = 1; etp <= e && etp <= s.max_tp; etp *= 2) {
                if (e % etp != 0) continue;
                const int shards = e / etp;
                if (experts <= 0 || experts % shards != 0) continue;  // the rule ma_experts_not_divisible, skipped early
                for (int hot : s.hot_expert_replicas) {
                  for (int m : s.micro_batches) {
                    std::string fam = "MA " + std::to_string(a) + " attention (TP " + std::to_string(atp) + ") + " +
                                      std::to_string(e) + " expert (TP " + std::to_string(etp) + ")";
                    if (hot > 0) fam += ", " + std::to_string(hot) + " hot replicas";
                    fam += ", " + micro(m);
                    add(kind, fam,
                        {{"ma", {{"attention_gpus", range(0, a)}, {"expert_gpus", range(a, n)}, {"attention_tp", atp},
                                 {"expert_tp", etp}, {"hot_expert_replicas", hot}, {"micro_batches", m}}}});
                  }
                }
              }
            }
          }
        }
      }
      for (const auto& [kind, fl] : families) {
        for (const int load : loads) {
          Candidate c;
          c.index = out.size();
          c.kind = kind;
          c.family = fl[0].first + (s.systems.size() > 1 ? " on " + sys.name : "");
          c.config = fl[0].first + ", " + std::to_string(load) + " sequences per GPU";
          c.system = sys.name;
          c.gpus = n;
          c.batch_per_gpu = load;
          c.price = sys.price_per_gpu_hour;
          c.doc = base;
          c.doc["name"] = s.name + ": " + c.config;
          c.doc["workload"]["batch"] = static_cast<std::int64_t>(load) * n;
          c.doc["layouts"] = json::array({fl[0].second});
          out.push_back(std::move(c));
        }
      }
    }
  }
  return out;
}

SearchResult run_search(const SearchSpec& s, int jobs, const frontend::FileSource& files, const std::string& version) {
  const auto start = std::chrono::steady_clock::now();
  SearchResult r;
  r.candidates = search_candidates(s, files);
  parallel_for(r.candidates.size(), jobs, nullptr, [&](std::size_t i) {
    Candidate& c = r.candidates[i];
    const Resolved res = resolve_document(c.doc, s.base_file, files, frontend::Limits{}, version);
    if (!res.spec) {
      c.status = res.status == "refused" ? "refused" : "invalid";
      c.reason = res.errors.empty() ? res.status : res.errors.front();
      return;
    }
    const json rec = simulate_point(*res.spec);
    c.row = rec["layouts"].at(0);
    if (c.row["status"] != "ok") {
      c.status = c.row.value("error", std::string()).find("GiB") != std::string::npos ? "memory" : "failed";
      c.reason = c.row.value("error", std::string());
      return;
    }
    c.tpot_ms = c.row["tpot_ms"].get<double>();
    c.tokens_per_s_per_gpu = c.row["tokens_per_s_per_gpu"].get<double>();
    if (c.price > 0) c.tokens_per_dollar = c.tokens_per_s_per_gpu * 3600.0 / c.price;
    if (c.tpot_ms > s.tpot_slo_ms) {
      c.status = "slo";
      c.reason = "TPOT " + fmt("%.3g", c.tpot_ms) + " ms > SLO " + fmt("%.3g", s.tpot_slo_ms) + " ms";
    } else {
      c.status = "feasible";
    }
  });
  const auto not_run = [](const Candidate& c) { return c.status == "invalid" || c.status == "refused"; };
  for (const Candidate& c : r.candidates) {
    r.simulated += not_run(c) ? 0 : 1;
    r.invalid += not_run(c) ? 1 : 0;
  }
  // Highest first; ties to the earlier candidate, so the answer is deterministic.
  auto better = [](const Candidate& a, const Candidate& b, bool dollars) {
    const double va = dollars ? a.tokens_per_dollar : a.tokens_per_s_per_gpu;
    const double vb = dollars ? b.tokens_per_dollar : b.tokens_per_s_per_gpu;
    return va != vb ? va > vb : a.index < b.index;
  };
  for (const std::string& kind : s.kinds) {
    KindResult k;
    k.kind = kind;
    for (const Candidate& c : r.candidates) {
      if (c.kind != kind) continue;
      k.simulated += not_run(c) ? 0 : 1;
      k.invalid += not_run(c) ? 1 : 0;
      if (c.status != "feasible") continue;
      ++k.feasible;
      if (!k.best || better(c, r.candidates[*k.best], false)) k.best = c.index;
      if (c.price > 0 && (!k.best_per_dollar || better(c, r.candidates[*k.best_per_dollar], true))) k.best_per_dollar = c.index;
    }
    if (k.best) {
      const Candidate& w = r.candidates[*k.best];
      for (const Candidate& c : r.candidates) {
        if (c.kind != kind) continue;
        if (c.status == "feasible" && c.family != w.family && (!k.runner_up || better(c, r.candidates[*k.runner_up], false))) {
          k.runner_up = c.index;
        }
        // The same configuration at the next larger load per GPU.
        if (c.family == w.family && c.gpus == w.gpus && c.batch_per_gpu > w.batch_per_gpu &&
            (!k.next_load || c.batch_per_gpu < r.candidates[*k.next_load].batch_per_gpu)) {
          k.next_load = c.index;
        }
      }
    }
    r.kinds.push_back(std::move(k));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

namespace {

std::string why_not_more(const SearchResult& r, const KindResult& k) {
  if (!k.next_load) return "it already runs the largest load per GPU searched";
  const Candidate& n = r.candidates[*k.next_load];
  const std::string at = std::to_string(n.batch_per_gpu) + " sequences per GPU";
  if (n.status == "slo") return "more load misses the SLO (" + at + ": " + n.reason + ")";
  if (n.status == "memory") return "memory: " + at + " does not fit (" + n.reason + ")";
  if (n.status == "invalid") return "a batch rule: " + at + " is not a valid scenario (" + n.reason + ")";
  if (n.status == "refused") return "the work limits: " + at + " is past them (" + n.reason + ")";
  if (n.status == "feasible") {
    return at + " also meets the SLO but gives fewer tokens/s per GPU (" + fmt("%.0f", n.tokens_per_s_per_gpu) + ")";
  }
  return at + ": " + n.reason;
}

}  // namespace

std::string format_search(const SearchSpec& s, const SearchResult& r) {
  std::string o = "search \"" + s.name + "\": " + std::to_string(r.candidates.size()) + " candidates, " +
                  std::to_string(r.simulated) + " simulated, " + std::to_string(r.invalid) +
                  " rejected by the scenario rules or the work limits; TPOT SLO " + fmt("%.4g", s.tpot_slo_ms) + " ms\n";
  std::optional<std::size_t> overall;
  for (const KindResult& k : r.kinds) {
    o += "\n" + k.kind + ": ";
    if (!k.best) {
      o += "no configuration meets the SLO and fits (" + std::to_string(k.simulated) + " simulated)\n";
      continue;
    }
    const Candidate& w = r.candidates[*k.best];
    if (!overall || w.tokens_per_s_per_gpu > r.candidates[*overall].tokens_per_s_per_gpu) overall = w.index;
    o += w.config + (s.systems.size() > 1 ? " on " + w.system : "") + "\n";
    o += "  " + fmt("%.0f", w.tokens_per_s_per_gpu) + " tokens/s per GPU, TPOT " + fmt("%.3g", w.tpot_ms) + " ms, peak memory " +
         fmt("%.1f", w.row.value("peak_memory_gib", 0.0)) + " of " + fmt("%.1f", w.row.value("capacity_gib", 0.0)) + " GiB";
    if (w.price > 0) o += ", " + fmt("%.3g", w.tokens_per_dollar) + " tokens per dollar";
    o += "\n  binding: " + w.row.value("binding", std::string()) + ": " + w.row.value("binding_detail", std::string()) + "\n";
    o += "  load: " + why_not_more(r, k) + "\n";
    if (k.runner_up) {
      const Candidate& u = r.candidates[*k.runner_up];
      o += "  runner-up: " + u.config + ": " + fmt("%.0f", u.tokens_per_s_per_gpu) + " tokens/s per GPU (" +
           fmt("%.1f", 100.0 * (1.0 - u.tokens_per_s_per_gpu / w.tokens_per_s_per_gpu)) + "% behind; binding " +
           u.row.value("binding", std::string()) + ")\n";
    } else {
      o += "  runner-up: none (no other configuration of this kind meets the SLO)\n";
    }
    if (k.best_per_dollar && *k.best_per_dollar != *k.best) {
      const Candidate& d = r.candidates[*k.best_per_dollar];
      o += "  per dollar: " + d.config + " on " + d.system + ", " + fmt("%.3g", d.tokens_per_dollar) + " tokens per dollar\n";
    }
    o += "  " + std::to_string(k.feasible) + " of " + std::to_string(k.simulated) + " simulated configurations feasible\n";
  }
  if (overall) {
    const Candidate& w = r.candidates[*overall];
    o += "\nbest overall: " + w.kind + " " + w.config + ", " + fmt("%.0f", w.tokens_per_s_per_gpu) + " tokens/s per GPU\n";
  }
  return o;
}

json search_json(const SearchSpec& s, const SearchResult& r) {
  json j;
  j["name"] = s.name;
  j["tpot_slo_ms"] = s.tpot_slo_ms;
  j["candidates"] = r.candidates.size();
  j["simulated"] = r.simulated;
  j["invalid"] = r.invalid;
  j["kinds"] = json::array();
  auto cand = [&](std::optional<std::size_t> i) -> json {
    if (!i) return nullptr;
    const Candidate& c = r.candidates[*i];
    return json{{"config", c.config}, {"system", c.system}, {"gpus", c.gpus}, {"batch_per_gpu", c.batch_per_gpu},
                {"tokens_per_s_per_gpu", c.tokens_per_s_per_gpu}, {"tokens_per_dollar", c.tokens_per_dollar},
                {"tpot_ms", c.tpot_ms}, {"status", c.status}, {"reason", c.reason}, {"row", c.row}};
  };
  for (const KindResult& k : r.kinds) {
    j["kinds"].push_back({{"kind", k.kind}, {"best", cand(k.best)}, {"runner_up", cand(k.runner_up)},
                          {"best_per_dollar", cand(k.best_per_dollar)}, {"next_load", cand(k.next_load)},
                          {"feasible", k.feasible}, {"simulated", k.simulated}, {"invalid", k.invalid},
                          {"why_not_more_load", k.best ? why_not_more(r, k) : std::string()}});
  }
  return j;
}

std::string search_csv(const SearchResult& r) {
  auto field = [](const std::string& x) {
    if (x.find_first_of(",\"\n") == std::string::npos) return x;
    std::string q = "\"";
    for (char c : x) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string o = "candidate,kind,config,system,gpus,batch_per_gpu,status,tpot_ms,tokens_per_s_per_gpu,tokens_per_dollar,binding,reason\n";
  for (const Candidate& c : r.candidates) {
    o += std::to_string(c.index) + "," + c.kind + "," + field(c.config) + "," + field(c.system) + "," + std::to_string(c.gpus) +
         "," + std::to_string(c.batch_per_gpu) + "," + c.status + "," +
         (c.row.contains("tpot_ms") ? c.row["tpot_ms"].dump() : "") + "," +
         (c.row.contains("tokens_per_s_per_gpu") ? c.row["tokens_per_s_per_gpu"].dump() : "") + "," +
         (c.tokens_per_dollar > 0 ? json(c.tokens_per_dollar).dump() : "") + "," + field(c.row.is_object() ? c.row.value("binding", std::string()) : std::string()) +
         "," + field(c.reason) + "\n";
  }
  return o;
}

}  // namespace masim::sweep
