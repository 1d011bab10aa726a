// The fast network model (NetworkParams::exact = false: token-exchange flows end
// in batches within exchange_precision) against the exact reference model, and
// the cost per GPU at a fixed load per GPU as the cluster grows (issue 18).
//
// Agreement: every layout at 16 GPUs (the seed study plus an EP layout) and at
// 64 GPUs (8 HGX H200 nodes), simulated with both models: iteration time, TPOT
// and every communication tag's busy time per GPU agree within 1%; a
// many-to-many with a random matrix on 64 GPUs likewise, collective by itself.
//
// Property: engine events per GPU at 64, 256 and 1,024 GPUs (weak scaling: 8
// sequences per GPU, the seed model, the HGX H200 generator) for TP, PP,
// TP x PP, EP and MA Separation do not grow (TP, PP, TP x PP: within 1.5x of
// each other; EP and MA Separation fall with N). A count, not a timing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/network/network.hpp"
#include "sim/topology/topology.hpp"
#include "tests/test_time.hpp"

using namespace masim;

namespace {

const std::string kSeedFile = std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/seed_study.json";

nlohmann::json load_doc(const std::string& file) {
  io::Diagnostics d;
  auto doc = io::load_json_file(file, d);
  REQUIRE_MESSAGE(doc.has_value(), d.format());
  return *doc;
}

nlohmann::json ranks(int from, int to) {
  nlohmann::json a = nlohmann::json::array();
  for (int r = from; r < to; ++r) a.push_back(r);
  return a;
}

// The seed model on n GPUs of the shipped HGX H200 generator (n/8 nodes), decode
// at `per_gpu` sequences per GPU, one step, with the five layouts scaled to n.
nlohmann::json weak_scaling_doc(int n, int per_gpu) {
  nlohmann::json doc = load_doc(kSeedFile);
  nlohmann::json topo = load_doc(std::string(MASIM_SOURCE_DIR) + "/topologies/hgx-h200-x128.json");
  topo["generator"]["nodes"] = n / 8;
  topo["name"] = "hgx-h200-x" + std::to_string(n / 8);
  doc["topology"] = topo;
  doc["hardware"] = "../hardware/h200-sxm-141gb.json";
  doc.erase("profile");
  doc["workload"]["batch"] = per_gpu * n;
  doc["workload"]["context_length"] = 512;
  doc["workload"]["iterations"] = 1;
  const int half = n / 2;
  doc["layouts"] = nlohmann::json::array({
      {{"name", "TP"}, {"kind", "tp"}, {"tp", 8}, {"dp", n / 8}},
      {{"name", "PP"}, {"kind", "pp"}, {"pp", 2}, {"stage_parallelism", "none"}, {"dp", n / 2}, {"micro_batches", 2}},
      {{"name", "TPxPP"}, {"kind", "tp_pp"}, {"tp", 8}, {"pp", 2}, {"dp", n / 16}, {"micro_batches", 2}},
      {{"name", "EP"}, {"kind", "ep"}, {"ep", 16}, {"dp", n / 16}},
      {{"name", "MA"},
       {"kind", "ma_separation"},
       {"ma",
        {{"attention_gpus", ranks(0, half)},
         {"expert_gpus", ranks(half, n)},
         {"attention_tp", 2},
         {"expert_tp", std::max(1, half / 16)},  // 16 experts in whole shards
         {"micro_batches", 2}}}},
  });
  return doc;
}

layouts::ScenarioResult simulate_doc(const nlohmann::json& doc, bool exact) {
  io::Diagnostics d;
  auto spec = frontend::parse_scenario(doc, kSeedFile, d);
  REQUIRE_MESSAGE(spec.has_value(), d.format());
  auto topo = topology::Topology::build(spec->topology, kSeedFile, d);
  REQUIRE_MESSAGE(topo.has_value(), d.format());
  models::RooflineCostModel roof(spec->hardware.gpu);
  layouts::SimOptions opts;
  opts.network.exact = exact;
  return layouts::simulate(*spec, *topo, roof, opts);
}

double rel(double a, double b) { return b == 0.0 ? std::abs(a) : std::abs(a / b - 1.0); }

void check_agreement(const nlohmann::json& doc) {
  const layouts::ScenarioResult exact = simulate_doc(doc, true);
  const layouts::ScenarioResult fast = simulate_doc(doc, false);
  REQUIRE(exact.layouts.size() == fast.layouts.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < exact.layouts.size(); ++i) {
    const auto& e = exact.layouts[i];
    const auto& f = fast.layouts[i];
    CAPTURE(e.name);
    worst = std::max({worst, rel(f.metrics.iteration_ms, e.metrics.iteration_ms), rel(f.metrics.tpot_ms, e.metrics.tpot_ms)});
    CHECK(rel(f.metrics.iteration_ms, e.metrics.iteration_ms) <= 0.01);
    CHECK(rel(f.metrics.tpot_ms, e.metrics.tpot_ms) <= 0.01);
    for (int t = 0; t < layouts::kNumCommTags; ++t) {
      const auto ti = static_cast<std::size_t>(t);
      const double be = e.communication[ti].share * e.metrics.iteration_ms;
      const double bf = f.communication[ti].share * f.metrics.iteration_ms;
      CAPTURE(layouts::to_string(static_cast<layouts::CommTag>(t)));
      CHECK(e.communication[ti].calls == f.communication[ti].calls);
      CHECK(e.communication[ti].bytes == f.communication[ti].bytes);
      if (be > 0.0) {
        worst = std::max(worst, rel(bf, be));
        CHECK(rel(bf, be) <= 0.01);
      }
    }
  }
  MESSAGE("largest relative difference, fast vs exact (iteration, TPOT, per-tag busy time): " << worst);
}

}  // namespace

TEST_CASE("fast and exact network models agree within 1% on every layout at 16 GPUs") {
  nlohmann::json doc = load_doc(kSeedFile);
  doc["workload"]["iterations"] = 2;
  doc["layouts"].push_back({{"name", "EP=16"}, {"kind", "ep"}, {"ep", 16}, {"dp", 1}});
  check_agreement(doc);
}

TEST_CASE("fast and exact network models agree within 1% on every layout at 64 GPUs") {
  check_agreement(weak_scaling_doc(64, 8));
}

TEST_CASE("a random many-to-many on 64 GPUs: fast within 1% of exact, with fewer completion batches") {
  io::Diagnostics d;
  nlohmann::json tdoc = load_doc(std::string(MASIM_SOURCE_DIR) + "/topologies/hgx-h200-x128.json");
  tdoc["generator"]["nodes"] = 8;
  auto ts = topology::parse_topology(tdoc, "gen", "", d);
  REQUIRE(ts.has_value());
  auto topo = topology::Topology::build(*ts, "gen", d);
  REQUIRE(topo.has_value());
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> size(1 << 14, 1 << 20);  // 16 KiB .. 1 MiB per pair
  network::CollectiveRequest req;
  req.kind = network::CollectiveKind::kManyToMany;
  req.ranks = network::first_ranks(32);
  for (int r = 32; r < 64; ++r) req.dst_ranks.push_back(r);
  std::int64_t mx = 0;
  for (std::size_t k = 0; k < 32 * 32; ++k) {
    req.matrix.push_back(Bytes{size(rng)});
    mx = std::max(mx, req.matrix.back().count());
  }
  req.bytes = Bytes{mx};
  network::NetworkParams exact_p;
  exact_p.exact = true;
  const auto exact = network::run_collective(*topo, req, exact_p);
  const auto fast = network::run_collective(*topo, req, {});
  MESSAGE("many-to-many: exact " << exact.time.seconds() * 1e6 << " us, fast " << fast.time.seconds() * 1e6
                                 << " us, relative " << rel(fast.time.seconds(), exact.time.seconds()));
  CHECK(rel(fast.time.seconds(), exact.time.seconds()) <= 0.01);
  // A flow ends at most exchange_precision of its duration early, and the
  // collective is its last flow's delivery: never later than exact (allowing
  // one picosecond of rounding per flow), at most that fraction earlier.
  CHECK(fast.time.count_ps() <= exact.time.count_ps() + static_cast<std::int64_t>(exact.flows));
  CHECK(fast.flow_events == exact.flow_events);  // every flow starts and ends once in both
  CHECK(fast.max_link_utilization <= 1.0 + 1e-9);
}

#if defined(MASIM_TEST_ASAN)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// About 15 s of one core in the plain build, most of it MA Separation at 1,024
// GPUs; ten times that under the sanitizers is past the suite's budget, so the
// sanitizer build skips it (the plain build runs it in CI).
TEST_CASE("events per GPU at a fixed load per GPU do not grow from 64 to 1,024 GPUs, per layout" *
          doctest::skip(kSanitized)) {
  const int sizes[] = {64, 256, 1024};
  double per_gpu[3][5] = {};
  for (int s = 0; s < 3; ++s) {
    const layouts::ScenarioResult r = simulate_doc(weak_scaling_doc(sizes[s], 8), false);
    REQUIRE(r.layouts.size() == 5);
    for (std::size_t l = 0; l < 5; ++l) {
      per_gpu[s][l] = static_cast<double>(r.layouts[l].events) / r.layouts[l].gpus;
      MESSAGE(r.layouts[l].name << " at " << sizes[s] << " GPUs: " << per_gpu[s][l] << " events per GPU");
    }
  }
  const char* names[] = {"TP", "PP", "TPxPP", "EP", "MA"};
  for (std::size_t l = 0; l < 5; ++l) {
    CAPTURE(std::string(names[l]));
    const double lo = std::min({per_gpu[0][l], per_gpu[1][l], per_gpu[2][l]});
    const double hi = std::max({per_gpu[0][l], per_gpu[1][l], per_gpu[2][l]});
    CHECK(lo > 0.0);
    // No growth: never more than 1.5x the events per GPU at 64 GPUs.
    CHECK(hi <= 1.5 * per_gpu[0][l]);
    // TP, PP, TP x PP: within 1.5x of each other. EP and MA Separation fall
    // with N instead (64 -> 1,024: about 94 -> 58 and 110 -> 45): an exchange's
    // completion batches are bounded whatever its flow count, and concurrent
    // replicas share batches, so their per-GPU event count shrinks.
    if (l < 3) CHECK(hi <= 1.5 * lo);
  }
}
