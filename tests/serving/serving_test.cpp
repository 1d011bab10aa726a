// Request-level serving (sim/serving): hand-checked schedules on one replica
// with hand-set step costs, an M/D/1 queue against the Pollaczek-Khinchine
// formula, Little's law and conservation on every run, preemption, rejection,
// the bucketing error of real step costs, and determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/serving/results.hpp"
#include "sim/serving/simulator.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using nlohmann::json;

namespace {

const std::string kDir = std::string(MASIM_SOURCE_DIR) + "/scenarios/serving/";

json base_doc() {
  std::ifstream in(kDir + "seed_serving.json");
  json j = json::parse(in);
  j["workload"]["iterations"] = 2;
  j["serving"].erase("rate_sweep");
  return j;
}

spec::ScenarioSpec parse(const json& doc) {
  io::Diagnostics d;
  auto s = frontend::parse_scenario(doc, kDir + "test.json", d);
  INFO(d.format_lines());
  REQUIRE(s.has_value());
  return *s;
}

// decode: a + b * batch; prefill: c + e * tokens; a KV pool of `kv` tokens.
class HandCosts final : public serving::StepCostModel {
 public:
  HandCosts(double a, double b, double c, double e, std::int64_t kv) : a_(a), b_(b), c_(c), e_(e), kv_(kv) {}
  bool ok() const override { return true; }
  const std::string& error() const override { return err_; }
  double decode_s(std::int64_t batch, double) override { return a_ + b_ * static_cast<double>(batch); }
  double prefill_s(std::int64_t prompts, double len) override { return c_ + e_ * static_cast<double>(prompts) * len; }
  double decode_exact_s(std::int64_t batch, std::int64_t ctx) override { return decode_s(batch, static_cast<double>(ctx)); }
  double prefill_exact_s(std::int64_t n, std::int64_t len) override { return prefill_s(n, static_cast<double>(len)); }
  std::int64_t kv_capacity_tokens() const override { return kv_; }
  double swap_s_per_token() const override { return 1e-6; }
  double kv_transfer_s(std::int64_t tokens) const override { return 1e-5 * static_cast<double>(tokens); }
  std::size_t simulations() const override { return 0; }

 private:
  double a_, b_, c_, e_;
  std::int64_t kv_;
  std::string err_;
};

// One replica (the TP=8 layout without dp) and the given scheduler.
spec::ScenarioSpec one_replica(bool chunked, std::int64_t budget = 8192, int max_seqs = 256) {
  json doc = base_doc();
  json l = doc["layouts"][0];
  l.erase("dp");
  doc["layouts"] = json::array({l});
  doc["serving"]["scheduler"] = {{"chunked_prefill", chunked}, {"max_batched_tokens", budget},
                                 {"max_num_seqs", max_seqs}};
  return parse(doc);
}

void check_conservation(const serving::ServingLayout& r) {
  CHECK(r.arrived == static_cast<std::int64_t>(r.requests.size()));
  CHECK(r.completed + r.rejected + r.in_flight == r.arrived);
  std::int64_t generated = 0;
  for (const auto& q : r.requests) {
    generated += q.generated;
    if (q.status == serving::RequestStatus::kCompleted) CHECK(q.generated == q.output);
    if (q.status == serving::RequestStatus::kRejected) CHECK(!q.reason.empty());
  }
  CHECK(generated == r.output_tokens);
  // Little's law: the time integral of requests in system against the per-request sum.
  CHECK(std::abs(r.little_rel_error()) < 1e-9);
}

}  // namespace

TEST_CASE("two requests on one replica, no chunking: the schedule by hand") {
  const spec::ScenarioSpec s = one_replica(false);
  HandCosts c(0.010, 0.0, 0.020, 0.0, 1 << 20);   // decode 10 ms, prefill 20 ms, any batch
  const std::vector<serving::Request> rq = {{0, 0.0, 100, 3}, {1, 0.005, 100, 2}};
  const serving::ServingLayout r = serving::serve(s, 0, c, rq);
  REQUIRE(r.requests.size() == 2);
  // r0: prefill [0, 20 ms] -> first token; r1 waits for it, prefills [20, 40 ms];
  // then both decode [40, 50 ms] (r1 done) and r0 alone [50, 60 ms].
  const auto& a = r.requests[0];
  const auto& b = r.requests[1];
  CHECK(a.ttft_s() == doctest::Approx(0.020));
  CHECK(a.e2e_s() == doctest::Approx(0.060));
  CHECK(a.tpot_s() == doctest::Approx(0.020));
  CHECK(b.queue_s() == doctest::Approx(0.015));
  CHECK(b.ttft_s() == doctest::Approx(0.035));
  CHECK(b.e2e_s() == doctest::Approx(0.045));
  CHECK(b.tpot_s() == doctest::Approx(0.010));
  CHECK(r.steps == 4);
  CHECK(r.end_s == doctest::Approx(0.060));
  // L = (60 + 45 ms) / 60 ms = 1.75 requests in system.
  CHECK(r.little_L == doctest::Approx(1.75));
  check_conservation(r);
}

TEST_CASE("chunked prefill splits a prompt at the token budget and mixes decodes in") {
  const spec::ScenarioSpec s = one_replica(true, 64);
  HandCosts c(0.010, 0.0, 0.0, 1e-4, 1 << 20);    // decode 10 ms; prefill 0.1 ms per token
  const std::vector<serving::Request> rq = {{0, 0.0, 100, 2}};
  const serving::ServingLayout r = serving::serve(s, 0, c, rq);
  // Chunks of 64 (6.4 ms) and 36 (3.6 ms) tokens, then one decode step (10 ms).
  CHECK(r.requests[0].ttft_s() == doctest::Approx(0.010));
  CHECK(r.requests[0].e2e_s() == doctest::Approx(0.020));
  CHECK(r.steps == 3);
  // A second request arriving while the first decodes shares the step: 10 ms + its chunk.
  const std::vector<serving::Request> rq2 = {{0, 0.0, 100, 3}, {1, 0.0101, 50, 1}};
  const serving::ServingLayout r2 = serving::serve(s, 0, c, rq2);
  // r0: chunks end at 6.4 and 10 ms; decode [10, 20]; r1 arrives at 10.1 ms and joins
  // r0's next step [20, 35 ms] (decode 10 ms + 50-token chunk 5 ms): both finish at 35 ms.
  CHECK(r2.requests[1].ttft_s() == doctest::Approx(0.035 - 0.0101));
  CHECK(r2.requests[0].e2e_s() == doctest::Approx(0.035));
  check_conservation(r2);
}

TEST_CASE("M/D/1: one sequence at a time, one-token outputs, Poisson arrivals match Pollaczek-Khinchine") {
  json doc = base_doc();
  json l = doc["layouts"][0];
  l.erase("dp");
  doc["layouts"] = json::array({l});
  const double D = 0.010, rho = 0.7;
  doc["serving"]["arrivals"] = {{"kind", "poisson"}, {"rate", rho / D}, {"requests", 40000}, {"seed", 11}};
  doc["serving"]["prompt_tokens"] = 64;
  doc["serving"]["output_tokens"] = 1;
  doc["serving"]["scheduler"] = {{"max_num_seqs", 1}};
  const spec::ScenarioSpec s = parse(doc);
  HandCosts c(0.0, 0.0, D, 0.0, 1 << 20);
  const std::vector<serving::Request> rq = serving::make_requests(*s.serving);
  const serving::ServingLayout r = serving::serve(s, 0, c, rq);
  // Mean wait in queue: rho D / (2 (1 - rho)) = 11.67 ms; 40,000 arrivals bound the
  // sampling error to a few percent (successive waits are correlated).
  const double wq = rho * D / (2.0 * (1.0 - rho));
  CHECK(r.queue.mean == doctest::Approx(wq).epsilon(0.06));
  CHECK(r.ttft.mean == doctest::Approx(wq + D).epsilon(0.05));
  check_conservation(r);
}

TEST_CASE("a full KV cache preempts the newest request; recompute and swap both finish every request") {
  for (const char* mode : {"recompute", "swap"}) {
    CAPTURE(mode);
    json doc = base_doc();
    json l = doc["layouts"][0];
    l.erase("dp");
    doc["layouts"] = json::array({l});
    doc["serving"]["scheduler"] = {{"preemption", mode}, {"block_size", 16}};
    const spec::ScenarioSpec s = parse(doc);
    HandCosts c(0.010, 0.0, 0.020, 0.0, 64);   // four blocks of 16 tokens
    const std::vector<serving::Request> rq = {{0, 0.0, 16, 40}, {1, 0.0, 16, 40}};
    const serving::ServingLayout r = serving::serve(s, 0, c, rq);
    CHECK(r.completed == 2);
    CHECK(r.preemptions >= 1);
    CHECK(r.requests[1].preemptions >= 1);   // the newest goes first
    CHECK(r.requests[0].preemptions == 0);
    CHECK(r.peak_kv_occupancy <= 1.0);
    if (std::string(mode) == "recompute") {
      CHECK(r.recomputed_tokens > 0);
    } else {
      CHECK(r.swap_s > 0.0);
      CHECK(r.recomputed_tokens == 0);
    }
    check_conservation(r);
    // Both together would need 2 x 56 tokens > 64: they cannot finish at the same time.
    CHECK(r.requests[0].finish_s < r.requests[1].finish_s);
  }
}

TEST_CASE("requests beyond the context limit or the KV cache are rejected with the reason") {
  const spec::ScenarioSpec s = one_replica(false);
  HandCosts c(0.010, 0.0, 0.020, 0.0, 1000);
  const std::int64_t L = s.workload.context_length;
  const std::vector<serving::Request> rq = {{0, 0.0, L, 1}, {1, 0.0, 100, 10}, {2, 0.1, 900, 200}};
  const serving::ServingLayout r = serving::serve(s, 0, c, rq);
  CHECK(r.rejected == 2);
  CHECK(r.completed == 1);
  CHECK(r.requests[0].reason.find("context limit") != std::string::npos);
  CHECK(r.requests[2].reason.find("KV blocks") != std::string::npos);
  check_conservation(r);
}

TEST_CASE("least-loaded routing balances replicas; round-robin alternates") {
  json doc = base_doc();
  doc["layouts"] = json::array({doc["layouts"][0]});   // TP=8, dp=2
  for (const char* router : {"round_robin", "least_loaded"}) {
    doc["serving"]["router"] = router;
    const spec::ScenarioSpec s = parse(doc);
    HandCosts c(0.010, 0.0, 0.020, 0.0, 1 << 20);
    std::vector<serving::Request> rq;
    for (int i = 0; i < 8; ++i) rq.push_back({i, 0.001 * i, 100, 5});
    const serving::ServingLayout r = serving::serve(s, 0, c, rq);
    CHECK(r.replicas == 2);
    int on0 = 0;
    for (const auto& q : r.requests) on0 += q.replica == 0 ? 1 : 0;
    CHECK(on0 == 4);
    check_conservation(r);
  }
}

TEST_CASE("real step costs: every layout conserves requests, the bucketing error is small, runs are deterministic") {
  json doc = base_doc();
  doc["serving"]["arrivals"]["requests"] = 300;
  doc["serving"]["arrivals"]["rate"] = 100;
  const spec::ScenarioSpec s = parse(doc);
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  const serving::ServingResult a = serving::run_serving(s, *topo, roof);
  REQUIRE(a.layouts.size() == s.layouts.size());
  for (const auto& l : a.layouts) {
    CAPTURE(l.name);
    CHECK(l.ok);
    CHECK(l.completed == 300);
    check_conservation(l);
    REQUIRE(!l.cost_checks.empty());
    for (const auto& c : l.cost_checks) {
      CAPTURE(c.phase);
      CAPTURE(c.batch);
      CAPTURE(c.length);
      // Linear interpolation between grid points, with two routing samples per
      // point: within 10% of a direct simulation (docs/METRICS.md, "Serving").
      CHECK(std::abs(c.rel_error()) < 0.10);
    }
    // Steps at load are batched: more than one sequence per decode step on average.
    CHECK(l.mean_batch > 1.0);
  }
  const serving::ServingResult b = serving::run_serving(s, *topo, roof);
  CHECK(serving::to_json(a, *s.serving).dump() == serving::to_json(b, *s.serving).dump());
}

TEST_CASE("prefill/decode disaggregation: first token from the prefill pool, the rest after the KV transfer") {
  json doc = base_doc();
  json l = doc["layouts"][1];   // PP=2, dp 8
  l["disaggregation"] = {{"prefill_replicas", 2}};
  doc["layouts"] = json::array({l});
  const spec::ScenarioSpec s = parse(doc);
  REQUIRE(s.layouts[0].prefill_replicas == 2);
  HandCosts c(0.010, 0.0, 0.020, 0.0, 1 << 20);
  // One request: prefill [0, 20 ms] on replica 0 -> first token; 100 prompt + 1
  // token of KV cache shipped in 1e-5 s per token = 1.01 ms; decode steps of
  // 10 ms on a decode replica for the other two tokens.
  const std::vector<serving::Request> rq = {{0, 0.0, 100, 3}};
  const serving::ServingLayout r = serving::serve(s, 0, c, rq);
  CHECK(r.prefill_replicas == 2);
  CHECK(r.kv_transfers == 1);
  CHECK(r.requests[0].ttft_s() == doctest::Approx(0.020));
  CHECK(r.requests[0].e2e_s() == doctest::Approx(0.020 + 0.00101 + 0.020));
  CHECK(r.requests[0].replica >= 2);
  check_conservation(r);
  // Many requests: prefills run only on replicas 0-1, decodes only on 2-7.
  std::vector<serving::Request> many;
  for (int i = 0; i < 64; ++i) many.push_back({i, 0.002 * i, 200, 8});
  const serving::ServingLayout m = serving::serve(s, 0, c, many);
  CHECK(m.completed == 64);
  CHECK(m.kv_transfers == 64);
  for (const auto& q : m.requests) CHECK(q.replica >= 2);
  check_conservation(m);
  // Real costs: the transfer goes through the flow model between the pools' GPUs.
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  auto costs = serving::make_step_costs(s, 0, *topo, roof);
  CHECK(costs->kv_transfer_s(1000) > 0.0);
  CHECK(costs->kv_transfer_s(2000) > costs->kv_transfer_s(1000));
}

TEST_CASE("disaggregation needs more replicas than the prefill pool, and a grid layout") {
  json doc = base_doc();
  json bad = doc["layouts"][0];   // TP=8, dp 2
  bad["disaggregation"] = {{"prefill_replicas", 2}};
  json ma = doc["layouts"][3];
  ma["disaggregation"] = {{"prefill_replicas", 1}};
  doc["layouts"] = json::array({bad, ma});
  io::Diagnostics d;
  CHECK(!frontend::parse_scenario(doc, kDir + "test.json", d).has_value());
  const std::string out = d.format_lines();
  CHECK(out.find("/layouts/0/disaggregation/prefill_replicas: expected fewer prefill replicas than the layout's dp = 2") !=
        std::string::npos);
  CHECK(out.find("/layouts/1/disaggregation: does not apply to a layout of kind \"ma_separation\"") != std::string::npos);
}

TEST_CASE("a chunked mixed step is one forward pass: below the two-pass sum, at least each part, and the roofline by hand") {
  // One dense layer of a wide model on one A100 under the roofline (no
  // profile): a step of T = B + nL tokens is GEMM-dominated, so its time is
  // the sum over the layer's GEMMs and the LM head of
  // max(2mnk / (peak · matmul_eff), 2(mk + kn + mn) / (HBM · memory_eff)) + launch,
  // computed here from the model's shapes alone.
  json doc = base_doc();
  doc.erase("profile");
  doc["model"] = {{"name", "dense-wide-1l"}, {"num_layers", 1}, {"hidden_size", 8192}, {"num_heads", 64},
                  {"num_kv_heads", 8}, {"head_dim", 128}, {"num_experts", 0}, {"dense_ffn_size", 32768},
                  {"vocab_size", 32000}, {"dtype", "bf16"}};
  doc["workload"].erase("routing");
  doc["layouts"] = json::array({{{"name", "one GPU"}, {"kind", "tp"}, {"tp", 1}}});
  const spec::ScenarioSpec s = parse(doc);
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  auto costs = serving::make_step_costs(s, 0, *topo, roof);
  REQUIRE(costs->ok());
  const spec::GpuSpec& g = s.hardware.gpu;
  const double peak = g.peak_flops.at(spec::DType::kBF16).per_s() * g.matmul_efficiency;
  const double bw = g.hbm_bandwidth.bytes_per_s() * g.memory_efficiency;
  const double launch = g.kernel_launch_overhead.seconds();
  auto gemm = [&](double m, double n, double k) {
    return std::max(2.0 * m * n * k / peak, 2.0 * (m * k + k * n + m * n) / bw) + launch;
  };
  auto by_hand = [&](double tokens, double logits) {
    const double h = 8192, qkv = (64 + 2 * 8) * 128.0, ffn = 32768;
    return gemm(tokens, qkv, h) + gemm(tokens, h, 64 * 128.0) + gemm(tokens, 2 * ffn, h) + gemm(tokens, h, ffn) +
           gemm(logits, 32000, h);
  };
  struct Case {
    std::int64_t batch, prompts;
    double length;
  };
  // Compute-bound (T = 2048) and weight-bound (T = 64) mixes.
  for (const Case c : {Case{8, 8, 255.0}, Case{32, 1, 32.0}}) {
    CAPTURE(c.batch);
    const double dec = costs->decode_s(c.batch, 64.0);
    const double pre = costs->prefill_s(c.prompts, c.length);
    const double one = costs->mixed_s(c.batch, 64.0, c.prompts, c.length);
    const double hand = by_hand(static_cast<double>(c.batch) + static_cast<double>(c.prompts) * c.length,
                                static_cast<double>(c.batch + c.prompts));
    CHECK(one < dec + pre);
    CHECK(one >= std::max(dec, pre));
    // The GEMMs are all but a few percent of the step (norms, SwiGLU, attention over short contexts).
    CHECK(one / hand == doctest::Approx(1.0).epsilon(0.05));
    // Two passes read the weights twice: the sum is clearly above the hand figure.
    CHECK((dec + pre) / hand > 1.05);
  }
}

TEST_CASE("serving under a fault, by hand: the step in flight lost, the queue moved at detection, capacity back at recovery") {
  // Two replicas, round robin, one-token requests (a prefill of 20 ms each)
  // arriving every 50 ms: replica 0 takes the even ones and idles between them.
  json doc = base_doc();
  doc["serving"]["router"] = "round_robin";
  const spec::ScenarioSpec s = parse(doc);
  HandCosts c(0.010, 0.0, 0.020, 0.0, 1 << 20);
  std::vector<serving::Request> rq;
  for (int k = 0; k < 40; ++k) rq.push_back({k, 0.05 * k, 100, 1});
  // Replica 0 fails at 0.51 s (request 10, arrived at 0.50 s, is mid-prefill),
  // the failure is detected at 0.805 s, the replica serves again at 1.205 s.
  serving::FaultSchedule f;
  f.incidents.push_back({0.51, "GPU 3 fails", "replica 0", "spare"});
  f.states.push_back({0.51, 0, false, 1.0, 1.0, 0, 0.805});
  f.states.push_back({1.205, 0, true, 1.0, 0.0, -1, 1.205});
  serving::ServeOptions o;
  o.faults = &f;
  const serving::ServingLayout r = serving::serve(s, 0, c, rq, o);
  check_conservation(r);
  CHECK(r.completed == 40);
  REQUIRE(r.incidents.size() == 1);
  const serving::IncidentEffect& e = r.incidents[0];
  CHECK(e.affected == 1);               // request 10
  CHECK(e.reprefilled == 1);
  CHECK(e.tokens_lost_in_flight == 100);
  CHECK(e.tokens_recomputed == 0);      // its prefill had not finished
  // Before detection the router still sends 12 (0.60 s), 14 and 16 (0.80 s) to
  // replica 0; at 0.805 s all four move to replica 1, which is idle (odd
  // requests take 20 ms every 100 ms) and prefills them together in one step.
  CHECK(e.rerouted == 4);
  for (int k : {10, 12, 14, 16}) {
    CAPTURE(k);
    CHECK(r.requests[static_cast<std::size_t>(k)].replica == 1);
    CHECK(r.requests[static_cast<std::size_t>(k)].finish_s == doctest::Approx(0.825));
  }
  CHECK(r.requests[10].ttft_s() == doctest::Approx(0.325));
  // Every request after detection and before recovery goes to replica 1;
  // after 1.205 s replica 0 takes traffic again.
  CHECK(e.end_s == doctest::Approx(1.205));
  bool back = false;
  for (const auto& q : r.requests) {
    if (q.arrival_s > 0.805 && q.arrival_s < 1.205) CHECK(q.replica == 1);
    if (q.arrival_s > 1.205 && q.replica == 0) back = true;
  }
  CHECK(back);
  // Requests untouched by the outage were served at once (20 ms).
  CHECK(r.requests[2].ttft_s() == doctest::Approx(0.020));
  CHECK(r.requests_during >= 4);
  CHECK(r.ttft_during.max == doctest::Approx(0.325));
}

TEST_CASE("serving under random faults: every request counted on every layout, Little's law, deterministic") {
  for (int seed : {1, 3}) {
    CAPTURE(seed);
    json doc = base_doc();
    // TP=8 (two replicas), MA Separation (one domain), PP=2 disaggregated (two pools).
    doc["layouts"] = json::array({doc["layouts"][0], doc["layouts"][3], doc["layouts"][5]});
    doc["serving"]["arrivals"]["requests"] = 300;
    doc["serving"]["arrivals"]["rate"] = 20;
    doc["serving"]["on_failure"] = seed == 3 ? "reject" : "requeue";
    doc["timeline"] = {{"duration", "20 s"},
                       {"random", {{"seed", seed}, {"gpu_mtbf", "2 min"}, {"repair_after", "6 s"}}},
                       {"recovery", {{"heartbeat_interval", "1 s"}, {"graph_recapture", "1 s"}}}};
    const spec::ScenarioSpec s = parse(doc);
    io::Diagnostics d;
    auto topo = topology::Topology::build(s.topology, s.file, d);
    REQUIRE(topo.has_value());
    models::RooflineCostModel roof(s.hardware.gpu);
    const serving::ServingResult a = serving::run_serving(s, *topo, roof);
    std::int64_t incidents = 0;
    for (const auto& l : a.layouts) {
      CAPTURE(l.name);
      check_conservation(l);
      incidents += static_cast<std::int64_t>(l.incidents.size());
      for (const auto& e : l.incidents) {
        CHECK(e.reprefilled + e.rejected + e.stalled <= e.affected);
        if (seed != 3) CHECK(e.rejected == 0);
      }
      CHECK(l.requests_during + l.requests_outside == l.completed);
    }
    CHECK(incidents > 0);
    if (seed == 1) {
      const serving::ServingResult b = serving::run_serving(s, *topo, roof);
      CHECK(serving::to_json(a, *s.serving).dump() == serving::to_json(b, *s.serving).dump());
    }
  }
}
