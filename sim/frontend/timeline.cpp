// The scenario's "timeline" object: run length, listed faults, random fault
// rates, recovery costs and policy (docs/INPUTS.md, "Run timeline"). Structural
// checks here; the checks that need the topology and the layouts (GPU ranks,
// vertex and link names, spares) are check_timeline's.
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Dimension;
using io::Required;
using nlohmann::json;

namespace {

constexpr double kMaxDuration = 366.0 * 86400.0;   // a year of simulated time
constexpr int kMaxListedFaults = 10000;

double time_or(io::JsonReader& r, const std::string& key, double def, double min, double max) {
  return r.quantity(key, Dimension::kTime, Required::kNo, min, max).value_or(def);
}

double mtbf_hours(io::JsonReader& r, const std::string& key) {
  // An MTBF from one minute to a million years, in hours.
  const auto q = r.quantity(key, Dimension::kTime, Required::kNo, 60.0, 3.6e13);
  return q ? *q / 3600.0 : 0.0;
}

std::optional<spec::FaultSpec> parse_fault(const json& node, const std::string& file, const std::string& pointer,
                                           double duration, io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  io::JsonReader r(node, file, pointer, diags);
  if (!r.valid()) return std::nullopt;
  spec::FaultSpec f;
  const auto kind = r.choice("kind", Required::kYes,
                             {"gpu", "hbm", "link_down", "link_degraded", "nic_down", "switch_down", "straggler"});
  f.at_s = r.quantity("at", Dimension::kTime, Required::kYes, 0.0, kMaxDuration).value_or(0.0);
  if (diags.size() == before && f.at_s >= duration && duration > 0) {
    r.error("at", "expected a time before the end of the run (" + format_quantity(duration, Dimension::kTime) +
                      "), found " + format_quantity(f.at_s, Dimension::kTime));
  }
  if (!kind) {
    r.allow("gpu");
    r.allow("vertex");
    r.allow("link");
    r.allow("factor");
    r.allow("duration");
    r.allow("repair_after");
    r.finish();
    return std::nullopt;
  }
  const bool gpu_kind = *kind == "gpu" || *kind == "hbm" || *kind == "straggler";
  const bool link_kind = *kind == "link_down" || *kind == "link_degraded";
  const bool vertex_kind = *kind == "nic_down" || *kind == "switch_down";
  f.kind = *kind == "gpu"             ? spec::FaultKind::kGpu
           : *kind == "hbm"           ? spec::FaultKind::kHbm
           : *kind == "link_down"     ? spec::FaultKind::kLinkDown
           : *kind == "link_degraded" ? spec::FaultKind::kLinkDegraded
           : *kind == "nic_down"      ? spec::FaultKind::kNicDown
           : *kind == "switch_down"   ? spec::FaultKind::kSwitchDown
                                      : spec::FaultKind::kStraggler;
  auto not_for = [&](const char* key, const char* used_by) {
    if (!r.has(key)) return;
    r.allow(key);
    r.error(key, std::string("does not apply to a fault of kind \"") + *kind + "\" (used by: " + used_by + ")");
  };
  if (gpu_kind) {
    f.gpu = static_cast<int>(r.integer("gpu", Required::kYes, 0, 1 << 24).value_or(-1));
  } else {
    not_for("gpu", "gpu, hbm, straggler");
  }
  if (vertex_kind) {
    f.vertex = r.string("vertex", Required::kYes).value_or("");
  } else {
    not_for("vertex", "nic_down, switch_down");
  }
  if (link_kind) {
    if (const json* l = r.array("link", Required::kYes)) {
      if (l->size() != 2 || !(*l)[0].is_string() || !(*l)[1].is_string()) {
        r.error("link", "expected the link's two vertex ids, e.g. [\"gpu0\", \"nvswitch0\"], found " +
                            io::describe(*l));
      } else {
        f.link_a = (*l)[0].get<std::string>();
        f.link_b = (*l)[1].get<std::string>();
      }
    }
  } else {
    not_for("link", "link_down, link_degraded");
  }
  if (f.kind == spec::FaultKind::kLinkDegraded) {
    const auto x = r.number("factor", Required::kYes, 1e-6, 1.0);
    f.factor = x.value_or(1.0);
    if (x && *x >= 1.0) r.error("factor", "expected a bandwidth factor below 1 (a link at full bandwidth is no fault), found 1");
  } else if (f.kind == spec::FaultKind::kStraggler) {
    const auto x = r.number("factor", Required::kYes, 1.0, 1000.0);
    f.factor = x.value_or(1.0);
    if (x && *x <= 1.0) r.error("factor", "expected a slowdown above 1 (compute takes factor times as long), found 1");
  } else {
    not_for("factor", "link_degraded (bandwidth factor), straggler (slowdown)");
  }
  if (f.kind == spec::FaultKind::kStraggler) {
    f.duration_s = time_or(r, "duration", -1.0, 1e-3, kMaxDuration);
    not_for("repair_after", "every kind but straggler (a straggler has a duration)");
  } else {
    not_for("duration", "straggler");
    f.repair_after_s = time_or(r, "repair_after", -1.0, 1e-3, kMaxDuration);
  }
  r.finish();
  if (diags.size() != before) return std::nullopt;
  return f;
}

}  // namespace

std::optional<spec::TimelineSpec> parse_timeline(const json& node, const ParseContext& ctx) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  spec::TimelineSpec t;
  t.duration_s = r.quantity("duration", Dimension::kTime, Required::kYes, 1e-3, kMaxDuration).value_or(0.0);
  if (const json* fs = r.array("faults", Required::kNo)) {
    if (fs->size() > static_cast<std::size_t>(kMaxListedFaults)) {
      r.error("faults", "expected at most " + std::to_string(kMaxListedFaults) + " faults, found " +
                            std::to_string(fs->size()));
    } else {
      for (std::size_t i = 0; i < fs->size(); ++i) {
        if (auto f = parse_fault((*fs)[i], ctx.file, io::pointer_join(r.pointer_of("faults"), i), t.duration_s,
                                 ctx.diags)) {
          t.faults.push_back(*f);
        }
      }
    }
  }
  if (auto rr = r.object("random", Required::kNo); rr && rr->valid()) {
    spec::RandomFaultSpec& rf = t.random;
    rf.enabled = true;
    rf.seed = static_cast<std::uint64_t>(rr->integer_or("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
    rf.gpu_mtbf_h = mtbf_hours(*rr, "gpu_mtbf");
    rf.hbm_mtbf_h = mtbf_hours(*rr, "hbm_mtbf");
    rf.nic_mtbf_h = mtbf_hours(*rr, "nic_mtbf");
    rf.switch_mtbf_h = mtbf_hours(*rr, "switch_mtbf");
    rf.cable_mtbf_h = mtbf_hours(*rr, "cable_mtbf");
    rf.repair_after_s = time_or(*rr, "repair_after", -1.0, 1e-3, kMaxDuration);
    if (rf.gpu_mtbf_h == 0 && rf.hbm_mtbf_h == 0 && rf.nic_mtbf_h == 0 && rf.switch_mtbf_h == 0 &&
        rf.cable_mtbf_h == 0 && ctx.diags.size() == before) {
      rr->error_here("expected at least one of gpu_mtbf, hbm_mtbf, nic_mtbf, switch_mtbf, cable_mtbf");
    }
    rr->finish();
  }
  if (auto an = r.object("analyses", Required::kNo); an && an->valid()) {
    t.analyses.max_failures = static_cast<int>(an->integer("max_failures", Required::kYes, 1, 64).value_or(0));
    t.analyses.trials = static_cast<int>(an->integer_or("trials", t.analyses.trials, 1, 10000));
    an->finish();
  }
  if (auto rc = r.object("recovery", Required::kNo); rc && rc->valid()) {
    spec::RecoverySpec& c = t.recovery;
    const std::string det = rc->choice_or("detection", "heartbeat", {"heartbeat", "watchdog"});
    c.detection = det == "watchdog" ? spec::DetectionKind::kWatchdog : spec::DetectionKind::kHeartbeat;
    c.heartbeat_interval_s = time_or(*rc, "heartbeat_interval", c.heartbeat_interval_s, 1e-3, 3600.0);
    c.heartbeat_misses = static_cast<int>(rc->integer_or("heartbeat_misses", c.heartbeat_misses, 1, 1000));
    c.watchdog_timeout_s = time_or(*rc, "watchdog_timeout", c.watchdog_timeout_s, 1e-3, 86400.0);
    c.comm_rebuild_s = time_or(*rc, "comm_rebuild", c.comm_rebuild_s, 0.0, 3600.0);
    const std::string w = rc->choice_or("weights", "host", {"host", "disk", "peer"});
    c.weights = w == "disk" ? spec::WeightSource::kDisk : w == "peer" ? spec::WeightSource::kPeer
                                                                      : spec::WeightSource::kHost;
    if (auto b = rc->quantity("host_bandwidth", Dimension::kBandwidth, Required::kNo, 1e6, 1e15)) {
      c.host_bandwidth = Bandwidth::bytes_per_s(*b);
    }
    if (auto b = rc->quantity("disk_bandwidth", Dimension::kBandwidth, Required::kNo, 1e6, 1e15)) {
      c.disk_bandwidth = Bandwidth::bytes_per_s(*b);
    }
    c.graph_recapture_s = time_or(*rc, "graph_recapture", c.graph_recapture_s, 0.0, 3600.0);
    c.standby_kv_mirrored = rc->boolean_or("standby_kv_mirrored", c.standby_kv_mirrored);
    const std::string p = rc->choice_or("policy", "auto", {"auto", "shrink", "spare", "wait"});
    c.policy = p == "shrink"  ? spec::RecoveryPolicy::kShrink
               : p == "spare" ? spec::RecoveryPolicy::kSpare
               : p == "wait"  ? spec::RecoveryPolicy::kWait
                              : spec::RecoveryPolicy::kAuto;
    if (const json* sp = rc->array("spare_gpus", Required::kNo)) {
      std::set<std::int64_t> seen;
      for (std::size_t i = 0; i < sp->size(); ++i) {
        const json& e = (*sp)[i];
        const std::string ptr = io::pointer_join(rc->pointer_of("spare_gpus"), i);
        if (!e.is_number_integer() || e.get<std::int64_t>() < 0 || e.get<std::int64_t>() > (1 << 24)) {
          ctx.diags.error(ctx.file, ptr, "expected a GPU rank (an integer >= 0), found " + io::describe(e));
        } else if (!seen.insert(e.get<std::int64_t>()).second) {
          ctx.diags.error(ctx.file, ptr, "GPU " + std::to_string(e.get<std::int64_t>()) + " is listed twice");
        } else {
          c.spare_gpus.push_back(static_cast<int>(e.get<std::int64_t>()));
        }
      }
    }
    c.checkpoint_interval_s = time_or(*rc, "checkpoint_interval", c.checkpoint_interval_s, 1.0, kMaxDuration);
    if (auto b = rc->quantity("checkpoint_bandwidth", Dimension::kBandwidth, Required::kNo, 1e6, 1e15)) {
      c.checkpoint_bandwidth = Bandwidth::bytes_per_s(*b);
    }
    rc->finish();
  }
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  return t;
}

void check_timeline(const spec::TimelineSpec& t, const spec::TopologySpec& topo,
                    const std::vector<spec::LayoutSpec>& layouts, const std::string& file,
                    const std::string& pointer, io::Diagnostics& diags) {
  int num_gpus = 0;
  std::map<std::string, spec::VertexKind> kinds;
  for (const auto& v : topo.vertices) {
    num_gpus += v.kind == spec::VertexKind::kGpu ? 1 : 0;
    kinds.emplace(v.id, v.kind);
  }
  std::set<std::pair<std::string, std::string>> links;
  for (const auto& l : topo.links) {
    links.emplace(l.a, l.b);
    links.emplace(l.b, l.a);
  }
  const std::string faults = io::pointer_join(pointer, "faults");
  for (std::size_t i = 0; i < t.faults.size(); ++i) {
    const spec::FaultSpec& f = t.faults[i];
    const std::string fp = io::pointer_join(faults, i);
    if (f.gpu >= num_gpus) {
      diags.error(file, io::pointer_join(fp, "gpu"),
                  "expected a GPU rank below " + std::to_string(num_gpus) + " (the topology's GPUs), found " +
                      std::to_string(f.gpu));
    }
    if (f.kind == spec::FaultKind::kNicDown || f.kind == spec::FaultKind::kSwitchDown) {
      const auto it = kinds.find(f.vertex);
      const bool nic = f.kind == spec::FaultKind::kNicDown;
      if (it == kinds.end()) {
        diags.error(file, io::pointer_join(fp, "vertex"), "no vertex \"" + f.vertex + "\" in the topology");
      } else if (nic != (it->second == spec::VertexKind::kNic) ||
                 (!nic && (it->second == spec::VertexKind::kGpu || it->second == spec::VertexKind::kCpu))) {
        diags.error(file, io::pointer_join(fp, "vertex"),
                    std::string("expected a ") + (nic ? "NIC" : "switch") + " vertex, found \"" + f.vertex +
                        "\" of kind " + spec::to_string(it->second));
      }
    }
    if ((f.kind == spec::FaultKind::kLinkDown || f.kind == spec::FaultKind::kLinkDegraded) &&
        !links.count({f.link_a, f.link_b})) {
      diags.error(file, io::pointer_join(fp, "link"),
                  "no link between \"" + f.link_a + "\" and \"" + f.link_b + "\" in the topology");
    }
  }
  const std::string spares = io::pointer_join(io::pointer_join(pointer, "recovery"), "spare_gpus");
  for (std::size_t i = 0; i < t.recovery.spare_gpus.size(); ++i) {
    const int g = t.recovery.spare_gpus[i];
    const std::string sp = io::pointer_join(spares, i);
    if (g >= num_gpus) {
      diags.error(file, sp, "expected a GPU rank below " + std::to_string(num_gpus) + ", found " + std::to_string(g));
      continue;
    }
    for (std::size_t li = 0; li < layouts.size(); ++li) {
      const spec::LayoutSpec& l = layouts[li];
      std::vector<int> used = l.gpus;
      if (l.kind == spec::LayoutKind::kMaSeparation) {
        used = l.ma.attention_gpus;
        used.insert(used.end(), l.ma.expert_gpus.begin(), l.ma.expert_gpus.end());
      } else if (used.empty()) {
        for (int k = 0; k < l.gpu_count() && k < num_gpus; ++k) used.push_back(k);
      }
      if (std::find(used.begin(), used.end(), g) != used.end()) {
        diags.error(file, sp, "GPU " + std::to_string(g) + " is used by layout \"" + l.name +
                                  "\" (/layouts/" + std::to_string(li) + "); a spare must be idle in every layout");
        break;
      }
    }
  }
}

}  // namespace masim::frontend
