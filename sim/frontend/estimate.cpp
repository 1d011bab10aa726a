// The estimate's model. Every count is a double (no overflow for any input in
// range; 2^30 sequences of 2^30 tokens is 1.2e18 token-expert draws, far past
// any limit, and still a finite number).
//
// Per layout (the planners' own rules, sim/layouts/grid_planner.cpp and
// ma_planner.cpp): S steps (workload.iterations), M micro-batches per replica,
// Ls layers per pipeline stage, G working GPUs, P passes (1; training 2:
// forward and backward; 3 with recomputation).
//   compute units  U = S · M · Ls · G · P         one (GPU, layer, micro-batch, pass)
//   exchange flows X = S · M · Lmoe · flows · 2 · (training ? 2 : 1)
//                  flows of one exchange of s senders and r receivers as the
//                  network plans it (PXN, sim/network/plan.cpp): s · (G − 1)
//                  NVLink flows to the rail proxies plus ceil(s / G) · r rail
//                  flows (G GPUs per node) when it spans nodes, else s · (r − 1);
//                  the matrix (s · r · 8 B) is held by the task program.
//                  Senders, receivers: EP ranks per replica and stage; MA:
//                  working attention GPUs · expert GPUs (dispatch and combine)
//   collective flows C = U / 2 for TP degree t > 1 (the per-layer all-reduces;
//                  the network prices a ring as a few aggregated flows), else 0
//   events         kEventsPerUnit · U + kEventsPerFlow · (X + C)
//   routing draws  S · Lmoe · tokens · k          (tokens = batch · tokens per sequence)
//   program bytes  kBytesPerEvent · events        (tasks, ops, successor lists)
//   routing bytes  (Lmoe + 1) · tokens · k · 4 B  (one int32 per token-slot, per MoE layer, and a copy)
// Topology: kBytesPerElement per vertex and link, plus one routing table per
// GPU that sends (vertices · 48 B + links · 24 B each). The resolved echo in
// results.json: kEchoBytesPerElement per vertex and link.
// The constants were fitted on the shipped scenarios (tests/frontend/estimate_test.cpp
// prints each estimate beside the measured value and holds them within a factor).
#include "sim/frontend/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "sim/models/model_params.hpp"

namespace masim::frontend {

namespace {

constexpr double kEventsPerUnit = 5.0;
constexpr double kEventsPerFlow = 4.0;
constexpr double kBytesPerEvent = 160.0;
constexpr double kBaseBytes = 8.0 * 1024 * 1024;    // the program, its libraries, the parsed inputs
constexpr double kBytesPerElement = 400.0;          // topology: spec, graph, links, per vertex or link
constexpr double kEchoBytesPerElement = 1200.0;     // results.json: tree, text and its staged copy
constexpr double kDagBytesPerVertex = 48.0;         // one GPU's routing table
constexpr double kDagBytesPerLink = 24.0;

// Past these, raising the limit is no advice worth giving.
// Serving: a request's arrival, lengths, per-request result and CSV row.
constexpr double kBytesPerRequest = 320.0;
constexpr double kMaxSuggestedBytes = 1024.0 * 1024 * 1024 * 1024 * 64;   // 64 TiB
constexpr double kMaxSuggestedEvents = 1e14;

double ceil_div(double a, double b) { return std::ceil(a / std::max(1.0, b)); }

std::string human_bytes(double b) {
  char buf[64];
  if (b >= 1024.0 * 1024 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.3g TiB", b / (1024.0 * 1024 * 1024 * 1024));
  } else if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.0f MiB", std::ceil(b / (1024.0 * 1024)));
  }
  return buf;
}

std::string human_count(double n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2g", n);
  return buf;
}

// A round limit comfortably above `need`: what to pass to raise the limit.
std::string suggested_bytes(double need) {
  double gib = std::max(1.0, std::ceil(need * 1.25 / (1024.0 * 1024 * 1024)));
  const double p = std::pow(2.0, std::ceil(std::log2(gib)));
  if (p < 1e6) gib = p;
  std::ostringstream o;
  o << static_cast<long long>(gib) << " GiB";
  return o.str();
}

struct Shape {
  int gpus = 0;          // working GPUs (MA: without standbys)
  double inner = 1;      // TP or EP degree within a stage
  bool ep_style = false;
  double pp = 1;
  double dp = 1;         // replicas (MA: attention groups)
  double micro_batches = 1;
  double pairs = 0;      // token-exchange flows of one exchange, all replicas and stages
  double matrix = 0;     // token-exchange matrix entries, all replicas and stages
  double tp = 1;         // TP degree of the per-layer all-reduces
};

// Flows of one token exchange from `senders` to `receivers` GPUs (see the file comment).
double exchange_flows(const spec::ScenarioSpec& s, double senders, double receivers) {
  double G = 0;
  for (const spec::VertexSpec& v : s.topology.vertices) G += v.kind == spec::VertexKind::kGpu && v.node == 0;
  G = std::max(1.0, G);
  if (senders + receivers <= G) return senders * std::max(0.0, receivers - 1.0);
  return senders * (G - 1.0) + std::ceil(senders / G) * receivers;
}

Shape shape_of(const spec::ScenarioSpec& s, const spec::LayoutSpec& l) {
  const spec::WorkloadSpec& w = s.workload;
  const bool training = w.kind == spec::WorkloadKind::kTraining;
  Shape g;
  if (l.kind == spec::LayoutKind::kMaSeparation) {
    const spec::MaSpec& ma = l.ma;
    const double a = static_cast<double>(ma.attention_gpus.size());
    const double x = static_cast<double>(ma.expert_gpus.size());
    const double atp = std::max(1, ma.attention_tp);
    const double groups = std::max(1.0, std::floor(a / (atp * std::max(1, ma.attention_replicas))));
    const double per_group = ceil_div(w.batch, groups);
    double m = std::max(1, ma.micro_batches);
    if (training) m = std::max(1.0, ceil_div(per_group, std::max(1, w.micro_batch_size)));
    m = std::min(m, std::max(1.0, std::floor(w.batch / groups)));
    g.gpus = static_cast<int>(std::min(a, groups * atp) + x);
    g.dp = groups;
    g.micro_batches = m;
    g.pairs = exchange_flows(s, groups * atp, x);
    g.matrix = groups * atp * x;
    g.tp = atp;
    return g;
  }
  switch (l.kind) {
    case spec::LayoutKind::kTensor: g.inner = l.tp; break;
    case spec::LayoutKind::kPipeline:
      g.pp = l.pp;
      if (l.stage_parallelism == spec::StageParallelism::kTensor) g.inner = l.tp;
      if (l.stage_parallelism == spec::StageParallelism::kExpert) {
        g.inner = l.ep;
        g.ep_style = true;
      }
      break;
    case spec::LayoutKind::kTensorPipeline:
      g.inner = l.tp;
      g.pp = l.pp;
      break;
    case spec::LayoutKind::kExpert:
      g.inner = l.ep;
      g.ep_style = true;
      break;
    case spec::LayoutKind::kMaSeparation: break;
  }
  g.inner = std::max(1.0, g.inner);
  g.dp = std::max(1, l.dp);
  g.gpus = l.gpu_count();
  const double seqs = ceil_div(w.batch, g.dp);
  const double per_rank = g.ep_style ? g.inner : 1.0;
  double m = 1;
  if (training) {
    m = std::max(1.0, ceil_div(seqs, std::max(1, w.micro_batch_size) * per_rank));
  } else if (g.pp > 1 || g.ep_style) {
    m = std::max(1, l.micro_batches);
  }
  g.micro_batches = std::min(m, std::max(1.0, std::floor(seqs / per_rank)));
  g.pairs = g.ep_style ? exchange_flows(s, g.inner, g.inner) * g.dp * g.pp : 0.0;
  g.matrix = g.ep_style ? g.inner * g.inner * g.dp * g.pp : 0.0;
  g.tp = g.ep_style ? 1.0 : g.inner;
  return g;
}

// Expected faults of one kind over `count` components: with repair a
// component fails about duration / MTBF times; without, at most once.
double expected_faults(double count, double mtbf_h, double duration_s, bool repaired) {
  if (!(mtbf_h > 0.0) || count <= 0.0) return 0.0;
  const double r = duration_s / (mtbf_h * 3600.0);
  return count * (repaired ? r : -std::expm1(-r));
}

// Mean tokens of a length distribution (a lognormal is clamped to [min, max]:
// its mean, bounded by them).
double mean_length(const spec::LengthDist& d) {
  switch (d.kind) {
    case spec::LengthKind::kFixed: return static_cast<double>(d.value);
    case spec::LengthKind::kUniform: return 0.5 * static_cast<double>(d.min + d.max);
    case spec::LengthKind::kLognormal:
      return std::clamp(d.mean, static_cast<double>(d.min), static_cast<double>(d.max));
  }
  return 0.0;
}

}  // namespace

std::string WorkEstimate::summary() const {
  std::string out = "~" + human_count(events) + " events, ~" + human_count(flows) + " flows, ~" +
                    human_bytes(memory_bytes) + " peak memory";
  if (timeline_states > 0.0) {
    out += ", run timeline ~" + human_count(timeline_faults) + " faults, ~" + human_count(timeline_states) +
           " cluster states";
  }
  if (serving_token_steps > 0.0) out += ", serving ~" + human_count(serving_token_steps) + " token-steps";
  return out;
}

WorkEstimate estimate_work(const spec::ScenarioSpec& s) {
  WorkEstimate e;
  const spec::ModelSpec& mo = s.model;
  const spec::WorkloadSpec& w = s.workload;
  const bool training = w.kind == spec::WorkloadKind::kTraining;
  const double passes = training ? (w.recompute ? 3.0 : 2.0) : 1.0;
  const double steps = std::max(1, w.iterations);
  const double q = w.kind == spec::WorkloadKind::kDecode ? 1.0 : std::max(1, w.context_length);
  const double tokens = static_cast<double>(w.batch) * q;
  int moe_layers = 0;
  for (int layer = 0; layer < mo.num_layers; ++layer) moe_layers += models::is_moe_layer(mo, layer) ? 1 : 0;
  const double lmoe = moe_layers;
  const double k = mo.num_experts > 0 ? std::max(1, mo.top_k) : 0.0;

  const int topo_gpus = static_cast<int>(std::count_if(s.topology.vertices.begin(), s.topology.vertices.end(),
                                                       [](const spec::VertexSpec& v) { return v.kind == spec::VertexKind::kGpu; }));
  std::vector<char> sends(static_cast<std::size_t>(std::max(0, topo_gpus)), 0);
  const auto mark = [&](int rank) {
    if (rank >= 0 && rank < topo_gpus) sends[static_cast<std::size_t>(rank)] = 1;
  };

  double program_bytes = 0.0;
  double routing_bytes = 0.0;
  double steady_events = 0.0;
  for (const spec::LayoutSpec& l : s.layouts) {
    const Shape g = shape_of(s, l);
    LayoutWorkEstimate le;
    le.name = l.name;
    const double ls = std::ceil(static_cast<double>(mo.num_layers) / std::max(1.0, g.pp));
    const double lmoe_stage = std::ceil(lmoe / std::max(1.0, g.pp));
    const double units = steps * g.micro_batches * ls * g.gpus * passes;
    const double exchange = k > 0 ? steps * g.micro_batches * lmoe_stage * g.pairs * 2.0 * (training ? 2.0 : 1.0) : 0.0;
    const double collective = g.tp > 1 ? units * 0.5 : 0.0;
    le.flows = exchange + collective;
    le.events = kEventsPerUnit * units + kEventsPerFlow * le.flows;
    le.routing_draws = k > 0 ? steps * lmoe * tokens * k : 0.0;
    const double matrices = k > 0 ? steps * g.micro_batches * lmoe_stage * g.matrix * 2.0 * (training ? 2.0 : 1.0) : 0.0;
    le.program_bytes = kBytesPerEvent * le.events + 8.0 * matrices;
    le.routing_bytes = k > 0 ? (lmoe + 1.0) * tokens * k * 4.0 + steps * lmoe * mo.num_experts * 24.0 : 0.0;
    if (l.kind == spec::LayoutKind::kMaSeparation) {
      for (int r : l.ma.attention_gpus) mark(r);
      for (int r : l.ma.expert_gpus) mark(r);
    } else if (!l.gpus.empty()) {
      for (int r : l.gpus) mark(r);
    } else {
      for (int r = 0; r < std::min(g.gpus, topo_gpus); ++r) mark(r);
    }
    le.source_gpus = g.gpus;
    steady_events += le.events;
    e.events += le.events + le.routing_draws;
    e.flows += le.flows;
    program_bytes += le.program_bytes;
    routing_bytes = std::max(routing_bytes, le.routing_bytes);
    e.layouts.push_back(std::move(le));
  }

  const double vertices = static_cast<double>(s.topology.vertices.size());
  const double links = static_cast<double>(s.topology.links.size());
  const double sources = static_cast<double>(std::count(sends.begin(), sends.end(), 1));
  const double one_topology = kBytesPerElement * (vertices + links);
  const double tables = sources * (kDagBytesPerVertex * vertices + kDagBytesPerLink * 2.0 * links);
  e.topology_bytes = one_topology + tables;
  e.echo_bytes = kEchoBytesPerElement * (vertices + links);

  if (s.timeline) {
    const spec::TimelineSpec& t = *s.timeline;
    const spec::RandomFaultSpec& r = t.random;
    double nics = 0.0, switches = 0.0;
    for (const spec::VertexSpec& v : s.topology.vertices) {
      if (v.kind == spec::VertexKind::kNic) nics += 1.0;
      if (v.kind != spec::VertexKind::kGpu && v.kind != spec::VertexKind::kNic && v.kind != spec::VertexKind::kCpu) {
        switches += 1.0;
      }
    }
    double drawn = 0.0, network_faults = 0.0;
    if (r.enabled) {
      const bool repaired = r.repair_after_s >= 0.0;
      drawn += expected_faults(topo_gpus, r.gpu_mtbf_h, t.duration_s, repaired);
      drawn += expected_faults(topo_gpus, r.hbm_mtbf_h, t.duration_s, repaired);
      const double net = expected_faults(nics, r.nic_mtbf_h, t.duration_s, repaired) +
                         expected_faults(switches, r.switch_mtbf_h, t.duration_s, repaired) +
                         expected_faults(links, r.cable_mtbf_h, t.duration_s, repaired);
      drawn += net;
      network_faults += net;
    }
    for (const spec::FaultSpec& f : t.faults) {
      if (f.kind == spec::FaultKind::kLinkDown || f.kind == spec::FaultKind::kLinkDegraded ||
          f.kind == spec::FaultKind::kNicDown || f.kind == spec::FaultKind::kSwitchDown) {
        network_faults += 1.0;
      }
    }
    e.timeline_faults = static_cast<double>(t.faults.size()) + drawn;
    // A fault and its repair each change the cluster state; every layout is
    // re-planned and re-simulated in each state it meets (a steady run and a
    // prefill), and each fault analysis trial is one more simulation.
    e.timeline_states = 1.0 + 2.0 * e.timeline_faults;
    const double analyses = static_cast<double>(t.analyses.max_failures) * std::max(1, t.analyses.trials) * 2.0;
    e.timeline_simulations = (2.0 * e.timeline_states + analyses) * static_cast<double>(s.layouts.size());
    e.timeline_events = (2.0 * e.timeline_states + analyses) * steady_events;
    e.events += e.timeline_events;
    // Each network state gets its own copy of the topology and its tables.
    e.timeline_bytes = std::min(e.timeline_states, 1.0 + 2.0 * network_faults) * e.topology_bytes +
                     e.timeline_states * static_cast<double>(s.layouts.size()) * 4096.0;
  }
  if (s.serving) {
    const spec::ServingSpec& sv = *s.serving;
    double requests = 0.0, prompt = 0.0, output = 0.0;
    if (sv.arrivals == spec::ArrivalKind::kTrace) {
      requests = static_cast<double>(sv.trace.size());
      for (const spec::TraceRequest& r : sv.trace) {
        prompt += static_cast<double>(r.prompt_tokens);
        output += static_cast<double>(r.output_tokens);
      }
      prompt /= std::max(1.0, requests);
      output /= std::max(1.0, requests);
    } else {
      requests = static_cast<double>(sv.requests);
      prompt = mean_length(sv.prompt);
      output = mean_length(sv.output);
    }
    // A sequence is stepped once per output token, and its prompt once
    // (without chunked prefill) or once per chunk of the token budget.
    const double prefill_steps =
        sv.chunked_prefill ? std::ceil(prompt / static_cast<double>(std::max<std::int64_t>(1, sv.max_batched_tokens))) : 1.0;
    const double rates = 1.0 + static_cast<double>(sv.rate_sweep.size());
    const double layouts = static_cast<double>(s.layouts.size());
    e.serving_token_steps = layouts * rates * requests * (output + prefill_steps);
    // The step-cost grid (sim/serving/step_cost.hpp): batches 1..16 then four
    // per octave to max_num_seqs, contexts two per octave to the context
    // limit, for decode and for prefill; each point simulates one step.
    const double octaves_b = std::max(0.0, std::log2(std::max(1.0, sv.max_num_seqs / 16.0)));
    const double octaves_c = std::max(0.0, std::log2(std::max(16.0, static_cast<double>(w.context_length)) / 16.0));
    const double grid = 2.0 * (16.0 + 4.0 * octaves_b + 1.0) * (2.0 * octaves_c + 2.0);
    for (const LayoutWorkEstimate& l : e.layouts) e.serving_grid_events += grid * l.events / steps;
    e.serving_bytes = (layouts + 1.0) * requests * kBytesPerRequest;
    e.events += e.serving_token_steps + e.serving_grid_events;
  }
  e.memory_bytes = kBaseBytes + e.topology_bytes + e.echo_bytes + program_bytes + routing_bytes + e.timeline_bytes +
                   e.serving_bytes;
  return e;
}

void check_limits(const WorkEstimate& e, const Limits& limits, const std::string& file, io::Diagnostics& diags) {
  // The largest parts, so the author sees which value to change.
  const auto biggest = [&](auto member) -> const LayoutWorkEstimate* {
    const LayoutWorkEstimate* best = nullptr;
    for (const LayoutWorkEstimate& l : e.layouts) {
      if (!best || member(l) > member(*best)) best = &l;
    }
    return best;
  };
  if (!(e.memory_bytes <= limits.max_memory_bytes)) {
    std::string parts;
    double programs = 0.0, routing = 0.0;
    for (const LayoutWorkEstimate& l : e.layouts) {
      programs += l.program_bytes;
      routing = std::max(routing, l.routing_bytes);
    }
    parts += "task programs " + human_bytes(programs);
    if (const LayoutWorkEstimate* b = biggest([](const LayoutWorkEstimate& l) { return l.program_bytes; })) {
      parts += " (most: layout \"" + b->name + "\", " + human_bytes(b->program_bytes) + ")";
    }
    parts += ", routing samples " + human_bytes(routing) + ", topology and routing tables " +
             human_bytes(e.topology_bytes) + ", results.json echo " + human_bytes(e.echo_bytes);
    if (e.timeline_bytes > 0.0) {
      parts += ", run timeline " + human_bytes(e.timeline_bytes) + " (~" + human_count(e.timeline_states) +
               " cluster states)";
    }
    diags.error(file, "",
                "expected a run that fits the memory limit of " + human_bytes(limits.max_memory_bytes) +
                    " (--max-memory), found an estimated peak of " + human_bytes(e.memory_bytes) + ": " + parts +
                    "; make the scenario smaller (iterations, batch, context_length, GPUs)" +
                    (e.memory_bytes <= kMaxSuggestedBytes
                         ? " or raise the limit with --max-memory \"" + suggested_bytes(e.memory_bytes) + "\""
                         : std::string(" (no machine has that much memory)")));
  }
  if (!(e.events <= limits.max_events)) {
    std::string parts;
    if (const LayoutWorkEstimate* b = biggest([](const LayoutWorkEstimate& l) { return l.events + l.routing_draws; })) {
      parts += "most in layout \"" + b->name + "\": " + human_count(b->events) + " engine events, " +
               human_count(b->routing_draws) + " token-expert routing draws";
    }
    if (e.timeline_events > 0.0) {
      parts += "; run timeline " + human_count(e.timeline_events) + " events over ~" + human_count(e.timeline_states) +
               " cluster states (" + human_count(e.timeline_faults) + " faults)";
    }
    if (e.serving_token_steps > 0.0) {
      parts += "; serving " + human_count(e.serving_token_steps) + " token-steps (requests x tokens x layouts x rates) and " +
               human_count(e.serving_grid_events) + " events of step-cost simulations";
    }
    diags.error(file, "",
                "expected a run within the work limit of " + human_count(limits.max_events) +
                    " events (--max-events), found an estimate of " + human_count(e.events) + " (" + parts +
                    "); make the scenario smaller" +
                    (e.events <= kMaxSuggestedEvents
                         ? " or raise the limit with --max-events " + human_count(std::ceil(e.events * 1.25))
                         : std::string(" (that is years of one core)")));
  }
}

}  // namespace masim::frontend
