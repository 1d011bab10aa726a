// The flow-level network (see network.hpp).
//
// Sharing model: max-min fairness by progressive filling (Bertsekas & Gallager,
// Data Networks, 2nd ed., section 6.5.2). Among the links of a component, the
// link with the smallest fair share c_l / n_l (remaining capacity over flows not
// yet fixed) fixes all its flows at that share; their bytes leave every link on
// their routes; repeat. Every link whose share equals the minimum is settled in
// the same round, so symmetric flows get bit-identical rates and finish in the
// same picosecond (one event batch instead of one per flow).
//
// Incrementality: starts and ends only mark their links dirty and request one
// recomputation at (now, Priority::kLow), after every other event of this time,
// so all changes at one time are settled together. The recomputation walks the
// connected component of flows sharing links with the dirty links (breadth-first
// over link -> flows -> links) and touches nothing else: flows elsewhere keep
// their rates and completion events. After removals only, it refills just the
// flows at or above the lowest removed rate (proof at recompute()); flows whose
// rate comes out unchanged keep their completion events.
//
// Work-saving devices that do not change the answer: symmetric flows are settled
// in one round and end in one batch (above); links that provably carry the same
// flows as a neighbouring link of no larger capacity are left out of routes
// (shadowed_links()); large components are processed in memory order. One that
// changes it within a bound: flows due within `completion_precision` (1e-4) of
// their own duration end with the current batch (absorb_near_completions());
// flows of token exchanges use the wider `exchange_precision` (2e-3) unless
// NetworkParams::exact, which bounds an exchange's completion batches by about
// ln(longest / shortest flow) / precision instead of one per flow.
//
// Events: flows that end at the same picosecond share one engine event. Ends are
// kept in buckets by time (a flow whose rate changes is added to its new bucket and
// skipped in the old one, where its recorded end no longer matches), deliveries
// likewise; the engine sees one event per distinct time, not one per flow.
//
// Storage: flows live in a slot vector with a free list; routes in a pool cached
// per (src, dst, path) and resolved once per cached plan; per-link flow lists are
// vectors reused across flows, and finished flows leave them lazily (compacted
// when a recomputation visits the link). No heap allocation happens per flow
// once pools are warm.
#include "sim/network/network.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <unordered_map>

#include "sim/common/assert.hpp"
#include "sim/network/plan.hpp"

namespace masim::network {

namespace {

constexpr std::uint32_t kNone = 0xffffffffu;

enum class EventType : std::uint64_t { kDoneBucket = 1, kDeliverBucket = 2, kRecompute = 3, kPhase = 4 };
constexpr int kTypeShift = 56;
constexpr std::uint64_t kIdMask = (std::uint64_t{1} << kTypeShift) - 1;

std::uint64_t encode(EventType t, std::uint64_t id) { return (static_cast<std::uint64_t>(t) << kTypeShift) | id; }

enum class FlowState : std::uint8_t { kFree, kActive, kDelivering };
// done_ps of a flow taken into the current completion batch (never a real time).
constexpr std::int64_t kTaken = -2;

// Touched by every recomputation: kept small and apart from the rest.
struct FlowHot {
  double rate = 0.0;            // bytes/s
  double old_rate = 0.0;        // scratch: rate before the recomputation
  std::uint32_t route_off = 0;
  std::uint32_t route_len = 0;
  std::uint32_t stamp = 0;      // == epoch: in the component being recomputed
  FlowState state = FlowState::kFree;
  bool frozen = false;
};

struct FlowCold {
  double remaining = 0.0;       // wire bytes still to send, exact at last_ps
  double old_rate = 0.0;        // scratch: rate before the recomputation
 std::int64_t last_ps = 0;
  std::int64_t start_ps = 0;    // when the flow started
  std::int64_t done_ps = -1;    // end of transmission at the current rate, -1 if none
  std::int64_t payload = 0;
  std::int64_t latency_ps = 0;  // path latency, added after the last byte
  double precision = 0.0;       // relative completion precision of this flow
  std::uint32_t op = kNone;
};

// What the filling loops touch, 32 bytes; the flow lists live apart.
struct Link {
  double capacity = 0.0;        // bytes/s after efficiency
  double alloc = 0.0;           // sum of the rates of its active flows
  double free_cap = 0.0;        // scratch during filling
  std::uint32_t stamp = 0;
  std::int32_t unfixed = 0;     // scratch during filling
};

// A plan with its flows' routes, resolved the first time each phase runs.
struct RouteRef {
  std::uint32_t off = 0;        // into route_pool: the links that can constrain the flow
  std::uint32_t len = 0;
  std::int64_t latency_ps = 0;  // of the whole path
};
struct PlanEntry {
  Plan plan;
  std::vector<std::vector<RouteRef>> routes;  // per phase, per flow
};

struct Op {
  std::shared_ptr<PlanEntry> plan;   // shared with the plan cache
  std::size_t phase = 0;
  std::int64_t outstanding = 0;
  engine::HandlerId on_done = 0;
  std::uint64_t payload = 0;
  SimTime start;
  TagStats* stats = nullptr;
  double precision = 0.0;            // completion precision of its flows
  bool live = false;
};

}  // namespace

struct Network::Impl {
  engine::Engine& engine;
  const topology::Topology& topo;
  NetworkParams params;
  engine::HandlerId self = 0;

  std::vector<Link> links;
  std::vector<std::vector<std::uint32_t>> link_flows;  // may hold finished flows until compacted
  std::vector<std::uint32_t> link_dead;                // finished flows still in link_flows
  std::vector<char> link_dirty;
  std::vector<char> is_bottleneck;                     // scratch, all 0 between uses
  std::vector<FlowHot> hot;
  std::vector<FlowCold> cold;
  std::vector<std::uint32_t> free_flows, retired;
  std::vector<Op> ops;
  std::vector<std::uint32_t> free_ops;

  std::vector<topology::LinkId> route_pool;
  // Dense (src, dst) -> route for the hash last used with that pair (collectives
  // use one hash per destination), backed by the general cache.
  std::unordered_map<std::uint64_t, RouteRef> route_cache;
  // Links that carry exactly the flows of a neighbouring link of no larger
  // capacity (see shadowed_links()); left out of routes.
  std::vector<char> shadowed;
  std::vector<topology::LinkId> route_scratch;

  // Time (ps) -> flows ending transmission / being delivered then. Bucket vectors
  // are recycled through `spare`.
  using Buckets = std::map<std::int64_t, std::vector<std::uint32_t>>;
  Buckets deliver_buckets;
  // Transmission ends: a min-heap by (time, sequence) with lazy deletion. A flow
  // whose rate changes is pushed again with its new end; the old entry is
  // stale (its time no longer matches the flow's done_ps) and is dropped when it
  // reaches the top, or all at once when stale entries outnumber live ones. One
  // engine timer is armed at the earliest end, so the engine holds one network
  // completion event at a time instead of one per distinct end time (the
  // sequence keeps equal times in insertion order, as the former buckets did).
  struct DoneEntry {
    std::int64_t t = 0;
    std::uint64_t seq = 0;
    std::uint32_t id = 0;
  };
  static bool later(const DoneEntry& a, const DoneEntry& b) { return a.t != b.t ? a.t > b.t : a.seq > b.seq; }
  std::vector<DoneEntry> done_heap, done_keep;
  std::uint64_t done_seq = 0;
  std::int64_t timer_at = -1;           // earliest armed completion timer, -1 none
  std::uint64_t stale_dropped = 0;
  std::vector<std::vector<std::uint32_t>> spare;
  std::vector<std::uint32_t> batch;
  Buckets* last_bucket_map = nullptr;   // cache of the last bucket added to
  std::int64_t last_bucket_time = -1;
  std::vector<std::uint32_t>* last_bucket = nullptr;

  std::vector<std::uint32_t> dirty_links;
  bool recompute_pending = false;
  // Since the last recomputation: whether flows were added, and the lowest rate
  // of the flows removed (flows below it keep their rates, see recompute()).
  bool added_since = false;
  double min_removed_rate = std::numeric_limits<double>::infinity();
  std::uint32_t epoch = 0;
  std::vector<std::uint32_t> comp_links, comp_flows, bottlenecks, work;

  static constexpr std::size_t kPlanCacheSize = 64;
  std::map<std::vector<std::int64_t>, std::shared_ptr<PlanEntry>> plan_cache;
  std::deque<std::vector<std::int64_t>> plan_order;
  std::vector<std::int64_t> plan_key;
  std::shared_ptr<PlanEntry> trivial_plan_;

  std::map<std::string, TagStats> stats;
  Bytes sent, received;
  double max_util = 0.0;
  std::uint64_t flow_events = 0, flows_started = 0, recomputations = 0;
  std::uint64_t visited_flows = 0, visited_links = 0, levels = 0, scanned = 0, scanned2 = 0, partials = 0;
  std::size_t active = 0;
  Algorithm last_algorithm = Algorithm::kAuto;
  Protocol last_protocol = Protocol::kAuto;

  // The largest completion precision any flow can have (bounds the scan of
  // absorb_near_completions()).
  double max_precision = 0.0;

  Impl(engine::Engine& e, const topology::Topology& t, NetworkParams p) : engine(e), topo(t), params(p) {
    max_precision = params.exact ? params.completion_precision
                                 : std::max(params.completion_precision, params.exchange_precision);
    MASIM_ASSERT(max_precision >= 0.0 && max_precision < 1.0, "completion precision outside [0, 1)");
    links.resize(topo.links().size());
    link_flows.resize(links.size());
    link_dead.assign(links.size(), 0);
    link_dirty.assign(links.size(), 0);
    is_bottleneck.assign(links.size(), 0);
    for (std::size_t l = 0; l < links.size(); ++l) {
      links[l].capacity = link_capacity(params, topo.links()[l]);
      MASIM_ASSERT(links[l].capacity > 0, "link with no capacity");
    }
    shadowed_links();
  }

  RouteRef route(int src, int dst, std::uint64_t hash) {
    const int npaths = topo.num_paths(src, dst);
    const std::uint64_t idx = npaths > 0 ? hash % static_cast<std::uint64_t>(npaths) : 0;
    const std::uint64_t key = (static_cast<std::uint64_t>(src) << 44) | (static_cast<std::uint64_t>(dst) << 24) |
                              (idx & 0xffffffu);
    auto it = route_cache.find(key);
    if (it != route_cache.end()) return it->second;
    route_scratch.clear();
    topo.route_into(src, dst, idx, route_scratch);
    RouteRef ref;
    ref.off = static_cast<std::uint32_t>(route_pool.size());
    for (topology::LinkId l : route_scratch) {
      ref.latency_ps += topo.links()[l].latency.count_ps();
      if (!shadowed[l]) route_pool.push_back(l);
    }
    ref.len = static_cast<std::uint32_t>(route_pool.size()) - ref.off;
    route_cache.emplace(key, ref);
    return ref;
  }

  // A non-GPU vertex v with exactly two neighbours u and w forwards everything
  // from u to w and from w to u (routes never turn back), so u->v and v->w carry
  // the same flows, as do w->v and v->u. Of each such pair the link with the
  // larger capacity (the second on a tie) can never be the one that limits a
  // flow and is left out of routes. Along a chain of such vertices the first
  // link of smallest capacity always stays, so sharing is exactly as if all were
  // kept; it only saves work (NIC <-> PCIe pairs: 6 links of a rail flow become 4).
  void shadowed_links() {
    const auto& tl = topo.links();
    const std::size_t nv = topo.vertices().size();
    std::vector<std::vector<topology::LinkId>> out(nv), in(nv);
    for (topology::LinkId l = 0; l < tl.size(); ++l) {
      out[tl[l].from].push_back(l);
      in[tl[l].to].push_back(l);
    }
    shadowed.assign(tl.size(), 0);
    for (topology::VertexId v = 0; v < nv; ++v) {
      if (topo.gpu_rank(v) >= 0 || out[v].size() != 2 || in[v].size() != 2) continue;
      if (tl[out[v][0]].to == tl[out[v][1]].to) continue;  // parallel links, not a chain
      for (topology::LinkId a : in[v]) {
        // a: u -> v pairs with the out-link v -> w, w != u.
        const topology::LinkId b = tl[out[v][0]].to != tl[a].from ? out[v][0] : out[v][1];
        const double ca = links[a].capacity, cb = links[b].capacity;
        shadowed[ca < cb || (ca == cb && a < b) ? b : a] = 1;
      }
    }
  }

  // Adds `id` to the bucket at `t`, scheduling one engine event per new bucket.
  void add_to_bucket(Buckets& b, EventType type, std::int64_t t, std::uint32_t id) {
    // Recomputations hand out many equal times in a row: try the last bucket first.
    if (&b == last_bucket_map && t == last_bucket_time) {
      last_bucket->push_back(id);
      return;
    }
    auto it = b.find(t);
    if (it == b.end()) {
      std::vector<std::uint32_t> v;
      if (!spare.empty()) {
        v = std::move(spare.back());
        spare.pop_back();
      }
      it = b.emplace(t, std::move(v)).first;
      engine.schedule(SimTime::ps(t), self, encode(type, 0), engine::Priority::kCompletion);
    }
    it->second.push_back(id);
    last_bucket_map = &b;
    last_bucket_time = t;
    last_bucket = &it->second;
  }

  // Completion precision. Flows due within a relative `completion_precision` of
  // their own duration after `now` end now with the batch (their last bytes are
  // counted as sent): one recomputation instead of one per near-simultaneous
  // end. A flow of duration d ends at most precision·d early; with precision 0
  // nothing is merged. (SimGrid rounds the same way with an absolute 10 us.)
  void absorb_near_completions(std::int64_t now) {
    const double p = max_precision;
    if (!(p > 0.0)) return;
    // A flow due at k qualifies if k - now <= p·(k - start) <= p·(k - t0), t0 the
    // earliest start of a running collective (no flow started before it).
    std::int64_t t0 = now;
    for (const Op& op : ops) {
      if (op.live) t0 = std::min(t0, op.start.count_ps());
    }
    const auto limit = static_cast<std::int64_t>((static_cast<double>(now) - p * static_cast<double>(t0)) / (1.0 - p));
    done_keep.clear();
    while (!done_heap.empty() && done_heap.front().t <= limit) {
      const DoneEntry e = done_heap.front();
      std::pop_heap(done_heap.begin(), done_heap.end(), later);
      done_heap.pop_back();
      const std::uint32_t f = e.id;
      if (!live_entry(e)) {
        ++stale_dropped;
        continue;
      }
      if (static_cast<double>(e.t - now) <= cold[f].precision * static_cast<double>(e.t - cold[f].start_ps)) {
        cold[f].done_ps = now;
        batch.push_back(f);
      } else {
        done_keep.push_back(e);
      }
    }
    for (const DoneEntry& e : done_keep) {
      done_heap.push_back(e);
      std::push_heap(done_heap.begin(), done_heap.end(), later);
    }
  }

  bool live_entry(const DoneEntry& e) const {
    return hot[e.id].state == FlowState::kActive && cold[e.id].done_ps == e.t;
  }

  // Files flow `id`'s end at `t` and arms the timer if `t` is the earliest.
  void push_done(std::int64_t t, std::uint32_t id) {
    done_heap.push_back(DoneEntry{t, done_seq++, id});
    std::push_heap(done_heap.begin(), done_heap.end(), later);
    if (timer_at < 0 || t < timer_at) {
      timer_at = t;
      engine.schedule(SimTime::ps(t), self, encode(EventType::kDoneBucket, 0), engine::Priority::kCompletion);
    }
  }

  // Drops stale entries from the top; rebuilds the heap when most entries are
  // stale (so it holds O(active flows)); arms the timer for the next end.
  void arm_timer() {
    while (!done_heap.empty() && !live_entry(done_heap.front())) {
      std::pop_heap(done_heap.begin(), done_heap.end(), later);
      done_heap.pop_back();
      ++stale_dropped;
    }
    if (done_heap.size() > 2 * active + 1024) {
      const std::size_t before = done_heap.size();
      done_heap.erase(std::remove_if(done_heap.begin(), done_heap.end(),
                                     [this](const DoneEntry& e) { return !live_entry(e); }),
                      done_heap.end());
      std::make_heap(done_heap.begin(), done_heap.end(), later);
      stale_dropped += before - done_heap.size();
    }
    if (done_heap.empty()) return;
    const std::int64_t t = done_heap.front().t;
    if (timer_at < 0 || t < timer_at) {
      timer_at = t;
      engine.schedule(SimTime::ps(t), self, encode(EventType::kDoneBucket, 0), engine::Priority::kCompletion);
    }
  }

  // Takes the bucket due now (if any) into `batch`.
  bool take_bucket(Buckets& b) {
    auto it = b.find(engine.now().count_ps());
    if (it == b.end()) return false;
    batch.swap(it->second);
    it->second.clear();
    spare.push_back(std::move(it->second));
    if (&b == last_bucket_map && it->first == last_bucket_time) last_bucket_map = nullptr;
    b.erase(it);
    return true;
  }

  void mark_dirty(std::uint32_t l) {
    if (!link_dirty[l]) {
      link_dirty[l] = 1;
      dirty_links.push_back(l);
    }
    if (!recompute_pending) {
      recompute_pending = true;
      engine.schedule(engine.now(), self, encode(EventType::kRecompute, 0), engine::Priority::kLow);
    }
  }

  void start_flow(std::uint32_t op, const FlowSpec& fs, const RouteRef& rr) {
    std::uint32_t id;
    if (!free_flows.empty()) {
      id = free_flows.back();
      free_flows.pop_back();
    } else {
      id = static_cast<std::uint32_t>(hot.size());
      hot.emplace_back();
      cold.emplace_back();
    }
    FlowHot& h = hot[id];
    FlowCold& c = cold[id];
    const std::uint32_t off = rr.off, len = rr.len;
    const std::int64_t lat = rr.latency_ps;
    h.rate = 0.0;
    h.route_off = off;
    h.route_len = len;
    h.frozen = false;
    c.remaining = fs.wire_bytes;
    c.last_ps = engine.now().count_ps();
    c.start_ps = c.last_ps;
    c.done_ps = -1;
    c.payload = fs.payload;
    c.op = op;
    c.latency_ps = lat;
    c.precision = ops[op].precision;
    sent += Bytes{fs.payload};
    ++flows_started;
    ++flow_events;
    if (c.remaining <= 0.0 || len == 0) {
      h.state = FlowState::kDelivering;
      add_to_bucket(deliver_buckets, EventType::kDeliverBucket, engine.now().count_ps() + lat, id);
      return;
    }
    h.state = FlowState::kActive;
    ++active;
    added_since = true;
    for (std::uint32_t k = 0; k < len; ++k) {
      const auto l = route_pool[off + k];
      link_flows[l].push_back(id);
      mark_dirty(l);
    }
  }

  void start_phase(std::uint32_t op_id) {
    Op& op = ops[op_id];
    const Phase& ph = op.plan->plan.phases[op.phase];
    op.outstanding = static_cast<std::int64_t>(ph.flows.size());
    if (ph.flows.empty()) {
      phase_done(op_id);
      return;
    }
    auto& routes = op.plan->routes[op.phase];
    if (routes.size() != ph.flows.size()) {
      routes.clear();
      routes.reserve(ph.flows.size());
      for (const FlowSpec& fs : ph.flows) routes.push_back(route(fs.src, fs.dst, fs.hash));
    }
    for (std::size_t i = 0; i < ph.flows.size(); ++i) start_flow(op_id, ph.flows[i], routes[i]);
  }

  void phase_done(std::uint32_t op_id) {
    Op& op = ops[op_id];
    ++op.phase;
    if (op.phase < op.plan->plan.phases.size()) {
      engine.schedule(engine.now() + op.plan->plan.phases[op.phase].delay, self, encode(EventType::kPhase, op_id));
      return;
    }
    op.stats->busy += engine.now() - op.start;
    engine.schedule(engine.now(), op.on_done, op.payload, engine::Priority::kCompletion);
    op.live = false;
    op.plan.reset();
    free_ops.push_back(op_id);
  }

  void flow_done(std::uint32_t id) {
    FlowHot& h = hot[id];
    FlowCold& c = cold[id];
    ++flow_events;
    min_removed_rate = std::min(min_removed_rate, h.rate);
    for (std::uint32_t k = 0; k < h.route_len; ++k) {
      const auto l = route_pool[h.route_off + k];
      links[l].alloc -= h.rate;
      ++link_dead[l];
      mark_dirty(l);
    }
    h.state = FlowState::kDelivering;
    h.rate = 0.0;
    c.remaining = 0.0;
    c.done_ps = -1;
    --active;
    if (c.latency_ps > 0) {
      add_to_bucket(deliver_buckets, EventType::kDeliverBucket, engine.now().count_ps() + c.latency_ps, id);
    } else {
      flow_delivered(id);
    }
  }

  void flow_delivered(std::uint32_t id) {
    MASIM_ASSERT(hot[id].state == FlowState::kDelivering, "delivery of a flow in the wrong state");
    received += Bytes{cold[id].payload};
    hot[id].state = FlowState::kFree;
    const std::uint32_t op_id = cold[id].op;
    // A slot is reused only after the next recomputation has compacted the
    // lists of the links it was on (each of them is dirty), so no stale entry
    // can be mistaken for a new flow that happens to get the same id.
    retired.push_back(id);
    Op& op = ops[op_id];
    if (--op.outstanding == 0) phase_done(op_id);
  }

  // Drops finished flows from a link's list.
  void compact(std::uint32_t l) {
    if (link_dead[l] == 0) return;
    auto& fl = link_flows[l];
    fl.erase(std::remove_if(fl.begin(), fl.end(), [&](std::uint32_t id) { return hot[id].state != FlowState::kActive; }),
             fl.end());
    link_dead[l] = 0;
  }

  // Max-min fair rates for the flows that can change (see the file comment).
  //
  // Partial recomputation. When only flows were removed since the last
  // recomputation, flows whose rate is below the lowest removed rate r keep their
  // rates: in progressive filling every level below r is decided by links whose
  // share was below r, and a removed flow only raises the share of the links it
  // crossed, all of which had share >= its rate >= r until it was fixed. So only
  // flows with rate >= r are refilled, on link capacities less the unchanged
  // flows' rates (`alloc` keeps each link's total). Any addition forces a full
  // recomputation of the component.
  void recompute() {
    recompute_pending = false;
    ++recomputations;
    free_flows.insert(free_flows.end(), retired.begin(), retired.end());
    retired.clear();
    ++epoch;
    const std::int64_t now = engine.now().count_ps();
    const bool partial = !added_since && params.partial_recompute;
    const double floor_rate = partial ? min_removed_rate : 0.0;
    partials += partial;
    added_since = false;
    min_removed_rate = std::numeric_limits<double>::infinity();
    comp_links.clear();
    comp_flows.clear();
    for (std::uint32_t l : dirty_links) {
      link_dirty[l] = 0;
      if (links[l].stamp != epoch) {
        links[l].stamp = epoch;
        comp_links.push_back(l);
      }
    }
    dirty_links.clear();
    // Walk link -> (changeable) flows -> links. Once the walk has reached an eighth
    // of the active flows, the rest of the component is taken by one scan of all
    // flows in memory order instead: that may also take flows outside the
    // component, which is harmless (refilling a flow whose links did not change
    // reproduces its rate exactly) and much faster than walking the lists.
    bool scan_all = false;
    for (std::size_t i = 0; i < comp_links.size() && !scan_all; ++i) {
      const std::uint32_t li = comp_links[i];
      compact(li);
      scanned += link_flows[li].size();
      for (std::uint32_t id : link_flows[li]) {
        FlowHot& h = hot[id];
        if (h.stamp == epoch || h.rate < floor_rate) continue;
        h.stamp = epoch;
        comp_flows.push_back(id);
        for (std::uint32_t k = 0; k < h.route_len; ++k) {
          const auto l2 = route_pool[h.route_off + k];
          if (links[l2].stamp != epoch) {
            links[l2].stamp = epoch;
            comp_links.push_back(l2);
          }
        }
      }
      scan_all = 8 * comp_flows.size() > active && active > 4096;
    }
    if (scan_all || comp_flows.size() > 4096) {
      // Memory order for the passes below (and the rest of the flows if scanning).
      comp_flows.clear();
      for (std::uint32_t id = 0; id < hot.size(); ++id) {
        FlowHot& h = hot[id];
        if (h.state != FlowState::kActive) continue;
        if (h.stamp != epoch) {
          if (!scan_all || h.rate < floor_rate) continue;
          h.stamp = epoch;
          for (std::uint32_t k = 0; k < h.route_len; ++k) {
            const auto l2 = route_pool[h.route_off + k];
            if (links[l2].stamp != epoch) {
              links[l2].stamp = epoch;
              comp_links.push_back(l2);
            }
          }
        }
        comp_flows.push_back(id);
      }
      // Every link the filling loop may scan must be free of finished flows.
      for (std::uint32_t l : comp_links) compact(l);
    }
    visited_flows += comp_flows.size();
    visited_links += comp_links.size();
    // Capacity left for the changeable flows on each link.
    for (std::uint32_t l : comp_links) {
      links[l].unfixed = 0;
      links[l].free_cap = partial ? links[l].capacity - links[l].alloc : links[l].capacity;
    }
    for (std::uint32_t id : comp_flows) {
      FlowHot& h = hot[id];
      h.old_rate = h.rate;
      h.frozen = false;
      for (std::uint32_t k = 0; k < h.route_len; ++k) {
        Link& l = links[route_pool[h.route_off + k]];
        ++l.unfixed;
        if (partial) l.free_cap += h.rate;
      }
    }
    // Progressive filling, one round per distinct bottleneck share.
    work.assign(comp_links.begin(), comp_links.end());
    std::size_t fixed = 0;
    while (fixed < comp_flows.size()) {
      ++levels;
      // The smallest share among links with flows left to fix; links with
      // none left drop out of `work` for good.
      double best = std::numeric_limits<double>::infinity();
      std::size_t live = 0;
      for (std::uint32_t l : work) {
        const Link& link = links[l];
        if (link.unfixed <= 0) continue;
        work[live++] = l;
        best = std::min(best, link.free_cap / link.unfixed);
      }
      work.resize(live);
      MASIM_ASSERT(std::isfinite(best), "unfixed flows but no link carries them");
      // After removals no refilled flow can drop below the lowest removed rate
      // (see above); rounding in the links' running totals can only nudge it.
      const double share = std::max(best, floor_rate);
      bottlenecks.clear();
      for (std::uint32_t l : work) {
        if (links[l].free_cap / links[l].unfixed <= best * (1.0 + 1e-12)) bottlenecks.push_back(l);
      }
      auto fix = [&](FlowHot& h) {
        h.frozen = true;
        h.rate = share;
        ++fixed;
        for (std::uint32_t k = 0; k < h.route_len; ++k) {
          Link& l2 = links[route_pool[h.route_off + k]];
          l2.free_cap -= share;
          --l2.unfixed;
        }
      };
      std::size_t listed = 0;
      for (std::uint32_t l : bottlenecks) listed += link_flows[l].size();
      if (2 * listed < comp_flows.size()) {
        // Few flows on the bottlenecks: visit them through the links' lists.
        scanned2 += listed;
        for (std::uint32_t l : bottlenecks) {
          for (std::uint32_t id : link_flows[l]) {
            FlowHot& h = hot[id];
            if (h.stamp == epoch && !h.frozen) fix(h);
          }
        }
      } else {
        // Many: one pass over the component in memory order is cheaper.
        scanned2 += comp_flows.size();
        for (std::uint32_t l : bottlenecks) is_bottleneck[l] = 1;
        for (std::uint32_t id : comp_flows) {
          FlowHot& h = hot[id];
          if (h.frozen) continue;
          for (std::uint32_t k = 0; k < h.route_len; ++k) {
            if (is_bottleneck[route_pool[h.route_off + k]]) {
              fix(h);
              break;
            }
          }
        }
        for (std::uint32_t l : bottlenecks) is_bottleneck[l] = 0;
      }
    }
    for (std::uint32_t l : comp_links) {
      Link& link = links[l];
      link.alloc = link.capacity - link.free_cap;
      const double util = link.alloc / link.capacity;
      // Rounding in the subtractions may leave a few ulps; anything more is a bug.
      MASIM_ASSERT(util <= 1.0 + 1e-9, "a link's allocated rate exceeds its capacity");
      max_util = std::max(max_util, util);
    }
    // New completion times, only for flows whose rate changed: an unchanged
    // rate leaves the end time exactly where it was.
    for (std::uint32_t id : comp_flows) {
      const FlowHot& h = hot[id];
      FlowCold& c = cold[id];
      MASIM_ASSERT(h.rate > 0.0, "an active flow got no rate");
      if (h.rate == h.old_rate) continue;
      c.remaining -= h.old_rate * static_cast<double>(now - c.last_ps) * 1e-12;
      if (c.remaining < 0.0) c.remaining = 0.0;
      c.last_ps = now;
      const std::int64_t done = now + static_cast<std::int64_t>(std::ceil(c.remaining / h.rate * 1e12));
      if (done == c.done_ps) continue;
      c.done_ps = done;
      push_done(done, id);
    }
  }

  void handle(std::uint64_t payload) {
    const auto type = static_cast<EventType>(payload >> kTypeShift);
    const auto id = static_cast<std::uint32_t>(payload & kIdMask);
    switch (type) {
      case EventType::kDoneBucket: {
        const std::int64_t now = engine.now().count_ps();
        if (timer_at == now) timer_at = -1;  // this timer fired (a later stale one does nothing new)
        // Every live entry due now; entries left behind when a flow's end moved
        // are stale and dropped. Taking a flow marks done_ps, so a flow whose
        // end moved away and back again (two entries at now) is taken once.
        while (!done_heap.empty() && done_heap.front().t <= now) {
          const DoneEntry e = done_heap.front();
          std::pop_heap(done_heap.begin(), done_heap.end(), later);
          done_heap.pop_back();
          if (!live_entry(e)) {
            ++stale_dropped;
            continue;
          }
          MASIM_ASSERT(e.t == now, "a flow's end passed without its completion");
          cold[e.id].done_ps = kTaken;
          batch.push_back(e.id);
        }
        if (!batch.empty()) absorb_near_completions(now);
        for (std::uint32_t f : batch) flow_done(f);
        batch.clear();
        arm_timer();
        break;
      }
      case EventType::kDeliverBucket:
        if (!take_bucket(deliver_buckets)) break;
        for (std::uint32_t f : batch) flow_delivered(f);
        batch.clear();
        break;
      case EventType::kRecompute: recompute(); break;
      case EventType::kPhase: start_phase(id); break;
    }
  }

  std::shared_ptr<PlanEntry> trivial_plan() {
    if (!trivial_plan_) {
      auto p = std::make_shared<PlanEntry>();
      p->plan.phases.emplace_back();  // one rank: nothing moves
      p->routes.resize(1);
      trivial_plan_ = std::move(p);
    }
    return trivial_plan_;
  }

  // Plans are pure functions of the request (topology and params are fixed for
  // this network), and layouts repeat the same collectives every layer and
  // iteration, so they are kept: at most kPlanCacheSize, oldest out first.
  std::shared_ptr<PlanEntry> cached_plan(const CollectiveRequest& req) {
    plan_key.clear();
    plan_key.push_back(static_cast<std::int64_t>(req.kind));
    plan_key.push_back(static_cast<std::int64_t>(req.algorithm));
    plan_key.push_back(static_cast<std::int64_t>(req.protocol));
    plan_key.push_back(req.root);
    plan_key.push_back(req.bytes.count());
    plan_key.push_back(static_cast<std::int64_t>(req.ranks.size()));
    plan_key.insert(plan_key.end(), req.ranks.begin(), req.ranks.end());
    plan_key.push_back(static_cast<std::int64_t>(req.dst_ranks.size()));
    plan_key.insert(plan_key.end(), req.dst_ranks.begin(), req.dst_ranks.end());
    for (const Bytes& b : req.matrix) plan_key.push_back(b.count());
    auto it = plan_cache.find(plan_key);
    if (it != plan_cache.end()) return it->second;
    auto plan = std::make_shared<PlanEntry>();
    plan->plan = plan_collective(topo, params, req);
    plan->routes.resize(plan->plan.phases.size());
    if (plan_cache.size() >= kPlanCacheSize) {
      plan_cache.erase(plan_order.front());
      plan_order.pop_front();
    }
    plan_order.push_back(plan_key);
    plan_cache.emplace(plan_key, plan);
    return plan;
  }

  void start(const CollectiveRequest& req, engine::HandlerId on_done, std::uint64_t payload) {
    MASIM_ASSERT(check_ranks(topo, req.ranks).empty(), "collective ranks are not valid GPU ranks");
    if (req.kind == CollectiveKind::kSendRecv) MASIM_ASSERT(req.ranks.size() == 2, "send_recv needs 2 ranks");
    if (req.kind == CollectiveKind::kManyToMany) {
      MASIM_ASSERT(req.matrix.size() == req.ranks.size() * req.dst_ranks.size(), "many-to-many matrix size");
      MASIM_ASSERT(check_ranks(topo, req.dst_ranks).empty(), "many-to-many receivers are not valid GPU ranks");
    }
    TagStats& st = stats[req.tag];
    ++st.calls;
    std::uint32_t op_id;
    if (!free_ops.empty()) {
      op_id = free_ops.back();
      free_ops.pop_back();
    } else {
      op_id = static_cast<std::uint32_t>(ops.size());
      ops.emplace_back();
    }
    Op& op = ops[op_id];
    op.live = true;
    op.phase = 0;
    op.on_done = on_done;
    op.payload = payload;
    op.start = engine.now();
    op.stats = &st;
    const bool exchange = req.kind == CollectiveKind::kAllToAll || req.kind == CollectiveKind::kManyToMany;
    op.precision = exchange && !params.exact ? std::max(params.completion_precision, params.exchange_precision)
                                             : params.completion_precision;
    const bool trivial = req.ranks.size() < 2 && req.kind != CollectiveKind::kManyToMany;
    op.plan = trivial ? trivial_plan() : cached_plan(req);
    last_algorithm = op.plan->plan.algorithm;
    last_protocol = op.plan->plan.protocol;
    for (const Phase& ph : op.plan->plan.phases) {
      for (const FlowSpec& fs : ph.flows) st.bytes += Bytes{fs.payload};
    }
    engine.schedule(engine.now() + op.plan->plan.phases.front().delay, self, encode(EventType::kPhase, op_id));
  }
};

Network::Network(engine::Engine& engine, const topology::Topology& topo, NetworkParams params)
    : impl_(std::make_unique<Impl>(engine, topo, params)) {
  impl_->self = engine.add_handler(this);
}
Network::~Network() = default;

void Network::start(const CollectiveRequest& req, engine::HandlerId on_done, std::uint64_t payload) {
  impl_->start(req, on_done, payload);
}

std::string_view Network::model() const {
  return "flow-level: rate of each flow = max-min fair share over its route's links "
         "(progressive filling, recomputed per connected component on flow start/end); "
         "flow time = path latency + bytes/rate; collectives = NCCL ring/tree/pairwise(PXN) "
         "flows + per-call and per-step latencies (NCCL tuning model)";
}

void Network::handle(engine::Engine&, std::uint64_t payload) { impl_->handle(payload); }

const std::map<std::string, TagStats>& Network::stats_by_tag() const { return impl_->stats; }
Bytes Network::bytes_sent() const { return impl_->sent; }
Bytes Network::bytes_received() const { return impl_->received; }
double Network::max_link_utilization() const { return impl_->max_util; }
std::uint64_t Network::flow_events() const { return impl_->flow_events; }
std::uint64_t Network::flows_started() const { return impl_->flows_started; }
std::uint64_t Network::recomputations() const { return impl_->recomputations; }
std::size_t Network::active_flows() const { return impl_->active; }
std::string Network::debug_counters() const {
  return "recomputes=" + std::to_string(impl_->recomputations) + " visited_flows=" + std::to_string(impl_->visited_flows) +
         " visited_links=" + std::to_string(impl_->visited_links) + " levels=" + std::to_string(impl_->levels) +
         " scanned=" + std::to_string(impl_->scanned) + " scanned2=" + std::to_string(impl_->scanned2) + " partials=" + std::to_string(impl_->partials) + " stale_dropped=" + std::to_string(impl_->stale_dropped);
}
Algorithm Network::last_algorithm() const { return impl_->last_algorithm; }
Protocol Network::last_protocol() const { return impl_->last_protocol; }

double Network::audit_link_utilization() const {
  std::vector<double> used(impl_->links.size(), 0.0);
  for (const FlowHot& h : impl_->hot) {
    if (h.state != FlowState::kActive) continue;
    for (std::uint32_t k = 0; k < h.route_len; ++k) used[impl_->route_pool[h.route_off + k]] += h.rate;
  }
  double worst = 0.0;
  for (std::size_t l = 0; l < used.size(); ++l) worst = std::max(worst, used[l] / impl_->links[l].capacity);
  return worst;
}

// ------------------------------------------------------------------ standalone runs

namespace {
struct Waiter final : engine::EventHandler {
  bool done = false;
  SimTime at;
  void handle(engine::Engine& e, std::uint64_t) override {
    done = true;
    at = e.now();
  }
};
}  // namespace

CollectiveResult run_collective(const topology::Topology& topo, const CollectiveRequest& req,
                                const NetworkParams& params) {
  engine::Engine engine;
  Network net(engine, topo, params);
  Waiter w;
  const auto id = engine.add_handler(&w);
  net.start(req, id, 0);
  engine.run();
  MASIM_ASSERT(w.done, "collective never completed");
  MASIM_ASSERT(net.bytes_sent() == net.bytes_received(), "bytes sent != bytes received");
  CollectiveResult r;
  r.time = w.at;
  const double s = r.time.seconds();
  const int n = static_cast<int>(req.ranks.size());
  r.algbw_gb_per_s = s > 0 ? req.bytes.as_double() / s * 1e-9 : 0.0;
  r.busbw_gb_per_s = r.algbw_gb_per_s * busbw_factor(req.kind, n);
  r.flow_events = net.flow_events();
  r.algorithm = net.last_algorithm();
  r.protocol = net.last_protocol();
  r.flows = net.flows_started();
  r.max_link_utilization = net.max_link_utilization();
  return r;
}

std::vector<int> first_ranks(int n) {
  std::vector<int> r(static_cast<std::size_t>(std::max(0, n)));
  for (int i = 0; i < n; ++i) r[static_cast<std::size_t>(i)] = i;
  return r;
}

std::string check_ranks(const topology::Topology& topo, const std::vector<int>& ranks) {
  std::vector<char> seen(static_cast<std::size_t>(topo.num_gpus()), 0);
  for (int r : ranks) {
    if (r < 0 || r >= topo.num_gpus()) {
      return "GPU rank " + std::to_string(r) + " is outside the topology's " + std::to_string(topo.num_gpus()) +
             " GPUs";
    }
    if (seen[static_cast<std::size_t>(r)]) return "GPU rank " + std::to_string(r) + " appears twice";
    seen[static_cast<std::size_t>(r)] = 1;
  }
  return {};
}

NamedCollectiveResult run_named_collective(const topology::Topology& topo, std::string_view collective,
                                           Bytes bytes, const std::vector<int>& ranks, std::string_view algorithm,
                                           std::string_view protocol, const NetworkParams& params) {
  NamedCollectiveResult out;
  const auto kind = parse_collective_kind(collective);
  if (!kind || *kind == CollectiveKind::kManyToMany) {
    out.error = "unknown collective \"" + std::string(collective) +
                "\" (expected all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, reduce or send_recv)";
    return out;
  }
  const auto algo = parse_algorithm(algorithm);
  if (!algo) {
    out.error = "unknown algorithm \"" + std::string(algorithm) + "\" (expected auto, ring, tree, pairwise or hierarchical)";
    return out;
  }
  const auto proto = parse_protocol(protocol);
  if (!proto) {
    out.error = "unknown protocol \"" + std::string(protocol) + "\" (expected auto, simple, ll128 or ll)";
    return out;
  }
  if (std::string e = check_ranks(topo, ranks); !e.empty()) {
    out.error = e;
    return out;
  }
  if (*kind == CollectiveKind::kSendRecv ? ranks.size() != 2 : ranks.size() < 2) {
    out.error = *kind == CollectiveKind::kSendRecv ? "send_recv needs exactly 2 GPUs (source, destination)"
                                                   : "a collective needs at least 2 GPUs";
    return out;
  }
  if (bytes.count() <= 0) {
    out.error = "the message size must be positive";
    return out;
  }
  CollectiveRequest req;
  req.kind = *kind;
  req.ranks = ranks;
  req.bytes = bytes;
  req.algorithm = *algo;
  req.protocol = *proto;
  req.tag = "cli";
  out.result = run_collective(topo, req, params);
  return out;
}

}  // namespace masim::network
