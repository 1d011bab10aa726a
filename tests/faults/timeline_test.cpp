// The run timeline (sim/faults): conservation of sequences under random faults,
// hand-checked recovery sequences, stragglers, degraded links, training
// checkpoints, the random-fault sampler and determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "sim/faults/cluster.hpp"
#include "sim/faults/timeline.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "tests/test_time.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;
using nlohmann::json;

namespace {

const std::string kDir = std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/";

json base_doc(const char* file = "faults.json") {
  std::ifstream in(kDir + file);
  json j = json::parse(in);
  j["workload"]["iterations"] = 2;
  if (j.contains("timeline")) j["timeline"].erase("analyses");  // tested on their own below
  return j;
}

json layout(const json& doc, const std::string& name) {
  for (const json& l : doc["layouts"]) {
    if (l["name"] == name) return l;
  }
  FAIL("no layout " << name);
  return {};
}

struct Run {
  spec::ScenarioSpec s;
  faults::TimelineResult t;
};

Run run(const json& doc) {
  io::Diagnostics d;
  auto s = frontend::parse_scenario(doc, kDir + "test.json", d);
  INFO(d.format_lines());
  REQUIRE(s.has_value());
  auto topo = topology::Topology::build(s->topology, s->file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s->hardware.gpu);
  Run r{*s, faults::run_timeline(*s, *topo, roof)};
  return r;
}

// Segments tile [0, duration]; cohorts sum to the batch in every one; the
// integral of throughput is tokens_generated.
void check_accounting(const faults::LayoutTimeline& l, double duration) {
  CAPTURE(l.name);
  REQUIRE(!l.segments.empty());
  CHECK(l.segments.front().start_s == 0.0);
  CHECK(l.segments.back().end_s == doctest::Approx(duration));
  double tokens = 0.0;
  for (std::size_t i = 0; i < l.segments.size(); ++i) {
    const faults::Segment& s = l.segments[i];
    CAPTURE(s.start_s);
    CHECK(s.end_s >= s.start_s);
    if (i > 0) CHECK(s.start_s == l.segments[i - 1].end_s);
    CHECK(s.cohorts.total() == l.sequences);
    CHECK(s.cohorts.running >= 0);
    CHECK(s.cohorts.waiting >= 0);
    CHECK(s.tokens_per_s >= 0.0);
    tokens += s.tokens_per_s * (s.end_s - s.start_s);
  }
  CHECK(tokens == doctest::Approx(l.tokens_generated).epsilon(1e-9));
  CHECK(l.goodput <= 1.0 + 1e-9);
  CHECK(l.min_cohort_total == l.sequences);
  CHECK(l.max_cohort_total == l.sequences);
}

}  // namespace

TEST_CASE("conservation: every sequence is accounted for in every segment, under random faults") {
  for (std::uint64_t seed : testing::breadth({1ULL, 2ULL, 3ULL, 4ULL})) {
    json doc = base_doc();
    // Frequent faults of every class, most repaired: many overlapping recoveries.
    doc["timeline"]["faults"] = json::array();
    doc["timeline"]["random"] = {{"seed", seed},          {"gpu_mtbf", "4 h"},   {"hbm_mtbf", "8 h"},
                                 {"nic_mtbf", "6 h"},      {"switch_mtbf", "40 h"}, {"cable_mtbf", "100 h"},
                                 {"repair_after", "15 min"}};
    doc["timeline"]["recovery"] = {{"spare_gpus", json::array()}};
    const Run r = run(doc);
    CAPTURE(seed);
    CHECK(r.t.faults.size() > 3);
    for (const faults::LayoutTimeline& l : r.t.layouts) check_accounting(l, r.t.duration_s);
  }
}

TEST_CASE("stress: days of random GPU faults with repairs; spares, standbys and restores never collide") {
  // Found a GPU handed out as a spare while a restored plan used it again.
  for (std::uint64_t seed : testing::breadth({5ULL, 6ULL, 7ULL})) {
    json doc = base_doc();
    doc["layouts"] = json::array({layout(doc, "MA Separation, 2x attention"), layout(doc, "TP=8")});
    doc["timeline"] = {{"duration", "3 d"},
                       {"random", {{"seed", seed}, {"gpu_mtbf", "40 h"}, {"nic_mtbf", "200 h"}, {"repair_after", "2 h"}}}};
    const Run r = run(doc);
    CAPTURE(seed);
    CHECK(r.t.faults.size() > 10);
    for (const faults::LayoutTimeline& l : r.t.layouts) {
      check_accounting(l, r.t.duration_s);
      CHECK(l.goodput > 0.0);
    }
  }
}

TEST_CASE("regression: the week of random faults that handed out a restored standby as a spare") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "MA Separation, 2x attention")});
  doc["timeline"] = {{"duration", "7 d"}, {"random", {{"seed", 5}, {"gpu_mtbf", "50 h"}, {"repair_after", "2 h"}}}};
  const Run r = run(doc);
  check_accounting(r.t.layouts.at(0), r.t.duration_s);
}

TEST_CASE("MA Separation: an attention GPU fails over to its hot standby in detection + communicator rebuild") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "MA Separation, 2x attention")});
  doc["timeline"]["faults"] = json::array({{{"kind", "gpu"}, {"at", "100 s"}, {"gpu", 1}}});
  doc["timeline"]["recovery"] = {{"heartbeat_interval", "2 s"}, {"heartbeat_misses", 2}, {"comm_rebuild", "0.5 s"}};
  const Run r = run(doc);
  const faults::LayoutTimeline& l = r.t.layouts.at(0);
  check_accounting(l, r.t.duration_s);
  REQUIRE(l.incidents.size() == 1);
  const faults::Incident& i = l.incidents[0];
  CHECK(i.action.find("hot standby") != std::string::npos);
  CHECK(i.recovery_s == doctest::Approx(4.5));           // 2 s x 2 misses + 0.5 s rebuild
  CHECK(i.sequences_reprefilled == 0);                   // the standby's KV cache is current
  CHECK(i.tokens_lost_in_flight == doctest::Approx(384));  // decode: the interrupted step's one token per sequence
  CHECK(l.tokens_lost_in_flight == doctest::Approx(384));
  CHECK(i.tokens_per_s_after == doctest::Approx(i.tokens_per_s_before).epsilon(0.02));
  // Everything stops while the exchange's communicator is broken: MA is one failure domain.
  bool stalled = false;
  for (const faults::Segment& s : l.segments) {
    if (s.start_s >= 100.0 && s.end_s <= 104.5 && s.end_s > s.start_s) stalled = stalled || s.tokens_per_s == 0.0;
  }
  CHECK(stalled);

  // Without a mirrored KV cache the group's sequences re-prefill: longer, and counted.
  doc["timeline"]["recovery"]["standby_kv_mirrored"] = false;
  const Run cold = run(doc);
  const faults::Incident& c = cold.t.layouts.at(0).incidents.at(0);
  CHECK(c.sequences_reprefilled > 0);
  CHECK(c.tokens_recomputed == doctest::Approx(static_cast<double>(c.sequences_reprefilled) * 2048));
  CHECK(c.recovery_s > 4.5);
}

TEST_CASE("MA Separation: an expert GPU's experts are redistributed; the weight reload follows the bandwidth") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "MA Separation")});
  doc["timeline"]["faults"] = json::array({{{"kind", "hbm"}, {"at", "60 s"}, {"gpu", 9}}});
  auto reload_of = [](const faults::Incident& i) {
    for (const auto& s : i.steps) {
      if (s.name == "weight_reload") return s.duration_s;
    }
    return -1.0;
  };
  doc["timeline"]["recovery"] = {{"host_bandwidth", "25 GB/s"}};
  const Run a = run(doc);
  doc["timeline"]["recovery"] = {{"host_bandwidth", "50 GB/s"}};
  const Run b = run(doc);
  const faults::Incident& ia = a.t.layouts.at(0).incidents.at(0);
  const faults::Incident& ib = b.t.layouts.at(0).incidents.at(0);
  CHECK(ia.action.find("redistributed over 7") != std::string::npos);
  CHECK(ia.sequences_reprefilled == 0);  // expert GPUs hold no KV cache
  REQUIRE(reload_of(ia) > 0);
  CHECK(reload_of(ib) == doctest::Approx(reload_of(ia) / 2));
  // 16 experts on 7 GPUs: the busiest holds 3 instead of 2, so throughput drops.
  CHECK(ia.tokens_per_s_after < ia.tokens_per_s_before);
  CHECK(ia.tokens_per_s_after > 0.0);
  check_accounting(a.t.layouts.at(0), a.t.duration_s);
}

TEST_CASE("grid layouts: a replica stops, its sequences move to the others; a dp = 1 layout waits for the repair") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "TP=8"), layout(doc, "TP=8, PP=2")});
  doc["timeline"]["faults"] = json::array({{{"kind", "gpu"}, {"at", "300 s"}, {"gpu", 3}, {"repair_after", "600 s"}}});
  const Run r = run(doc);
  const faults::LayoutTimeline& tp = r.t.layouts.at(0);
  const faults::LayoutTimeline& tppp = r.t.layouts.at(1);
  check_accounting(tp, r.t.duration_s);
  check_accounting(tppp, r.t.duration_s);
  REQUIRE(!tp.incidents.empty());
  CHECK(tp.incidents[0].action.find("shrink") != std::string::npos);
  CHECK(tp.incidents[0].sequences_reprefilled == 192);
  CHECK(tp.incidents[0].tokens_recomputed == doctest::Approx(192.0 * 2048));   // their whole context
  CHECK(tp.incidents[0].tokens_lost_in_flight == doctest::Approx(192));        // one step of the failed replica
  CHECK(tp.incidents[0].tokens_per_s_after > 0.5 * tp.baseline_tokens_per_s);   // one replica serves all 384
  CHECK(tp.incidents[0].tokens_per_s_after < tp.baseline_tokens_per_s);
  // The dp = 1 layout is down from the failure until the repair and its restart.
  REQUIRE(!tppp.incidents.empty());
  const faults::Incident& w = tppp.incidents[0];
  CHECK(w.action.find("wait") != std::string::npos);
  CHECK(w.recovery_s > 600.0);
  CHECK(w.full_capacity_s == doctest::Approx(w.recovery_s));
  CHECK(tppp.goodput < 1.0 - 600.0 / r.t.duration_s + 1e-6);
  // After the repair both are back at their baseline.
  CHECK(tp.segments.back().tokens_per_s == doctest::Approx(tp.baseline_tokens_per_s).epsilon(1e-6));
  CHECK(tppp.segments.back().tokens_per_s == doctest::Approx(tppp.baseline_tokens_per_s).epsilon(1e-6));
}

TEST_CASE("EP: a failed rank's experts are redistributed over its replica's survivors; only its sequences re-prefill") {
  json doc = base_doc();
  doc["layouts"] = json::array({{{"name", "EP=8"}, {"kind", "ep"}, {"ep", 8}, {"dp", 2}, {"micro_batches", 2}}});
  doc["timeline"]["faults"] = json::array({{{"kind", "gpu"}, {"at", "60 s"}, {"gpu", 3}, {"repair_after", "10 min"}}});
  const Run r = run(doc);
  const faults::LayoutTimeline& l = r.t.layouts.at(0);
  check_accounting(l, r.t.duration_s);
  REQUIRE(!l.incidents.empty());
  const faults::Incident& i = l.incidents[0];
  CHECK(i.outcome == "redistributed");
  CHECK(i.domain == "replica 0");
  CHECK(i.sequences_reprefilled == 24);   // 384 / 2 replicas / 8 ranks: rank 3's sequences
  CHECK(i.tokens_per_s_after < i.tokens_per_s_before);
  CHECK(i.tokens_per_s_after > 0.5 * i.tokens_per_s_before);   // the other replica is untouched
  // The repair brings the replica back to 8 ranks.
  CHECK(l.segments.back().tokens_per_s == doctest::Approx(l.baseline_tokens_per_s).epsilon(1e-6));
}

TEST_CASE("a spare GPU takes a failed one's place: reload, rebuild, recapture, re-prefill") {
  json doc = base_doc();
  // TP=8 on node 0 only; node 1's GPUs are spares.
  json tp = {{"name", "TP=8"}, {"kind", "tp"}, {"tp", 8}, {"gpus", {0, 1, 2, 3, 4, 5, 6, 7}}};
  doc["layouts"] = json::array({tp});
  doc["workload"]["batch"] = 192;
  doc["timeline"]["faults"] = json::array({{{"kind", "gpu"}, {"at", "60 s"}, {"gpu", 5}}});
  doc["timeline"]["recovery"] = {{"spare_gpus", {8, 9}}, {"weights", "peer"}};
  const Run r = run(doc);
  const faults::LayoutTimeline& l = r.t.layouts.at(0);
  check_accounting(l, r.t.duration_s);
  REQUIRE(l.incidents.size() == 1);
  const faults::Incident& i = l.incidents[0];
  CHECK(i.action.find("5 -> 8") != std::string::npos);
  double sum = 0.0;
  std::vector<std::string> names;
  for (const auto& s : i.steps) {
    sum += s.duration_s;
    names.push_back(s.name);
  }
  CHECK(names == std::vector<std::string>{"detection", "weight_reload", "comm_rebuild", "graph_recapture", "re_prefill"});
  CHECK(i.recovery_s == doctest::Approx(sum));
  // No other replica holds GPU 5's shard: the peer reload falls back to host memory, and says so.
  CHECK(i.steps[1].detail.find("host") != std::string::npos);
  // The spare is on the other node, over the NICs: the new plan is slower than the old.
  CHECK(i.tokens_per_s_after < i.tokens_per_s_before);
}

TEST_CASE("stragglers and degraded links change step times without a recovery") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "TP=8, PP=2"), layout(doc, "MA Separation")});
  doc["timeline"]["faults"] = json::array(
      {{{"kind", "straggler"}, {"at", "100 s"}, {"gpu", 4}, {"factor", 2.0}, {"duration", "200 s"}},
       {{"kind", "link_degraded"}, {"at", "1000 s"}, {"link", {"n0.nic0", "leaf0"}}, {"factor", 0.1}}});
  const Run r = run(doc);
  for (const faults::LayoutTimeline& l : r.t.layouts) {
    CAPTURE(l.name);
    check_accounting(l, r.t.duration_s);
    double during = -1.0, after = -1.0;
    for (const faults::Segment& s : l.segments) {
      if (s.start_s <= 150.0 && s.end_s > 150.0) during = s.tokens_per_s;
      if (s.start_s <= 500.0 && s.end_s > 500.0) after = s.tokens_per_s;
    }
    CHECK(during < l.baseline_tokens_per_s);   // lockstep layouts wait for their slowest GPU
    CHECK(during > 0.0);
    CHECK(after == doctest::Approx(l.baseline_tokens_per_s).epsilon(1e-9));
    for (const faults::Incident& i : l.incidents) CHECK(i.recovery_s == 0.0);
  }
  // The degraded NIC (rail 0 of node 0) carries part of MA's attention->expert exchange.
  const faults::LayoutTimeline& ma = r.t.layouts.at(1);
  CHECK(ma.segments.back().tokens_per_s < ma.baseline_tokens_per_s);
}

TEST_CASE("training restarts from the last checkpoint: the work since it is lost and redone") {
  json doc = base_doc("training.json");
  doc["layouts"] = json::array({doc["layouts"][0]});
  doc["timeline"] = {{"duration", "2 h"},
                     {"faults", json::array({{{"kind", "gpu"}, {"at", "50 min"}, {"gpu", 2}}})},
                     {"recovery", {{"checkpoint_interval", "30 min"}, {"spare_gpus", json::array()}}}};
  // All 16 GPUs are in use: no spare, so the job waits; give it a repair.
  doc["timeline"]["faults"][0]["repair_after"] = "10 min";
  const Run r = run(doc);
  const faults::LayoutTimeline& l = r.t.layouts.at(0);
  check_accounting(l, r.t.duration_s);
  REQUIRE(!l.incidents.empty());
  const faults::Incident& i = l.incidents[0];
  CHECK(i.lost_work_s == doctest::Approx(20 * 60.0));   // 50 min - checkpoint at 30 min
  bool restore = false, redo = false;
  for (const auto& s : i.steps) {
    restore = restore || (s.name == "checkpoint_restore" && s.duration_s > 0);
    redo = redo || (s.name == "recompute_lost_work" && s.duration_s == doctest::Approx(20 * 60.0).epsilon(0.01));
  }
  CHECK(restore);
  CHECK(redo);
  CHECK(i.recovery_s > 10 * 60.0 + 20 * 60.0);
}

TEST_CASE("random faults: the drawn count matches the failure rate") {
  // 16 GPUs, MTBF 10 h, 100 h, never repaired: each GPU fails once with
  // probability 1 - exp(-10); over 20 seeds the mean is 16 (1 - e^-10) ~ 16.
  // With repairs after 1 h: a renewal process, 16 * 100 / 11 ~ 145 per run.
  spec::TimelineSpec t;
  t.duration_s = 100 * 3600.0;
  t.random.enabled = true;
  t.random.gpu_mtbf_h = 10.0;
  t.random.repair_after_s = 3600.0;
  io::Diagnostics d;
  auto doc = base_doc();
  auto s = frontend::parse_scenario(doc, kDir + "test.json", d);
  REQUIRE(s.has_value());
  double total = 0.0;
  const int seeds = 20;
  for (int k = 0; k < seeds; ++k) {
    t.random.seed = static_cast<std::uint64_t>(k + 1);
    total += static_cast<double>(faults::run_faults(t, s->topology).size());
  }
  const double mean = total / seeds;
  const double expected = 16.0 * 100.0 / 11.0;
  // Poisson-like spread: sd of the mean ~ sqrt(145 / 20) ~ 2.7.
  CHECK(std::abs(mean - expected) < 4 * std::sqrt(expected / seeds));
  // The same seed draws the same faults.
  t.random.seed = 7;
  const auto a = faults::run_faults(t, s->topology);
  const auto b = faults::run_faults(t, s->topology);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].at_s == b[i].at_s);
}

TEST_CASE("a NIC down cuts its GPU off the other node: layouts that need it lose it") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "TP=8"), layout(doc, "MA Separation")});
  doc["timeline"]["faults"] = json::array({{{"kind", "nic_down"}, {"at", "60 s"}, {"vertex", "n1.nic3"}}});
  const Run r = run(doc);
  // TP=8's replica on node 1 keeps NVLink between its GPUs: unaffected.
  CHECK(r.t.layouts.at(0).incidents.empty());
  // MA's expert GPU 11 no longer reaches the attention GPUs on node 0.
  const faults::LayoutTimeline& ma = r.t.layouts.at(1);
  REQUIRE(ma.incidents.size() == 1);
  CHECK(ma.incidents[0].gpus_lost == std::vector<int>{11});
  check_accounting(ma, r.t.duration_s);
}

TEST_CASE("determinism: the same scenario and seed give the same timeline, byte for byte") {
  json doc = base_doc();
  doc["timeline"]["random"] = {{"seed", 11}, {"gpu_mtbf", "5 h"}, {"repair_after", "10 min"}};
  const Run a = run(doc);
  const Run b = run(doc);
  CHECK(faults::to_json(a.t, *a.s.timeline).dump() == faults::to_json(b.t, *b.s.timeline).dump());
}

TEST_CASE("analyses: degradation with k failed GPUs and recovery success with Wilson intervals") {
  json doc = base_doc();
  doc["layouts"] = json::array({layout(doc, "TP=8, PP=2"), layout(doc, "MA Separation")});
  doc["timeline"]["faults"] = json::array();
  doc["timeline"]["analyses"] = {{"max_failures", 2}, {"trials", 3}};
  const Run r = run(doc);
  const faults::Analyses& a = r.t.analyses;
  REQUIRE(a.degradation.size() == 2);
  // One GPU of the single TP=8, PP=2 replica stops it for good (no spare, no repair).
  const faults::Degradation& tppp = a.degradation[0];
  REQUIRE(tppp.rows.size() == 3);
  CHECK(tppp.rows[0].mean_relative == doctest::Approx(1.0));
  CHECK(tppp.rows[1].mean_relative == 0.0);
  CHECK(tppp.rows[1].down_trials == 3);
  // MA Separation keeps serving, with less.
  const faults::Degradation& ma = a.degradation[1];
  CHECK(ma.rows[1].down_trials == 0);
  CHECK(ma.rows[1].mean_relative < 1.0);
  CHECK(ma.rows[2].mean_relative <= ma.rows[1].mean_relative + 1e-9);
  CHECK(ma.r2 <= 1.0);
  // The fit is least squares: residuals sum to zero.
  double res = 0.0;
  for (const auto& row : ma.rows) res += row.mean_relative - (ma.intercept + ma.slope * row.failed);
  CHECK(std::abs(res) < 1e-9);
  REQUIRE(a.success.size() == 2);
  for (const faults::SuccessTable& st : a.success) {
    for (const faults::SuccessRow& row : st.rows) {
      CHECK(row.wilson_low <= row.rate);
      CHECK(row.rate <= row.wilson_high);
    }
  }
  // Wilson 95%: 20 of 20 -> [0.839, 1]; 10 of 20 -> [0.299, 0.701] (Wilson 1927; standard tables).
  auto [lo, hi] = faults::wilson95(20, 20);
  CHECK(lo == doctest::Approx(0.8389).epsilon(1e-3));
  CHECK(hi == doctest::Approx(1.0));
  std::tie(lo, hi) = faults::wilson95(10, 20);
  CHECK(lo == doctest::Approx(0.2993).epsilon(1e-3));
  CHECK(hi == doctest::Approx(0.7007).epsilon(1e-3));
}
