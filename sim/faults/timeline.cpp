// run_timeline(): one LayoutRun per layout replays the cluster's events and the
// recovery steps they start, in time order, and records throughput segments,
// incidents and the sequence cohorts. The policies and accounting rules are
// stated in timeline.hpp and docs/METRICS.md ("Run timeline").
#include "sim/faults/timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>

#include "sim/common/assert.hpp"
#include "sim/faults/cluster.hpp"
#include "sim/faults/evaluator.hpp"
#include "sim/models/model_params.hpp"

namespace masim::faults {

namespace {

constexpr double kWithin = 0.05;  // "back within 5%" (issue 16's definition of recovery)

std::string fmt(double x, int precision = 3) {
  std::ostringstream o;
  o.precision(precision);
  o << x;
  return o.str();
}

std::string gb(double bytes) { return fmt(bytes / 1e9, 3) + " GB"; }

// Degree of the inner group of a grid layout (the GPUs of one stage of one replica).
int inner_of(const spec::LayoutSpec& l) {
  switch (l.kind) {
    case spec::LayoutKind::kTensor:
    case spec::LayoutKind::kTensorPipeline: return l.tp;
    case spec::LayoutKind::kExpert: return l.ep;
    case spec::LayoutKind::kPipeline:
      return l.stage_parallelism == spec::StageParallelism::kTensor   ? l.tp
             : l.stage_parallelism == spec::StageParallelism::kExpert ? l.ep
                                                                      : 1;
    case spec::LayoutKind::kMaSeparation: return 1;
  }
  return 1;
}

std::vector<int> layout_gpus(const spec::LayoutSpec& l) {
  if (l.kind == spec::LayoutKind::kMaSeparation) {
    std::vector<int> g = l.ma.attention_gpus;
    g.insert(g.end(), l.ma.expert_gpus.begin(), l.ma.expert_gpus.end());
    return g;
  }
  if (!l.gpus.empty()) return l.gpus;
  std::vector<int> g(static_cast<std::size_t>(l.gpu_count()));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

enum class Phase { kUp, kStalled, kRecovering, kPrefilling, kDown };

// MA Separation's current arrangement.
struct MaConfig {
  std::vector<std::vector<int>> active;    // attention groups serving, in order
  std::vector<std::vector<int>> standby;   // hot standbys
  std::vector<int> standby_of;             // per standby: index of the active group it mirrors
  std::vector<std::vector<int>> shards;    // expert shards
  bool operator==(const MaConfig&) const = default;
};

struct Domain {
  std::string name;
  spec::LayoutSpec layout;       // the plan it runs when up
  spec::LayoutSpec original;
  MaConfig ma, ma_original;      // MA Separation only
  std::int64_t batch = 0;        // sequences on it
  std::int64_t kv_lost = 0;      // of which KV caches are gone
  Phase phase = Phase::kUp;
  double rate = 0.0;             // tokens/s while up
  double tokens_per_step = 0.0;  // of the plan it runs (the work an interrupted step loses)
  int gen = 0;                   // invalidates scheduled steps of an abandoned recovery
  int incident = -1;
  std::vector<int> out;          // its GPUs failed or cut off now
  double fail_at = 0.0;
  int wait_incident = -1;        // the open incident of a domain waiting for a repair
  double wait_since = 0.0;
  bool rebalance = false;        // on coming up, spread the sequences over the live replicas
};

enum class ActionKind { kCluster, kDetect, kPrefillStart, kUp, kSwitch };
struct Action {
  ActionKind kind = ActionKind::kCluster;
  int domain = -1;
  int gen = 0;
  int event = -1;                // kCluster: index into events
};

class LayoutRun {
 public:
  LayoutRun(const spec::ScenarioSpec& s, int index, Evaluator& ev, const std::vector<spec::FaultSpec>& faults,
            const std::vector<ClusterEvent>& events)
      : s_(s), rc_(s.timeline->recovery), ev_(ev), faults_(faults), events_(events),
        cs_(s.topology), clean_(s.topology), duration_(s.timeline->duration_s) {
    const spec::LayoutSpec& l = s.layouts[static_cast<std::size_t>(index)];
    out_.name = l.name;
    out_.kind = l.kind;
    training_ = s.workload.kind == spec::WorkloadKind::kTraining;
    ma_ = l.kind == spec::LayoutKind::kMaSeparation;
    B_ = s.workload.batch;
    out_.sequences = B_;
    spares_ = rc_.spare_gpus;
    if (ma_ && !training_) {
      Domain d;
      d.name = "whole layout";
      const spec::MaSpec& m = l.ma;
      const int atp = std::max(1, m.attention_tp);
      const int rep = std::max(1, m.attention_replicas);
      const int groups = static_cast<int>(m.attention_gpus.size()) / atp;
      const int D = groups / rep;
      for (int gi = 0; gi < groups; ++gi) {
        std::vector<int> g(m.attention_gpus.begin() + gi * atp, m.attention_gpus.begin() + (gi + 1) * atp);
        if (gi < D) {
          d.ma.active.push_back(g);
        } else {
          d.ma.standby.push_back(g);
          d.ma.standby_of.push_back(gi % D);
        }
      }
      const int etp = std::max(1, m.expert_tp);
      for (std::size_t i = 0; i + static_cast<std::size_t>(etp) <= m.expert_gpus.size(); i += static_cast<std::size_t>(etp)) {
        d.ma.shards.emplace_back(m.expert_gpus.begin() + static_cast<long>(i),
                                 m.expert_gpus.begin() + static_cast<long>(i) + etp);
      }
      d.ma_original = d.ma;
      d.original = l;
      d.layout = ma_layout(l, d.ma);
      d.batch = B_;
      domains_.push_back(d);
    } else if (!training_ && l.dp > 1) {
      // Independent replicas: replica r is a dp = 1 layout on its GPUs.
      const std::vector<int> all = layout_gpus(l);
      const int inner = inner_of(l);
      const int pp = l.kind == spec::LayoutKind::kPipeline || l.kind == spec::LayoutKind::kTensorPipeline ? l.pp : 1;
      for (int r = 0; r < l.dp; ++r) {
        Domain d;
        d.name = "replica " + std::to_string(r);
        d.layout = l;
        d.layout.dp = 1;
        d.layout.gpus.clear();
        for (int st = 0; st < pp; ++st) {
          for (int k = 0; k < inner; ++k) {
            d.layout.gpus.push_back(all[static_cast<std::size_t>(st * (l.dp * inner) + r * inner + k)]);
          }
        }
        d.original = d.layout;
        // The planner's split: the first (B mod dp) replicas take one more.
        d.batch = B_ / l.dp + (r < B_ % l.dp ? 1 : 0);
        domains_.push_back(d);
      }
    } else {
      Domain d;
      d.name = "whole layout";
      d.layout = l;
      if (d.layout.kind != spec::LayoutKind::kMaSeparation) d.layout.gpus = layout_gpus(l);
      d.original = d.layout;
      d.batch = B_;
      domains_.push_back(d);
    }
    for (Domain& d : domains_) {
      set_rate(d);
      if (!ev_.steady(d.layout, std::max<std::int64_t>(1, d.batch), cs_).ok) d.phase = Phase::kDown;
      base_rate_.push_back(d.rate);
      out_.domains.push_back(d.name);
    }
  }

  LayoutTimeline run() {
    out_.baseline_tokens_per_s = total_rate();
    for (std::size_t i = 0; i < events_.size(); ++i) push(events_[i].at_s, {ActionKind::kCluster, -1, 0, static_cast<int>(i)});
    record(0.0);
    while (!queue_.empty()) {
      auto it = queue_.begin();
      const double t = it->first.first;
      if (t >= duration_) break;
      const Action a = it->second;
      queue_.erase(it);
      handle(t, a);
      if (queue_.empty() || queue_.begin()->first.first > t) record(t);
    }
    finish();
    return std::move(out_);
  }

 private:
  static spec::LayoutSpec ma_layout(const spec::LayoutSpec& base, const MaConfig& c) {
    spec::LayoutSpec l = base;
    l.ma.attention_gpus.clear();
    l.ma.expert_gpus.clear();
    for (const auto& g : c.active) l.ma.attention_gpus.insert(l.ma.attention_gpus.end(), g.begin(), g.end());
    for (const auto& g : c.shards) l.ma.expert_gpus.insert(l.ma.expert_gpus.end(), g.begin(), g.end());
    l.ma.attention_replicas = 1;   // standbys carry no traffic; their memory is not the survivors'
    return l;
  }

  // The GPUs a domain uses now (MA: standbys too).
  std::vector<int> used_by(const Domain& d) const {
    std::vector<int> g = layout_gpus(d.layout);
    for (const auto& sg : d.ma.standby) g.insert(g.end(), sg.begin(), sg.end());
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    return g;
  }

  // Every GPU a domain uses now or used as deployed (a repair returns it to the latter).
  std::vector<int> gpus_of(const Domain& d) const {
    std::vector<int> g = used_by(d);
    const std::vector<int> o = layout_gpus(d.original);
    g.insert(g.end(), o.begin(), o.end());
    for (const auto& sg : d.ma_original.standby) g.insert(g.end(), sg.begin(), sg.end());
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    return g;
  }

  void push(double t, const Action& a) { queue_.emplace(std::make_pair(t, seq_++), a); }

  double total_rate() const {
    double r = 0.0;
    for (const Domain& d : domains_) r += d.phase == Phase::kUp ? d.rate : 0.0;
    return r;
  }

  Cohorts cohorts() const {
    Cohorts c;
    c.waiting = waiting_;
    for (const Domain& d : domains_) {
      switch (d.phase) {
        case Phase::kUp: c.running += d.batch; break;
        case Phase::kPrefilling:
          c.reprefilling += d.kv_lost;
          c.stalled += d.batch - d.kv_lost;
          break;
        default:
          c.kv_lost += d.kv_lost;
          c.stalled += d.batch - d.kv_lost;
          break;
      }
    }
    return c;
  }

  // Appends the domains' states where they changed.
  void record_availability(double t) {
    for (std::size_t di = 0; di < domains_.size(); ++di) {
      const Domain& d = domains_[di];
      DomainState st;
      st.at_s = t;
      st.domain = static_cast<int>(di);
      st.serving = d.phase == Phase::kUp || d.phase == Phase::kPrefilling;
      st.speed = base_rate_[di] > 0.0 && d.rate > 0.0 ? d.rate / base_rate_[di] : 1.0;
      st.kv_lost_fraction = st.serving ? 0.0
                            : d.batch > 0 ? static_cast<double>(d.kv_lost) / static_cast<double>(d.batch)
                                          : 1.0;
      st.incident = d.incident >= 0 ? d.incident : d.wait_incident;
      if (last_state_.size() <= di) last_state_.resize(di + 1, -1);
      const int k = last_state_[di];
      if (k >= 0) {
        DomainState& prev = out_.domain_states[static_cast<std::size_t>(k)];
        if (prev.serving == st.serving && prev.speed == st.speed && prev.kv_lost_fraction == st.kv_lost_fraction &&
            prev.incident == st.incident) {
          continue;
        }
        if (prev.at_s == t) {
          prev = st;
          continue;
        }
      }
      last_state_[di] = static_cast<int>(out_.domain_states.size());
      out_.domain_states.push_back(st);
    }
  }

  void record(double t) {
    record_availability(t);
    Segment s;
    s.start_s = t;
    s.tokens_per_s = total_rate();
    s.cohorts = cohorts();
    std::set<int> outs;
    for (const Domain& d : domains_) outs.insert(d.out.begin(), d.out.end());
    s.gpus_out = static_cast<int>(outs.size());
    if (!out_.segments.empty()) {
      Segment& last = out_.segments.back();
      if (last.start_s == t) {
        last = s;
        return;
      }
      if (last.tokens_per_s == s.tokens_per_s && last.gpus_out == s.gpus_out &&
          last.cohorts.running == s.cohorts.running && last.cohorts.stalled == s.cohorts.stalled &&
          last.cohorts.kv_lost == s.cohorts.kv_lost && last.cohorts.reprefilling == s.cohorts.reprefilling &&
          last.cohorts.waiting == s.cohorts.waiting) {
        return;
      }
    }
    out_.segments.push_back(s);
  }

  double detection_s(std::string& detail) const {
    if (rc_.detection == spec::DetectionKind::kWatchdog) {
      detail = "collective watchdog timeout " + fmt(rc_.watchdog_timeout_s) + " s";
      return rc_.watchdog_timeout_s;
    }
    detail = "heartbeat every " + fmt(rc_.heartbeat_interval_s) + " s, " + std::to_string(rc_.heartbeat_misses) +
             " missed";
    return rc_.heartbeat_interval_s * rc_.heartbeat_misses;
  }

  // Loading `bytes` of weights onto `dst`; `peer` holds the same weights (-1: none).
  double reload_s(double bytes, int dst, int peer, std::string& detail) {
    spec::WeightSource src = rc_.weights;
    std::string note;
    if (src == spec::WeightSource::kPeer) {
      if (peer >= 0) {
        const double t = ev_.transfer_s(peer, dst, bytes, cs_);
        if (t >= 0.0) {
          detail = gb(bytes) + " from GPU " + std::to_string(peer) + " to GPU " + std::to_string(dst) +
                   " over the topology (flow model)";
          return t;
        }
      }
      note = " (no live peer holds these weights; host instead)";
      src = spec::WeightSource::kHost;
    }
    const Bandwidth bw = src == spec::WeightSource::kDisk ? rc_.disk_bandwidth : rc_.host_bandwidth;
    detail = gb(bytes) + " from " + (src == spec::WeightSource::kDisk ? "local disk" : "host memory") + " at " +
             fmt(bw.bytes_per_s() / 1e9) + " GB/s" + note;
    return bytes / bw.bytes_per_s();
  }

  // A spare that works and reaches `near` (any GPU of the domain); -1 if none.
  int take_spare(int near) {
    const topology::Topology& topo = ev_.topology(cs_);
    for (std::size_t i = 0; i < spares_.size(); ++i) {
      const int g = spares_[i];
      if (cs_.gpu_failed(g) || (near >= 0 && near != g && topo.num_paths(near, g) == 0)) continue;
      // A GPU the pool got back from a repair may be in a plan again since (a restored standby).
      const bool in_use = std::any_of(domains_.begin(), domains_.end(),
                                      [&](const Domain& o) { return contains(used_by(o), g); });
      if (in_use) continue;
      spares_.erase(spares_.begin() + static_cast<long>(i));
      return g;
    }
    return -1;
  }

  // The domain's rate (and work per step) for its plan in the current state.
  void set_rate(Domain& d) {
    const StateRun& r = ev_.steady(d.layout, std::max<std::int64_t>(1, d.batch), cs_);
    d.rate = r.ok && d.batch > 0 ? r.tokens_per_s : 0.0;
    d.tokens_per_step = r.ok && d.batch > 0 ? r.tokens_per_s * r.iteration_s : 0.0;
  }

  // Parameters `gpu` holds in the domain's plan (the cluster state does not
  // change them, so the fault-free state prices it: the plan may include GPUs
  // that are cut off now).
  double weight_of(const Domain& d, int gpu) {
    const StateRun& r = ev_.steady(d.layout, std::max<std::int64_t>(1, d.batch), clean_);
    for (std::size_t i = 0; i < r.gpus.size() && i < r.weight_bytes.size(); ++i) {
      if (r.gpus[i] == gpu) return r.weight_bytes[i];
    }
    return 0.0;
  }

  Incident& incident(const Domain& d) { return out_.incidents[static_cast<std::size_t>(d.incident)]; }

  void add_step(Incident& inc, const std::string& name, double start, double dur, const std::string& detail) {
    inc.steps.push_back({name, start, dur, detail});
  }

  // ---------------------------------------------------------------- events
  void handle(double t, const Action& a) {
    switch (a.kind) {
      case ActionKind::kCluster: on_cluster(t, events_[static_cast<std::size_t>(a.event)]); break;
      case ActionKind::kDetect: {
        Domain& d = domains_[static_cast<std::size_t>(a.domain)];
        if (d.gen == a.gen) on_detect(t, a.domain);
        break;
      }
      case ActionKind::kPrefillStart: {
        Domain& d = domains_[static_cast<std::size_t>(a.domain)];
        if (d.gen == a.gen) d.phase = Phase::kPrefilling;
        break;
      }
      case ActionKind::kUp: {
        Domain& d = domains_[static_cast<std::size_t>(a.domain)];
        if (d.gen != a.gen) break;
        d.phase = Phase::kUp;
        d.kv_lost = 0;
        if (training_) pending_lost_work_ = 0.0;
        set_rate(d);
        if (d.rebalance) {
          d.rebalance = false;
          rebalance();
        }
        if (d.incident >= 0) settled_[d.incident] = t;
        d.incident = -1;
        break;
      }
      case ActionKind::kSwitch: {
        Domain& d = domains_[static_cast<std::size_t>(a.domain)];
        if (d.gen == a.gen) on_switch(t, a.domain);
        break;
      }
    }
  }

  void on_cluster(double t, const ClusterEvent& e) {
    const spec::FaultSpec& f = faults_[static_cast<std::size_t>(e.fault)];
    const double before = total_rate();
    cs_.apply(f, e.type);
    const topology::Topology& topo = ev_.topology(cs_);
    for (std::size_t di = 0; di < domains_.size(); ++di) {
      Domain& d = domains_[di];
      const std::vector<int> dead = cs_.dead_among(gpus_of(d), topo);
      std::vector<int> lost, back;
      std::set_difference(dead.begin(), dead.end(), d.out.begin(), d.out.end(), std::back_inserter(lost));
      std::set_difference(d.out.begin(), d.out.end(), dead.begin(), dead.end(), std::back_inserter(back));
      d.out = dead;
      const std::vector<int> used = used_by(d);
      const bool hits = std::any_of(lost.begin(), lost.end(), [&](int g) { return contains(used, g); });
      if (hits) {
        on_loss(t, static_cast<int>(di), lost, f, before);
      } else if (!lost.empty()) {
        continue;   // a GPU the domain no longer uses (replaced or redistributed away): nothing to recover
      } else if (!back.empty()) {
        on_back(t, static_cast<int>(di), back, f);
      } else if (d.phase == Phase::kUp) {
        // No GPU lost: the same plan on a changed network or with a straggler.
        const double old_rate = d.rate;
        set_rate(d);
        const double rate = d.rate;
        d.rate = old_rate;
        const bool changed = std::abs(rate - d.rate) > 1e-9 * std::max(1.0, d.rate);
        if (!changed) continue;
        const bool link_lost = e.type == EventType::kFail &&
                               (f.kind == spec::FaultKind::kLinkDown || f.kind == spec::FaultKind::kNicDown ||
                                f.kind == spec::FaultKind::kSwitchDown);
        if (link_lost) {
          // NCCL does not reroute a live communicator: the collective errors,
          // the domain stops, and new communicators use the remaining paths.
          Incident inc;
          inc.at_s = t;
          inc.fault = describe(f);
          inc.domain = d.name;
          inc.action = "communicators rebuilt over the remaining paths (NCCL does not reroute a live communicator)";
          inc.outcome = "reroute";
          inc.tokens_per_s_before = before;
          inc.sequences_affected = d.batch;
          std::string det;
          const double dt = detection_s(det);
          add_step(inc, "detection", t, dt, det);
          add_step(inc, "comm_rebuild", t + dt, rc_.comm_rebuild_s, "new NCCL communicators (recovery.comm_rebuild)");
          out_.incidents.push_back(inc);
          d.incident = static_cast<int>(out_.incidents.size()) - 1;
          d.phase = Phase::kStalled;
          ++d.gen;
          push(t + dt + rc_.comm_rebuild_s, {ActionKind::kUp, static_cast<int>(di), d.gen, -1});
        } else {
          Incident inc;
          inc.at_s = t;
          inc.fault = (e.type == EventType::kRepair || e.type == EventType::kStragglerEnd ? "end: " : "") + describe(f);
          inc.domain = d.name;
          inc.action = "same plan, new step time (no recovery needed)";
          inc.outcome = "same_plan";
          inc.tokens_per_s_before = before;
          out_.incidents.push_back(inc);
          settled_[static_cast<int>(out_.incidents.size()) - 1] = t;
          set_rate(d);
        }
      }
    }
  }

  // GPUs of domain `di` lost (failed or cut off).
  void on_loss(double t, int di, const std::vector<int>& lost, const spec::FaultSpec& f, double before) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident inc;
    inc.at_s = t;
    inc.fault = describe(f);
    inc.gpus_lost = lost;
    inc.domain = d.name;
    inc.tokens_per_s_before = before;
    if (ma_ && !training_) {
      // Lost standbys only: no traffic went through them.
      std::set<int> used(d.layout.ma.attention_gpus.begin(), d.layout.ma.attention_gpus.end());
      used.insert(d.layout.ma.expert_gpus.begin(), d.layout.ma.expert_gpus.end());
      const bool any_used = std::any_of(lost.begin(), lost.end(), [&](int g) { return used.count(g) > 0; });
      drop_dead_standbys(d);
      if (!any_used) {
        inc.action = "hot standby lost; serving unaffected";
        inc.outcome = "standby_lost";
        inc.tokens_per_s_after = before;
        inc.recovery_s = 0.0;
        out_.incidents.push_back(inc);
        settled_[static_cast<int>(out_.incidents.size()) - 1] = t;
        return;
      }
    }
    const bool was_up = d.phase == Phase::kUp;
    if (was_up) inc.tokens_lost_in_flight = training_ ? 0.0 : d.tokens_per_step;
    inc.sequences_affected = d.batch;
    if (training_) {
      // Work since the last checkpoint is lost (checkpoints every interval of up time).
      if (was_up) {
        const double since = t - last_restart_;
        const double ckpt = last_restart_ + std::floor(since / rc_.checkpoint_interval_s) * rc_.checkpoint_interval_s;
        inc.lost_work_s = t - ckpt;
      }
      // Redone at the next restart (a failure during a restart keeps it pending).
      pending_lost_work_ += inc.lost_work_s;
    } else if (ma_) {
      // KV caches of the attention groups that lost a GPU, unless a live,
      // mirrored standby takes over.
      std::int64_t lost_kv = 0;
      const int D = static_cast<int>(d.ma.active.size());
      for (int gi = 0; gi < D; ++gi) {
        const auto& g = d.ma.active[static_cast<std::size_t>(gi)];
        const bool hit = std::any_of(g.begin(), g.end(), [&](int x) { return contains(lost, x); });
        if (!hit) continue;
        const bool failover = rc_.standby_kv_mirrored && standby_for(d, gi) >= 0;
        if (!failover) lost_kv += group_batch(d, gi);
      }
      d.kv_lost = std::min(d.batch, d.kv_lost + lost_kv);
    } else if (ep_replica(d)) {
      // EP: attention is data-parallel over the ranks; only the failed ranks' sequences lose their KV cache.
      const auto ep = static_cast<std::int64_t>(d.layout.gpus.size());
      std::int64_t lost_kv = 0;
      for (std::size_t pos = 0; pos < d.layout.gpus.size(); ++pos) {
        if (!contains(lost, d.layout.gpus[pos])) continue;
        lost_kv += d.batch / ep + (static_cast<std::int64_t>(pos) < d.batch % ep ? 1 : 0);
      }
      d.kv_lost = std::min(d.batch, d.kv_lost + lost_kv);
    } else {
      d.kv_lost = d.batch;   // one shard of every sequence's KV cache (TP) or a stage's layers (PP) is gone
    }
    out_.tokens_lost_in_flight += inc.tokens_lost_in_flight;
    out_.incidents.push_back(inc);
    const int now = static_cast<int>(out_.incidents.size()) - 1;
    // An open recovery of this domain is cut short: it ends when this one does.
    for (int* open : {&d.incident, &d.wait_incident}) {
      if (*open < 0) continue;
      superseded_[*open] = now;
      Incident& prev = out_.incidents[static_cast<std::size_t>(*open)];
      if (prev.outcome.empty()) prev.outcome = "interrupted";
      prev.action += std::string(prev.action.empty() ? "" : "; ") + "cut short by a later fault (" + inc.fault + ")";
      *open = -1;
    }
    d.incident = now;
    d.phase = Phase::kStalled;
    d.fail_at = t;
    ++d.gen;
    std::string det;
    const double dt = detection_s(det);
    add_step(incident(d), "detection", t, dt, det);
    push(t + dt, {ActionKind::kDetect, di, d.gen, -1});
  }

  // A replica of an EP layout without pipeline stages (its ranks can be re-planned as a smaller EP group).
  static bool ep_replica(const Domain& d) {
    return d.layout.kind == spec::LayoutKind::kExpert && d.layout.pp == 1;
  }

  static bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

  std::int64_t group_batch(const Domain& d, int gi) const {
    const auto D = static_cast<std::int64_t>(d.ma.active.size());
    return d.batch / D + (gi < d.batch % D ? 1 : 0);
  }

  int standby_for(const Domain& d, int gi) const {
    for (std::size_t i = 0; i < d.ma.standby.size(); ++i) {
      if (d.ma.standby_of[i] != gi) continue;
      const auto& g = d.ma.standby[i];
      if (std::none_of(g.begin(), g.end(), [&](int x) { return contains(d.out, x); })) return static_cast<int>(i);
    }
    return -1;
  }

  void drop_dead_standbys(Domain& d) {
    for (std::size_t i = d.ma.standby.size(); i-- > 0;) {
      const auto& g = d.ma.standby[i];
      if (std::any_of(g.begin(), g.end(), [&](int x) { return contains(d.out, x); })) {
        d.ma.standby.erase(d.ma.standby.begin() + static_cast<long>(i));
        d.ma.standby_of.erase(d.ma.standby_of.begin() + static_cast<long>(i));
      }
    }
  }

  // The domain stops until its GPUs are repaired; the incident stays open (its
  // recovery time then includes the wait) and the repair continues it.
  void wait_for_repair(double t, Domain& d) {
    d.phase = Phase::kDown;
    d.wait_incident = d.incident;
    d.wait_since = t;
    d.incident = -1;
  }

  bool may(spec::RecoveryPolicy p) const { return rc_.policy == spec::RecoveryPolicy::kAuto || rc_.policy == p; }

  // Schedules the remaining steps of a recovery starting at `t`: `steps` run
  // back to back, then a re-prefill of `reprefill` sequences, then the domain is up.
  void schedule(double t, int di, const std::vector<std::pair<std::string, std::pair<double, std::string>>>& steps,
                std::int64_t reprefill) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& inc = incident(d);
    d.phase = Phase::kRecovering;
    double at = t;
    for (const auto& [name, v] : steps) {
      add_step(inc, name, at, v.first, v.second);
      at += v.first;
    }
    d.kv_lost = std::min(d.batch, reprefill);
    if (d.kv_lost > 0) {
      const double p = ev_.prefill_s(d.layout, d.kv_lost, cs_);
      add_step(inc, "re_prefill", at, p,
               "prefill of " + std::to_string(d.kv_lost) + " sequences x " +
                   std::to_string(s_.workload.context_length) + " tokens on the new plan (simulated)");
      inc.sequences_reprefilled += d.kv_lost;
      const double tok = static_cast<double>(d.kv_lost) * s_.workload.context_length;
      inc.tokens_recomputed += tok;
      out_.tokens_recomputed += tok;
      push(at, {ActionKind::kPrefillStart, di, d.gen, -1});
      at += p;
    }
    push(at, {ActionKind::kUp, di, d.gen, -1});
  }

  using Steps = std::vector<std::pair<std::string, std::pair<double, std::string>>>;

  void on_detect(double t, int di) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& inc = incident(d);
    if (training_) return detect_training(t, di);
    if (ma_) return detect_ma(t, di);
    // Grid inference: spare, shrink, wait.
    const std::vector<int> dead = d.out;
    if (may(spec::RecoveryPolicy::kSpare) && static_cast<std::size_t>(std::count_if(
            spares_.begin(), spares_.end(), [&](int g) { return !cs_.gpu_failed(g); })) >= dead.size()) {
      Steps steps;
      double reload = 0.0;
      std::string detail;
      spec::LayoutSpec next = d.layout;
      std::vector<std::string> swaps;
      for (int g : dead) {
        const int sp = take_spare(first_alive(d));
        if (sp < 0) break;
        const double bytes = weight_of(d, g);
        const auto pos = std::find(next.gpus.begin(), next.gpus.end(), g) - next.gpus.begin();
        std::string det;
        reload = std::max(reload, reload_s(bytes, sp, peer_for(di, pos), det));
        detail = det;
        next.gpus[static_cast<std::size_t>(pos)] = sp;
        swaps.push_back(std::to_string(g) + " -> " + std::to_string(sp));
      }
      d.layout = next;
      d.out.clear();
      inc.action = "spare GPU takes the failed one's place (" + join(swaps) + ")";
      inc.outcome = "spare";
      steps.push_back({"weight_reload", {reload, detail}});
      steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "new NCCL communicators (recovery.comm_rebuild)"}});
      steps.push_back({"graph_recapture", {rc_.graph_recapture_s, "CUDA-graph capture and warm-up (recovery.graph_recapture)"}});
      return schedule(t, di, steps, d.batch);
    }
    if (may(spec::RecoveryPolicy::kShrink) && ep_replica(d) && dead.size() < d.layout.gpus.size()) {
      // EP: the experts of the failed ranks are redistributed over the surviving
      // ranks of the replica (uneven when ep - k does not divide the experts).
      spec::LayoutSpec next = d.layout;
      next.gpus.clear();
      for (int g : d.layout.gpus) {
        if (!contains(dead, g)) next.gpus.push_back(g);
      }
      next.ep = static_cast<int>(next.gpus.size());
      const StateRun& r = ev_.steady(next, d.batch, cs_);
      if (r.ok && r.fits) {
        const models::ModelParams mp = models::count_params(s_.model);
        const double per_expert = s_.model.num_experts > 0 ? static_cast<double>(mp.routed_experts_total()) /
                                                                 s_.model.num_experts *
                                                                 spec::dtype_bytes(s_.model.dtype)
                                                           : 0.0;
        const double lost_experts = static_cast<double>(s_.model.num_experts) * static_cast<double>(dead.size()) /
                                    static_cast<double>(d.layout.gpus.size());
        std::string det;
        const double reload = reload_s(per_expert * lost_experts / next.ep, next.gpus[0], -1, det);
        const std::int64_t lost = d.kv_lost;
        d.layout = next;
        inc.outcome = "redistributed";
        inc.action = "experts of the failed EP rank(s) redistributed over the " + std::to_string(next.ep) +
                     " surviving ranks of " + d.name;
        Steps steps;
        steps.push_back({"weight_reload", {reload, det + " per surviving rank, in parallel"}});
        steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "new NCCL communicators for the all-to-all (recovery.comm_rebuild)"}});
        steps.push_back({"graph_recapture", {rc_.graph_recapture_s, "CUDA-graph capture of the new plan (recovery.graph_recapture)"}});
        return schedule(t, di, steps, lost);
      }
    }
    std::vector<int> receivers;
    for (std::size_t e = 0; e < domains_.size(); ++e) {
      if (static_cast<int>(e) != di && domains_[e].phase == Phase::kUp) receivers.push_back(static_cast<int>(e));
    }
    if (may(spec::RecoveryPolicy::kShrink) && !receivers.empty()) {
      // The replica is dropped; its sequences re-prefill on the others as far as memory allows.
      std::int64_t left = d.batch;
      d.batch = 0;
      d.kv_lost = 0;
      d.phase = Phase::kDown;
      ++d.gen;
      std::vector<std::string> moves;
      std::map<int, std::int64_t> got;
      // Room on each receiver: the memory model's largest batch for its plan.
      std::map<int, std::int64_t> room;
      for (int e : receivers) {
        const Domain& r = domains_[static_cast<std::size_t>(e)];
        const StateRun& sr = ev_.steady(r.layout, std::max<std::int64_t>(1, r.batch), cs_);
        room[e] = !sr.ok ? 0 : sr.max_batch < 0 ? left : std::max<std::int64_t>(0, sr.max_batch - r.batch);
      }
      bool progress = true;
      while (left > 0 && progress) {
        progress = false;
        for (int e : receivers) {
          if (left == 0) break;
          if (got[e] >= room[e]) continue;
          ++got[e];
          --left;
          progress = true;
        }
      }
      for (auto it = got.begin(); it != got.end();) it = it->second == 0 ? got.erase(it) : std::next(it);
      for (const auto& [e, n] : got) {
        Domain& r = domains_[static_cast<std::size_t>(e)];
        r.batch += n;
        r.kv_lost = n;
        const double p = ev_.prefill_s(r.layout, n, cs_);
        add_step(inc, "re_prefill", t, p,
                 std::to_string(n) + " sequences x " + std::to_string(s_.workload.context_length) +
                     " tokens prefilled on " + r.name + " (simulated; it pauses its own decode meanwhile)");
        inc.sequences_reprefilled += n;
        const double tok = static_cast<double>(n) * s_.workload.context_length;
        inc.tokens_recomputed += tok;
        out_.tokens_recomputed += tok;
        ++r.gen;
        r.phase = Phase::kPrefilling;
        r.incident = d.incident;
        push(t + p, {ActionKind::kUp, e, r.gen, -1});
        moves.push_back(std::to_string(n) + " to " + r.name);
      }
      waiting_ += left;
      inc.outcome = "shrink";
      inc.action = "shrink: " + d.name + " dropped; its sequences moved (" + (moves.empty() ? "none" : join(moves)) +
                   ")" + (left > 0 ? ", " + std::to_string(left) + " wait for capacity" : "");
      if (got.empty()) settled_[d.incident] = t;
      d.incident = -1;
      return;
    }
    if (rc_.policy != spec::RecoveryPolicy::kWait && domains_.size() > 1) {
      // No live replica now: the sequences queue for the first replica that comes back.
      waiting_ += d.batch;
      d.batch = 0;
      d.kv_lost = 0;
      inc.action = "wait for a repair; no spare and no live replica: the sequences queue for the first replica back";
      inc.outcome = "wait";
    } else {
      inc.action = "wait for the repair (no spare, no other replica to take the sequences)";
      inc.outcome = "wait";
    }
    wait_for_repair(t, d);
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  }

  int first_alive(const Domain& d) const {
    for (int g : layout_gpus(d.layout)) {
      if (!contains(d.out, g)) return g;
    }
    return -1;
  }

  // The GPU at position `pos` of another live replica (it holds the same weights).
  int peer_for(int di, long pos) const {
    for (std::size_t e = 0; e < domains_.size(); ++e) {
      const Domain& r = domains_[e];
      if (static_cast<int>(e) == di || r.phase != Phase::kUp) continue;
      if (pos < static_cast<long>(r.layout.gpus.size())) return r.layout.gpus[static_cast<std::size_t>(pos)];
    }
    return -1;
  }

  void detect_ma(double t, int di) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& inc = incident(d);
    MaConfig next = d.ma;
    Steps steps;
    double reload = 0.0;
    std::string reload_detail;
    std::vector<std::string> actions;
    bool waiting_for_repair = false;
    bool replanned = false;
    bool used_spare = false, redistributed = false, shrunk = false;
    std::int64_t batch = d.batch;
    // Attention groups that lost a GPU.
    for (std::size_t gi = next.active.size(); gi-- > 0;) {
      auto& g = next.active[gi];
      std::vector<int> bad;
      for (int x : g) {
        if (contains(d.out, x)) bad.push_back(x);
      }
      if (bad.empty()) continue;
      if (const int sb = standby_for(d, static_cast<int>(gi)); sb >= 0) {
        g = next.standby[static_cast<std::size_t>(sb)];
        next.standby.erase(next.standby.begin() + sb);
        next.standby_of.erase(next.standby_of.begin() + sb);
        actions.push_back("attention group " + std::to_string(gi) + " fails over to its hot standby" +
                          (rc_.standby_kv_mirrored ? " (KV mirrored)" : " (KV not mirrored: re-prefill)"));
        continue;
      }
      bool spared = may(spec::RecoveryPolicy::kSpare);
      std::vector<std::pair<int, int>> swaps;
      if (spared) {
        for (int x : bad) {
          const int sp = take_spare(first_alive(d));
          if (sp < 0) {
            spared = false;
            break;
          }
          swaps.push_back({x, sp});
        }
        if (!spared) {
          for (const auto& [x, sp] : swaps) spares_.push_back(sp);
          std::sort(spares_.begin(), spares_.end());
        }
      }
      if (spared) {
        for (const auto& [x, sp] : swaps) {
          std::string det;
          const int peer = next.active.size() > 1 ? next.active[gi == 0 ? 1 : 0][static_cast<std::size_t>(
                                                         std::find(g.begin(), g.end(), x) - g.begin())]
                                                  : -1;
          reload = std::max(reload, reload_s(weight_of(d, x), sp, peer, det));
          reload_detail = det;
          *std::find(g.begin(), g.end(), x) = sp;
        }
        actions.push_back("attention group " + std::to_string(gi) + " takes a spare");
        used_spare = true;
        replanned = true;
        continue;
      }
      if (may(spec::RecoveryPolicy::kShrink) && next.active.size() > 1) {
        next.active.erase(next.active.begin() + static_cast<long>(gi));
        for (auto& o : next.standby_of) {
          if (o > static_cast<int>(gi)) --o;
        }
        actions.push_back("attention shrinks to " + std::to_string(next.active.size()) + " groups");
        shrunk = true;
        replanned = true;
        continue;
      }
      waiting_for_repair = true;
    }
    // Expert shards that lost a GPU: their experts are redistributed over the
    // surviving shards (all such shards at once), else spares, else wait.
    std::vector<std::size_t> bad_shards;
    double lost_bytes = 0.0;
    for (std::size_t si = 0; si < next.shards.size(); ++si) {
      bool hit = false;
      for (int x : next.shards[si]) {
        if (contains(d.out, x)) {
          hit = true;
          lost_bytes += weight_of(d, x);
        }
      }
      if (hit) bad_shards.push_back(si);
    }
    if (!bad_shards.empty() && !waiting_for_repair) {
      bool done = false;
      if (may(spec::RecoveryPolicy::kShrink) && bad_shards.size() < next.shards.size()) {
        MaConfig trial = next;
        for (std::size_t k = bad_shards.size(); k-- > 0;) {
          trial.shards.erase(trial.shards.begin() + static_cast<long>(bad_shards[k]));
        }
        const StateRun& r = ev_.steady(ma_layout(d.original, trial), batch, cs_);
        if (r.ok && r.fits) {
          const double per = lost_bytes / static_cast<double>(trial.shards.size());
          std::string det;
          reload = std::max(reload, reload_s(per, trial.shards[0][0], -1, det));
          reload_detail = det + " per surviving expert GPU, in parallel";
          next = trial;
          actions.push_back("experts of " + std::to_string(bad_shards.size()) + " failed shard(s) redistributed over " +
                            std::to_string(next.shards.size()) + " surviving expert shards");
          replanned = true;
          redistributed = true;
          done = true;
        } else {
          actions.push_back("redistribution does not fit (" + (r.ok ? std::string("GPU memory") : r.error) + ")");
        }
      }
      if (!done && may(spec::RecoveryPolicy::kSpare)) {
        std::vector<std::pair<int, int>> swaps;
        bool spared = true;
        for (std::size_t si : bad_shards) {
          for (int x : next.shards[si]) {
            if (!contains(d.out, x)) continue;
            const int sp = take_spare(first_alive(d));
            if (sp < 0) {
              spared = false;
              break;
            }
            swaps.push_back({x, sp});
          }
        }
        if (spared) {
          for (const auto& [x, sp] : swaps) {
            std::string det;
            reload = std::max(reload, reload_s(weight_of(d, x), sp, -1, det));
            reload_detail = det;
            for (auto& sh : next.shards) {
              for (int& g : sh) {
                if (g == x) g = sp;
              }
            }
          }
          actions.push_back(std::to_string(swaps.size()) + " expert GPU(s) replaced by spares");
          used_spare = true;
          replanned = true;
          done = true;
        } else {
          for (const auto& [x, sp] : swaps) spares_.push_back(sp);
          std::sort(spares_.begin(), spares_.end());
        }
      }
      if (!done) waiting_for_repair = true;
    }
    if (waiting_for_repair) {
      inc.outcome = "wait";
      inc.action = (actions.empty() ? std::string() : join(actions) + "; ") +
                   "no failover, spare or redistribution possible: wait for the repair";
      wait_for_repair(t, d);
      return;
    }
    const spec::LayoutSpec layout = ma_layout(d.original, next);
    // Memory: the sequences that no longer fit wait.
    const StateRun& r = ev_.steady(layout, batch, cs_);
    if (r.ok && !r.fits && r.max_batch >= 0 && r.max_batch < batch) {
      const std::int64_t keep = std::max<std::int64_t>(static_cast<std::int64_t>(next.active.size()), r.max_batch);
      waiting_ += batch - keep;
      d.kv_lost = std::max<std::int64_t>(0, d.kv_lost - (batch - keep));
      batch = keep;
      actions.push_back(std::to_string(d.batch - batch) + " sequences wait (memory)");
    }
    d.batch = batch;
    d.ma = next;
    d.layout = layout;
    inc.action = join(actions);
    inc.outcome = used_spare ? "spare" : redistributed ? "redistributed" : shrunk ? "shrink" : "failover";
    if (reload > 0.0) steps.push_back({"weight_reload", {reload, reload_detail}});
    steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "new NCCL communicators for the exchange (recovery.comm_rebuild)"}});
    if (replanned) {
      steps.push_back({"graph_recapture", {rc_.graph_recapture_s, "CUDA-graph capture of the new plan (recovery.graph_recapture)"}});
    }
    schedule(t, di, steps, d.kv_lost);
  }

  void detect_training(double t, int di) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& inc = incident(d);
    const std::vector<int> dead = d.out;
    spec::LayoutSpec next = d.layout;
    std::vector<std::string> swaps;
    bool ok = may(spec::RecoveryPolicy::kSpare);
    std::vector<int> taken;
    if (ok) {
      for (int g : dead) {
        const int sp = take_spare(first_alive(d));
        if (sp < 0) {
          ok = false;
          break;
        }
        taken.push_back(sp);
        replace_gpu(next, g, sp);
        swaps.push_back(std::to_string(g) + " -> " + std::to_string(sp));
      }
    }
    if (!ok) {
      spares_.insert(spares_.end(), taken.begin(), taken.end());
      std::sort(spares_.begin(), spares_.end());
      inc.action = "wait for the repair, then restart from the last checkpoint";
      inc.outcome = "wait";
      d.phase = Phase::kDown;
      wait_for_repair(t, d);
      return;
    }
    d.layout = next;
    d.out.clear();
    inc.action = "restart from the last checkpoint on a spare (" + join(swaps) + ")";
    inc.outcome = "spare";
    restart_training(t, di, pending_lost_work_);
  }

  static void replace_gpu(spec::LayoutSpec& l, int from, int to) {
    for (auto* v : {&l.gpus, &l.ma.attention_gpus, &l.ma.expert_gpus}) {
      for (int& g : *v) {
        if (g == from) g = to;
      }
    }
  }

  void restart_training(double t, int di, double lost_work_s) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& inc = incident(d);
    const StateRun& r = ev_.steady(d.layout, d.batch, cs_);
    double restore = 0.0;
    for (double b : r.restore_bytes) restore = std::max(restore, b);
    const double old_rate = out_.baseline_tokens_per_s;
    const double redo = r.ok && r.tokens_per_s > 0 ? lost_work_s * old_rate / r.tokens_per_s : lost_work_s;
    Steps steps;
    steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "process group re-initialized (recovery.comm_rebuild)"}});
    steps.push_back({"checkpoint_restore",
                     {restore / rc_.checkpoint_bandwidth.bytes_per_s(),
                      gb(restore) + " of parameters and optimizer states per GPU at " +
                          fmt(rc_.checkpoint_bandwidth.bytes_per_s() / 1e9) + " GB/s (all GPUs in parallel)"}});
    steps.push_back({"recompute_lost_work",
                     {redo, fmt(lost_work_s) + " s of training since the last checkpoint, redone"}});
    double sum = 0.0;
    for (const auto& st : steps) sum += st.second.first;
    last_restart_ = t + sum;
    const double tok = lost_work_s * old_rate;
    inc.tokens_recomputed += tok;
    out_.tokens_recomputed += tok;
    schedule(t, di, steps, 0);
  }

  // A GPU of domain `di` came back.
  void on_back(double t, int di, const std::vector<int>& back, const spec::FaultSpec& f) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    const std::vector<int> needed = layout_gpus(d.original);
    const bool all_back = std::none_of(needed.begin(), needed.end(), [&](int g) { return contains(d.out, g); });
    if (!all_back) return;
    if (d.phase != Phase::kUp && d.phase != Phase::kDown) return;   // a recovery is under way; it continues
    if (d.phase == Phase::kUp && waiting_ == 0 && full_size(d)) {
      // Failover or a spare kept full size: the repaired GPUs that the plan no
      // longer uses join the spare pool.
      const std::vector<int> used = used_by(d);
      for (int g : back) {
        if (!contains(used, g) && !contains(spares_, g)) spares_.push_back(g);
      }
      return;
    }
    const bool was_down = d.phase == Phase::kDown;
    ++d.gen;
    if (was_down && d.wait_incident >= 0) {
      // Continue the incident that has been waiting for this repair.
      d.incident = d.wait_incident;
      d.wait_incident = -1;
      add_step(incident(d), "wait_for_repair", d.wait_since, t - d.wait_since, "until " + describe(f) + " is repaired");
    } else {
      Incident inc;
      inc.at_s = t;
      inc.fault = "repair: " + describe(f);
      inc.domain = d.name;
      inc.outcome = "restore";
      inc.tokens_per_s_before = total_rate();
      out_.incidents.push_back(inc);
      d.incident = static_cast<int>(out_.incidents.size()) - 1;
    }
    Incident& in = incident(d);
    // Weights for the GPUs that return (the largest share; all load in parallel).
    double bytes = 0.0;
    int dst = -1;
    {
      const StateRun& r = ev_.steady(d.original, std::max<std::int64_t>(1, d.batch), clean_);
      const std::vector<int> now = layout_gpus(d.layout);
      for (std::size_t i = 0; i < r.gpus.size() && i < r.weight_bytes.size(); ++i) {
        if ((was_down || !contains(now, r.gpus[i])) && r.weight_bytes[i] > bytes) {
          bytes = r.weight_bytes[i];
          dst = r.gpus[i];
        }
      }
    }
    std::string det;
    const double reload = bytes > 0 ? reload_s(bytes, dst, -1, det) : 0.0;
    if (training_ && was_down) {
      d.layout = d.original;
      d.out.clear();
      in.action += "; repaired: restart from the last checkpoint on the original GPUs";
      restart_training(t, di, pending_lost_work_);
      return;
    }
    if (was_down) {
      d.layout = d.original;
      d.ma = d.ma_original;
      d.out.clear();
      const StateRun& cap = ev_.steady(d.layout, std::max<std::int64_t>(1, d.batch), cs_);
      const std::int64_t room = !cap.ok ? 0 : cap.max_batch < 0 ? waiting_ : std::max<std::int64_t>(0, cap.max_batch - d.batch);
      const std::int64_t admitted = std::min(waiting_, room);
      d.batch += admitted;
      waiting_ -= admitted;
      d.rebalance = !ma_ && domains_.size() > 1;
      in.action += std::string(in.action.empty() ? "" : "; ") + "repaired: " + d.name + " restarts on its original GPUs";
      Steps steps;
      steps.push_back({"weight_reload", {reload, det}});
      steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "new NCCL communicators (recovery.comm_rebuild)"}});
      steps.push_back({"graph_recapture", {rc_.graph_recapture_s, "CUDA-graph capture (recovery.graph_recapture)"}});
      schedule(t, di, steps, d.batch);
      return;
    }
    // Still serving on the degraded plan: load in the background, then switch.
    in.action += std::string(in.action.empty() ? "" : "; ") +
                 "repaired: back to the original plan (weights loaded in the background, then a switch-over)";
    if (reload > 0) add_step(in, "background_weight_reload", t, reload, det + " (while serving)");
    push(t + reload, {ActionKind::kSwitch, di, d.gen, -1});
  }

  bool full_size(const Domain& d) const {
    if (ma_) {
      return d.ma.active.size() == d.ma_original.active.size() && d.ma.shards.size() == d.ma_original.shards.size();
    }
    return layout_gpus(d.layout).size() == layout_gpus(d.original).size();
  }

  void on_switch(double t, int di) {
    Domain& d = domains_[static_cast<std::size_t>(di)];
    Incident& in = incident(d);
    d.layout = d.original;
    d.ma = d.ma_original;
    drop_dead_standbys(d);
    d.out.clear();
    const std::int64_t admitted = waiting_;
    d.batch += admitted;
    waiting_ = 0;
    Steps steps;
    steps.push_back({"comm_rebuild", {rc_.comm_rebuild_s, "new NCCL communicators (recovery.comm_rebuild)"}});
    steps.push_back({"graph_recapture", {rc_.graph_recapture_s, "CUDA-graph capture (recovery.graph_recapture)"}});
    (void)in;
    schedule(t, di, steps, admitted);
  }

  // After a replica restarts: sequences spread back over the live replicas as
  // requests complete and new ones are routed to it (no recompute).
  void rebalance() {
    std::int64_t total = 0;
    std::vector<int> live;
    for (std::size_t e = 0; e < domains_.size(); ++e) {
      if (domains_[e].phase == Phase::kUp) {
        live.push_back(static_cast<int>(e));
        total += domains_[e].batch;
      }
    }
    if (live.empty()) return;
    const auto n = static_cast<std::int64_t>(live.size());
    for (std::size_t k = 0; k < live.size(); ++k) {
      Domain& d = domains_[static_cast<std::size_t>(live[k])];
      d.batch = total / n + (static_cast<std::int64_t>(k) < total % n ? 1 : 0);
      set_rate(d);
    }
  }

  // ---------------------------------------------------------------- summary
  void finish() {
    for (std::size_t i = 0; i < out_.segments.size(); ++i) {
      out_.segments[i].end_s = i + 1 < out_.segments.size() ? out_.segments[i + 1].start_s : duration_;
    }
    // Drop the empty tail a break at `duration_` may leave.
    while (!out_.segments.empty() && out_.segments.back().end_s <= out_.segments.back().start_s &&
           out_.segments.size() > 1) {
      out_.segments.pop_back();
    }
    const double base = out_.baseline_tokens_per_s;
    double tokens = 0.0, up = 0.0;
    out_.min_cohort_total = std::numeric_limits<std::int64_t>::max();
    out_.max_cohort_total = 0;
    for (const Segment& s : out_.segments) {
      const double dt = s.end_s - s.start_s;
      tokens += s.tokens_per_s * dt;
      if (s.tokens_per_s >= (1.0 - kWithin) * base) up += dt;
      out_.min_cohort_total = std::min(out_.min_cohort_total, s.cohorts.total());
      out_.max_cohort_total = std::max(out_.max_cohort_total, s.cohorts.total());
    }
    out_.tokens_generated = tokens;
    out_.tokens_at_baseline = base * duration_;
    out_.goodput = out_.tokens_at_baseline > 0 ? tokens / out_.tokens_at_baseline : 0.0;
    out_.availability = duration_ > 0 ? up / duration_ : 0.0;
    for (std::size_t i = 0; i < out_.incidents.size(); ++i) {
      Incident& inc = out_.incidents[i];
      int last = static_cast<int>(i);
      for (auto sup = superseded_.find(last); sup != superseded_.end(); sup = superseded_.find(last)) last = sup->second;
      const auto it = settled_.find(last);
      const double settled = it == settled_.end() ? -1.0 : it->second;
      const double level = settled >= 0 ? rate_at(settled) : -1.0;
      inc.tokens_per_s_after = level >= 0 ? level : 0.0;
      if (settled >= 0 && level > 0) {
        // Earliest time after the failure from which throughput stays within 5% of the new level up to `settled`.
        double from = settled;
        for (std::size_t k = out_.segments.size(); k-- > 0;) {
          const Segment& s = out_.segments[k];
          if (s.start_s > settled) continue;
          if (s.end_s <= inc.at_s) break;
          if (std::abs(s.tokens_per_s - level) > kWithin * level) break;
          from = std::max(s.start_s, inc.at_s);
        }
        inc.recovery_s = from - inc.at_s;
      } else if (settled >= 0 && level == 0.0 && inc.tokens_per_s_before == 0.0) {
        inc.recovery_s = 0.0;
      }
      for (const Segment& s : out_.segments) {
        if (s.end_s <= inc.at_s) continue;
        if (s.tokens_per_s >= (1.0 - kWithin) * inc.tokens_per_s_before && inc.tokens_per_s_before > 0) {
          inc.full_capacity_s = std::max(s.start_s, inc.at_s) - inc.at_s;
          break;
        }
      }
    }
  }

  double rate_at(double t) const {
    double r = out_.segments.empty() ? 0.0 : out_.segments.front().tokens_per_s;
    for (const Segment& s : out_.segments) {
      if (s.start_s <= t) r = s.tokens_per_s;
    }
    return r;
  }

  const spec::ScenarioSpec& s_;
  const spec::RecoverySpec& rc_;
  Evaluator& ev_;
  const std::vector<spec::FaultSpec>& faults_;
  const std::vector<ClusterEvent>& events_;
  ClusterState cs_;
  ClusterState clean_;   // no faults: for what the cluster state does not change (parameters held)
  double duration_;
  bool training_ = false;
  bool ma_ = false;
  std::int64_t B_ = 0;
  std::vector<Domain> domains_;
  std::vector<double> base_rate_;   // per domain: the deployed plan's rate
  std::vector<int> last_state_;     // per domain: its latest entry in out_.domain_states
  std::vector<int> spares_;
  std::int64_t waiting_ = 0;
  double last_restart_ = 0.0;
  double pending_lost_work_ = 0.0;
  std::map<std::pair<double, std::uint64_t>, Action> queue_;
  std::uint64_t seq_ = 0;
  std::map<int, double> settled_;   // incident -> time its last step ended
  std::map<int, int> superseded_;   // incident -> the later incident that cut its recovery short
  LayoutTimeline out_;
};

}  // namespace

LayoutTimeline run_layout_timeline(const spec::ScenarioSpec& s, int index, Evaluator& ev,
                                   const std::vector<spec::FaultSpec>& faults) {
  MASIM_ASSERT(s.timeline.has_value(), "run_layout_timeline needs a scenario with a timeline");
  const std::vector<ClusterEvent> events = cluster_events(faults, s.timeline->duration_s);
  LayoutRun run(s, index, ev, faults, events);
  return run.run();
}

TimelineResult run_timeline(const spec::ScenarioSpec& s, const topology::Topology& topo,
                            const models::ComputeCostModel& cost) {
  MASIM_ASSERT(s.timeline.has_value(), "run_timeline needs a scenario with a timeline");
  TimelineResult out;
  out.duration_s = s.timeline->duration_s;
  out.faults = run_faults(*s.timeline, s.topology);
  Evaluator ev(s, topo, cost);
  for (std::size_t i = 0; i < s.layouts.size(); ++i) {
    out.layouts.push_back(run_layout_timeline(s, static_cast<int>(i), ev, out.faults));
  }
  out.analyses = run_analyses(s, ev);
  out.simulations = ev.simulations();
  return out;
}

}  // namespace masim::faults
