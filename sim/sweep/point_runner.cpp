#include "sim/sweep/point_runner.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <exception>
#include <functional>
#include <memory>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/sweep/binding.hpp"
#include "sim/topology/topology.hpp"

namespace masim::sweep {

using nlohmann::json;

namespace {

// 6 significant decimals, as results.json writes its metrics.
double r6(double v) {
  if (v == 0.0 || !std::isfinite(v)) return v;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

std::string format_diag(const io::Diagnostic& d) {
  if (d.line > 0) return d.file + ":" + std::to_string(d.line) + ": " + d.message;
  return d.file + ":" + (d.pointer.empty() ? "/" : d.pointer) + ": " + d.message;
}

bool pointer_within(const std::string& p, const std::string& prefix) {
  return p == prefix || (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 && p[prefix.size()] == '/');
}

// The first problem of a refused layout, cut to its first clause (a memory
// shortfall lists every GPU; the first says enough), and how many more.
std::string short_reason(const io::Diagnostics& d) {
  if (d.empty()) return "refused without a reason";
  std::string msg = d.items().front().message;
  const std::size_t cut = msg.find("; ");
  if (cut != std::string::npos) msg = msg.substr(0, cut) + "; ...";
  if (d.size() > 1) msg += " (" + std::to_string(d.size() - 1) + " more)";
  return msg;
}

json failed_row(const spec::LayoutSpec& l, const std::string& error) {
  return json{{"name", l.name}, {"kind", spec::to_string(l.kind)}, {"gpus", l.gpu_count()}, {"status", "failed"},
              {"error", error}};
}

Resolved finish_resolve(std::optional<spec::ScenarioSpec> s, io::Diagnostics& d, const frontend::Limits& limits,
                        const std::string& version, const std::function<io::Diagnostic(const io::Diagnostic&)>& where) {
  Resolved r;
  if (!s) {
    r.status = "invalid";
    for (const io::Diagnostic& x : d.items()) {
      r.problems.push_back(where(x));
      r.errors.push_back(format_diag(r.problems.back()));
    }
    if (d.not_listed() > 0) r.errors.push_back(d.not_listed_line());
    return r;
  }
  const json resolved = frontend::resolved_json(*s);
  r.hash = hash_text("masim " + version + "\n" + resolved.dump());
  const frontend::WorkEstimate e = frontend::estimate_work(*s);
  r.estimated_events = e.events;
  io::Diagnostics ld;
  frontend::check_limits(e, limits, s->file, ld);
  if (!ld.empty()) {
    r.status = "refused";
    for (const io::Diagnostic& x : ld.items()) {
      r.problems.push_back(where(x));
      r.errors.push_back(format_diag(r.problems.back()));
    }
    return r;
  }
  r.spec = std::move(s);
  r.status = "ok";
  return r;
}

}  // namespace

std::string hash_text(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Resolved resolve_point(const SweepSpec& sw, const Point& p, const frontend::FileSource& files,
                       const frontend::Limits& limits, const std::string& version) {
  if (!p.error.empty()) {
    Resolved r;
    r.status = "invalid";
    r.problems.push_back(io::Diagnostic{sw.file, "/axes", p.error, 0});
    r.errors.push_back(format_diag(r.problems.back()));
    return r;
  }
  io::Diagnostics d;
  auto s = frontend::parse_scenario(p.doc, sw.base_file, d, files);
  // A problem at a value an axis set is reported at that value in the sweep
  // file; one in an inline base at its place under /base.
  const auto where = [&](const io::Diagnostic& x) {
    if (x.file == sw.base_file && x.line == 0) {
      for (auto it = p.sets.rbegin(); it != p.sets.rend(); ++it) {
        if (pointer_within(x.pointer, (*it)->pointer)) {
          return io::Diagnostic{sw.file, (*it)->source, x.message + " (sets " + x.pointer + ")", 0};
        }
      }
      if (!sw.base_pointer.empty()) return io::Diagnostic{sw.file, sw.base_pointer + x.pointer, x.message, 0};
    }
    return x;
  };
  return finish_resolve(std::move(s), d, limits, version, where);
}

Resolved resolve_document(const json& doc, const std::string& file, const frontend::FileSource& files,
                          const frontend::Limits& limits, const std::string& version) {
  io::Diagnostics d;
  auto s = frontend::parse_scenario(doc, file, d, files);
  return finish_resolve(std::move(s), d, limits, version, [](const io::Diagnostic& x) { return x; });
}

json layout_row(const layouts::LayoutResult& l, const spec::ScenarioSpec& s) {
  const layouts::LayoutMetrics& m = l.metrics;
  double peak = 0.0;
  for (const layouts::GpuMemory& g : l.memory) peak = std::max(peak, g.breakdown.total().gib());
  const Binding b = binding_resource(l, s);
  return json{{"name", l.name},
              {"kind", spec::to_string(l.kind)},
              {"gpus", l.gpus},
              {"status", "ok"},
              {"tpot_ms", r6(m.tpot_ms)},
              {"ttft_ms", r6(m.ttft_ms)},
              {"tokens_per_s", r6(m.tokens_per_s)},
              {"tokens_per_s_per_gpu", r6(m.tokens_per_s_per_gpu)},
              {"iteration_ms", r6(m.iteration_ms)},
              {"gpu_util", r6(m.gpu_util_mean)},
              {"gpu_util_with_comm", r6(m.gpu_util_with_comm_mean)},
              {"mfu", r6(m.mfu)},
              {"hbm_bw_util", r6(m.hbm_bw_util)},
              {"comm_share", r6(l.communication_total.share)},
              {"comm_exposed_ms", r6(l.communication_total.exposed_ms)},
              {"peak_memory_gib", r6(peak)},
              {"capacity_gib", r6(s.hardware.gpu.hbm_capacity.gib())},
              {"max_batch_that_fits", l.max_batch_that_fits},
              {"events", l.events},
              {"binding", b.resource},
              {"binding_detail", b.detail}};
}

json simulate_point(const spec::ScenarioSpec& s) {
  json rec;
  rec["layouts"] = json::array();
  rec["errors"] = json::array();
  try {
    io::Diagnostics d;
    auto topo = topology::Topology::build(s.topology, s.file, d);
    const std::unique_ptr<models::ComputeCostModel> cost = topo ? profile::make_cost_model(s, d) : nullptr;
    if (!topo || !cost) {
      for (const io::Diagnostic& x : d.items()) rec["errors"].push_back(format_diag(x));
      for (const spec::LayoutSpec& l : s.layouts) rec["layouts"].push_back(failed_row(l, short_reason(d)));
      rec["status"] = "failed";
      return rec;
    }
    layouts::SimOptions opts;
    opts.record_timeline = false;
    try {
      const layouts::ScenarioResult r = layouts::simulate(s, *topo, *cost, opts);
      for (const layouts::LayoutResult& l : r.layouts) rec["layouts"].push_back(layout_row(l, s));
    } catch (const io::InputError&) {
      // One layout the simulator refuses must not hide the others: each alone.
      for (const spec::LayoutSpec& l : s.layouts) {
        spec::ScenarioSpec one = s;
        one.layouts = {l};
        try {
          const layouts::ScenarioResult r = layouts::simulate(one, *topo, *cost, opts);
          rec["layouts"].push_back(layout_row(r.layouts.at(0), one));
        } catch (const io::InputError& e) {
          rec["layouts"].push_back(failed_row(l, short_reason(e.diagnostics())));
          for (const io::Diagnostic& x : e.diagnostics().items()) {
            rec["errors"].push_back(l.name + ": " + format_diag(x));
          }
        }
      }
    }
  } catch (const std::exception& e) {
    // A bug must not lose the point: it is a failed row that says so.
    rec["layouts"] = json::array();
    for (const spec::LayoutSpec& l : s.layouts) rec["layouts"].push_back(failed_row(l, std::string("internal error: ") + e.what()));
    rec["errors"].push_back(std::string("internal error: ") + e.what());
  }
  std::size_t ok = 0;
  for (const json& l : rec["layouts"]) ok += l["status"] == "ok" ? 1 : 0;
  rec["status"] = ok == rec["layouts"].size() ? "ok" : ok == 0 ? "failed" : "partial";
  return rec;
}

}  // namespace masim::sweep
