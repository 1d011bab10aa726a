// The paper report's logic on a fake simulator: the real scenario files and
// reference.json, but results from a closed-form stand-in, so every expected
// number below can be derived by hand (and the test does not depend on the
// layouts engine's figures, which the staleness test covers).
#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/report/paper.hpp"
#include "sim/report/paper_derived.hpp"
#include "sim/report/paper_robustness.hpp"

using namespace masim;
using nlohmann::json;

namespace {

// TPOT (ms) = base[kind] · (0.5 + batch/768) · (0.75 + context/8192);
// tokens/s = batch / TPOT (so tokens/s × TPOT = batch exactly).
json fake_run(const spec::ScenarioSpec& s) {
  const std::map<spec::LayoutKind, double> base = {{spec::LayoutKind::kTensor, 2.0},
                                                   {spec::LayoutKind::kPipeline, 3.0},
                                                   {spec::LayoutKind::kTensorPipeline, 2.5},
                                                   {spec::LayoutKind::kMaSeparation, 2.0}};
  json r = {{"schema", 1},
            {"masim_version", "test"},
            {"scenario_name", s.name},
            {"workload", {{"kind", spec::to_string(s.workload.kind)}, {"batch", s.workload.batch},
                          {"context_length", s.workload.context_length}}},
            {"cost_model", "fake"},
            {"network_model", "fake"},
            {"layouts", json::array()}};
  for (const spec::LayoutSpec& l : s.layouts) {
    if (s.workload.kind == spec::WorkloadKind::kTraining && l.kind == spec::LayoutKind::kPipeline) {
      io::Diagnostics d;
      d.error(s.file, "/layouts/1",
              "GPU 0 needs 100.0 GiB, has 74.5 GiB (short 25.5 GiB): parameters 1.0; GPU 1 needs 100.0 GiB");
      throw io::InputError(d);
    }
    const int gpus = l.gpu_count();
    const double tpot = base.at(l.kind) * (0.5 + s.workload.batch / 768.0) * (0.75 + s.workload.context_length / 8192.0);
    const double tps = s.workload.batch / (tpot / 1e3);
    json mem = json::array();
    json ranks = json::array();
    for (int g = 0; g < gpus; ++g) {
      ranks.push_back(g);
      // GPU 0 holds the embedding table (0.75 GiB of its parameters), the others none.
      mem.push_back({{"gpu", g}, {"parameters_gib", 1.0 + g % 2}, {"embedding_gib", g == 0 ? 0.75 : 0.0},
                     {"kv_cache_gib", 0.5}, {"activations_gib", 0.1},
                     {"gradients_gib", 0.0}, {"optimizer_states_gib", 0.0}, {"comm_buffers_gib", 0.1},
                     {"reserve_gib", 1.0}, {"total_gib", 2.7 + g % 2}, {"capacity_gib", 74.5}});
    }
    json comm = json::object();
    for (const char* t : {"tp_allreduce", "ep_alltoall", "ma_dispatch", "ma_combine", "pp_sendrecv", "grad_sync",
                          "param_broadcast", "total"}) {
      comm[t] = {{"share", 0.05}, {"exposed_ms", 0.01}, {"bytes", 1}, {"calls", 1}};
    }
    r["layouts"].push_back(
        {{"name", l.name},
         {"kind", spec::to_string(l.kind)},
         {"gpus", gpus},
         {"gpu_ranks", ranks},
         {"parallelism", {{"micro_batches", 2}, {"attention_gpus", gpus / 2}}},
         {"metrics", {{"tpot_ms", tpot}, {"tokens_per_s", tps}, {"tokens_per_s_per_gpu", tps / gpus},
                      {"iteration_ms", tpot}, {"gpu_util_mean", 0.8}, {"gpu_util_with_comm_mean", 0.9},
                      {"mfu", 0.1}, {"hbm_bw_util", 0.5},
                      {"energy_per_token_mj", 40.0}, {"avg_power_w", 300.0}, {"memory_efficiency", 0.5}}},
         {"communication", comm},
         {"memory", mem},
         {"experts", {{"share_std", 0.01}, {"share_min", 0.05}, {"share_max", 0.08}, {"aux_loss", 1.02}}},
         {"timeline", json::array({{{"gpu", 0}, {"stream", "compute"}, {"name", "attn"}, {"cat", "attention"},
                                    {"layer", 0}, {"micro_batch", 0}, {"start_us", 0.0}, {"dur_us", 10.0}},
                                   {{"gpu", 0}, {"stream", "comm"}, {"name", "x"}, {"cat", "comm"}, {"layer", 0},
                                    {"micro_batch", 0}, {"start_us", 5.0}, {"dur_us", 10.0}}})}});
  }
  return r;
}

struct Built {
  report::Document doc;
  report::PaperSummary summary;
  std::string md;
};

Built build() {
  report::PaperSummary sum;
  report::Document d = report::paper_document(MASIM_SOURCE_DIR, report::default_scenario_loader(),
                                              report::default_sweep_loader(), fake_run, nullptr, &sum);
  std::string md = report::render_markdown(d, "report.html");
  return {std::move(d), sum, std::move(md)};
}

}  // namespace

TEST_CASE("the paper report compares every cell, explains refusals and is deterministic") {
  const Built b = build();
  const std::string& md = b.md;
  // Seed study: batch 384, context 2048 -> factor (0.5 + 0.5)(0.75 + 0.25) = 1.
  // TP=8 TPOT 2.0 vs the study's 2.84: (2.0 - 2.84)/2.84 = -29.6%.
  CHECK(md.find("| TPOT (ms/token) | simulated | 2.00 | 3.00 | 2.50 | 2.00 | 20.0% reduction |") != std::string::npos);
  CHECK(md.find("|  | Δ | -29.6% | -3.8% | -9.4% | +9.9% | -14.2 pp |") != std::string::npos);
  // Headline: MA 2.0 vs TP=8, PP=2 2.5 -> 20% lower TPOT and 2.5/2.0 - 1 = 25% more tokens/s.
  CHECK(b.summary.tpot_reduction == doctest::Approx(0.2));
  CHECK(b.summary.throughput_gain == doctest::Approx(0.25));
  // PP=2 training is refused by the fake; the other three layouts still appear,
  // and the refusal is listed once, cut to its first clause.
  CHECK(b.summary.failed_layouts == 1);
  CHECK(md.find("- training / PP=2: GPU 0 needs 100.0 GiB, has 74.5 GiB (short 25.5 GiB): parameters 1.0; …") !=
        std::string::npos);
  // The simulation's identities hold by construction (tokens/s = tokens of the window / its length):
  // not listed. The study's are.
  CHECK(md.find("| simulation |") == std::string::npos);
  CHECK(md.find("| TPS × 16 = throughput | TP=8 | 135200 | 135200 | yes |") != std::string::npos);
  // GPU utilization: the compared reading is compute only; the one with communication stands beside it.
  CHECK(md.find("| GPU Utilization (%) | simulated, compute only | 80.0 | 80.0 | 80.0 | 80.0 | 0.0% increase |") !=
        std::string::npos);
  CHECK(md.find("|  | simulated, compute or communication | 90.0 | 90.0 | 90.0 | 90.0 | 0.0% increase |") !=
        std::string::npos);
  // Lower bound: GPU 1 (2.0 GiB of parameters, no embedding, 0.5 GiB KV) binds:
  // 2.5 GiB · 1.073741824 / 2039 GB/s = 1.3165 ms. Subtracting the embedding on every GPU would give less.
  CHECK(md.find("| TP=8 | 1.317 | 1 |") != std::string::npos);
  // Prose computed from the reference: Speedup_4 = 4 · 1.528 / (16 · 0.87) = 0.439, i.e. 1/0.439 = 2.3× slower.
  CHECK(md.find("= 0.439, i.e. MA Separation 2.3× slower than the baseline at 4 GPUs") != std::string::npos);
  CHECK(md.find("(study: gains plateau beyond 20 GPUs)") != std::string::npos);
  CHECK(md.find("The study's 10 independent runs, reproduced as 10 simulations") != std::string::npos);
  CHECK(md.find("routing distribution (Zipf 0.3 over 16 experts") != std::string::npos);
  // The study's carbon figure contradicts its own energy and PUE: 1 - 0.82·1.08/(1.24·1.12) = 36.2%.
  CHECK(md.find("| 36.2 | 34.2 | **no** |") != std::string::npos);
  // Equal SLO 3 ms: MA 2.0·(0.5 + b/768) <= 3 -> b <= 768; tokens/s per GPU = 768/3 ms/16 = 16,000.
  CHECK(md.find("| MA Separation | 768 | 3.00 | 16,000 |") != std::string::npos);
  // PP=2: 3.0·(0.5 + b/768) <= 3 -> b <= 384 -> 384/3 ms/16 = 8,000.
  CHECK(md.find("| PP=2 | 384 | 3.00 | 8,000 |") != std::string::npos);
  // 52 runs: seed, training, 5 GPU counts, 4 lengths, 11 batches, 17 variants, 10 seeds, faults, serving,
  // and the seed study priced by the derived A100 profile.
  CHECK(b.summary.simulations == 52);
  // The fake simulator gives no cost band for the derived-profile run: the section says so.
  CHECK(md.find("Not simulated: the derived A100 profile carries no measured error band.") != std::string::npos);
  // The fake simulator has no run timeline: the robustness section says so.
  CHECK(md.find("## Robustness and fault tolerance\n\nNot simulated: the faults scenario returned no run timeline.") !=
        std::string::npos);
  // Every chart carries data.
  CHECK(b.doc.charts().size() >= 10);
  for (const auto& c : b.doc.charts()) {
    INFO(c.id);
    CHECK(!c.spec["datasets"]["table"].empty());
  }
  // Which model priced each run: the fake's, for all 52 runs (the fake counts no ops).
  CHECK(md.find("## Which model priced each run") != std::string::npos);
  CHECK(md.find("| fake | 52 | 0 | 0 | no | seed_study; training; scalability, 4 GPUs;") != std::string::npos);
  // Same inputs, same bytes.
  CHECK(build().md == md);
}

TEST_CASE("a missing sweep choice is a diagnostic naming the scenario and the key") {
  auto loader = [](const std::string& path) {
    spec::ScenarioSpec s = report::default_scenario_loader()(path);
    if (s.name == "equal-slo") {
      std::erase_if(s.choices, [](const spec::Choice& c) { return c.key == "slo.tpot_ms"; });
    }
    return s;
  };
  try {
    report::paper_document(MASIM_SOURCE_DIR, loader, report::default_sweep_loader(), fake_run, nullptr, nullptr);
    FAIL("expected an error");
  } catch (const io::InputError& e) {
    CHECK(std::string(e.what()).find("/choices: the paper report needs a choice with key \"slo.tpot_ms\"") !=
          std::string::npos);
  }
}

TEST_CASE("the report's prose follows the scenarios it ran, not figures written into the code") {
  auto loader = [](const std::string& path) {
    spec::ScenarioSpec s = report::default_scenario_loader()(path);
    if (s.name == "seed-study") s.workload.routing.zipf_exponent = 0.7;
    return s;
  };
  // The scaling sweep at half its load per GPU; the sensitivity sweep with a renamed variant.
  auto sweeps = [](const std::string& path) {
    report::LoadedSweep sw = report::default_sweep_loader()(path);
    for (report::SweepPoint& p : sw.points) {
      if (sw.name == "seed-scaling") p.spec.workload.batch /= 2;
      if (sw.name == "seed-sensitivity" && p.label == "wider model") {
        p.label = "widest model";
        p.description = "a description from the sweep file";
      }
    }
    return sw;
  };
  report::PaperSummary sum;
  const report::Document d = report::paper_document(MASIM_SOURCE_DIR, loader, sweeps, fake_run, nullptr, &sum);
  const std::string md = report::render_markdown(d, "report.html");
  CHECK(md.find("routing distribution (Zipf 0.7 over 16 experts") != std::string::npos);
  CHECK(md.find("distribution (Zipf 0.3") == std::string::npos);
  CHECK(md.find("Weak scaling at 12 sequences per GPU on a 32-GPU fabric") != std::string::npos);
  CHECK(md.find("| widest model | a description from the sweep file |") != std::string::npos);
  CHECK(md.find("| wider model |") == std::string::npos);
}

TEST_CASE("robustness section: the study's claims against a run timeline") {
  const report::Reference ref = report::load_reference(std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/reference.json");
  // Two layouts; the first fault stops the dp = 1 baseline (wait) and fails MA over.
  json step_det = {{"name", "detection"}, {"start_s", 10.0}, {"duration_s", 30.0}, {"detail", ""}};
  json step_cr = {{"name", "comm_rebuild"}, {"start_s", 40.0}, {"duration_s", 1.0}, {"detail", ""}};
  json t = {{"duration_s", 600.0},
            {"faults", json::array({{{"description", "GPU 2 fails"}, {"at_s", 10.0}}})},
            {"recovery_inputs", {{"detection", "heartbeat"}, {"detection_s", 30.0}, {"comm_rebuild_s", 1.0},
                                 {"graph_recapture_s", 5.0}, {"weights", "host"}, {"host_bandwidth_gb_per_s", 25.0}}},
            {"layouts",
             json::array({{{"name", "TP=8, PP=2"}, {"kind", "tp_pp"}, {"goodput", 0.5},
                           {"incidents", json::array({{{"fault", "GPU 2 fails"}, {"action", "wait"}, {"outcome", "wait"},
                                                       {"steps", json::array({step_det})},
                                                       {"tokens_per_s_before", 100.0}, {"tokens_per_s_after", 0.0},
                                                       {"recovery_s", nullptr}, {"full_capacity_s", nullptr}}})}},
                          {{"name", "MA Separation"}, {"kind", "ma_separation"}, {"goodput", 0.9},
                           {"incidents", json::array({{{"fault", "GPU 2 fails"}, {"action", "failover"},
                                                       {"outcome", "failover"}, {"steps", json::array({step_det, step_cr})},
                                                       {"tokens_per_s_before", 100.0}, {"tokens_per_s_after", 100.0},
                                                       {"recovery_s", 31.0}, {"full_capacity_s", 31.0}}})}}})},
            {"analyses",
             {{"degradation",
               json::array({{{"layout", "MA Separation"}, {"slope", -0.1}, {"intercept", 1.0}, {"r2", 1.0},
                             {"max_deviation", 0.0},
                             {"rows", json::array({{{"failed", 0}, {"trials", 1}, {"mean_relative", 1.0}},
                                                   {{"failed", 1}, {"trials", 4}, {"mean_relative", 0.9}},
                                                   {{"failed", 2}, {"trials", 4}, {"mean_relative", 0.8}}})}},
                            {{"layout", "TP=8, PP=2"}, {"slope", -0.5}, {"intercept", 0.75}, {"r2", 0.75},
                             {"max_deviation", 0.25},
                             {"rows", json::array({{{"failed", 0}, {"trials", 1}, {"mean_relative", 1.0}},
                                                   {{"failed", 1}, {"trials", 4}, {"mean_relative", 0.0}}})}}})},
              {"recovery_success",
               json::array({{{"layout", "MA Separation"}, {"side", "expert"},
                             {"rows", json::array({{{"failed", 1}, {"trials", 20}, {"successes", 20}, {"rate", 1.0},
                                                    {"wilson_low", 0.839}, {"wilson_high", 1.0}}})}}})}}}};
  report::Document d("t");
  report::add_robustness_section(d, ref, json{{"run_timeline", t}});
  const std::string md = report::render_markdown(d, "r.html");
  CHECK(md.find("| MA Separation | failover | 30.00 | 1.00 | 31.00 | 31.00 | 100.0% | 90.0% |") != std::string::npos);
  CHECK(md.find("| TP=8, PP=2 | wait | 30.00 | 0.00 | not within the run | not within the run | 0.0% | 50.0% |") !=
        std::string::npos);
  CHECK(md.find("cannot recover at all until the GPU is repaired") != std::string::npos);
  CHECK(md.find("After detection, MA Separation's own steps take 1.00 s") != std::string::npos);
  // 99.2% is inside [83.9%, 100%].
  CHECK(md.find("20 of 20 single expert-GPU failures were redistributed (83.9% to 100.0%, 95%); the study's 99.2% "
                "lies inside") != std::string::npos);
  CHECK(md.find("linear for MA Separation (R² 1.00, max deviation 0.0%); not linear for TP=8, PP=2 (R² 0.75, max "
                "deviation 25.0%)") != std::string::npos);
}

TEST_CASE("derived-profile section: the band applied against the verdict, which may not survive it") {
  // MA TPOT 3.0 ms vs TP=8, PP=2 2.5 ms: ratio 1.2. Band -10% .. +10%: each side independently,
  // 1.2 · 0.9/1.1 = 0.9818 .. 1.2 · 1.1/0.9 = 1.4667, so "MA slower" does not survive.
  // MA's TPOT band: 3.0/1.1 = 2.727 .. 3.0/0.9 = 3.333 (as results.json's metrics_band would say).
  auto layout = [](const char* name, const char* kind, double tpot, double lo, double hi) {
    return json{{"name", name},
                {"kind", kind},
                {"metrics", {{"tpot_ms", tpot}, {"tokens_per_s", 384 / tpot * 1e3}}},
                {"metrics_band", {{"tpot_ms", {lo, hi}}, {"tokens_per_s", {0.0, 0.0}}}},
                {"cost_sources", {{"profile", 10}, {"roofline", 0}}}};
  };
  const json r = {{"cost_band", {{"what", "test"}, {"steps", 3}, {"bias_pct", 1.0}, {"min_pct", -10.0}, {"max_pct", 10.0}}},
                  {"layouts", json::array({layout("TP=8, PP=2", "tp_pp", 2.5, 2.5 / 1.1, 2.5 / 0.9),
                                           layout("MA Separation", "ma_separation", 3.0, 3.0 / 1.1, 3.0 / 0.9)})}};
  report::Document d("t");
  report::add_derived_profile_section(d, r, json::object());
  const std::string md = report::render_markdown(d, "report.html");
  CHECK(md.find("TPOT ratio 1.200 (+20.0%)") != std::string::npos);
  CHECK(md.find("0.982 … 1.467. The verdict (MA Separation slower) **does not survive** the band.") != std::string::npos);
  CHECK(md.find("| MA Separation | 3.000 | 2.727 – 3.333 |") != std::string::npos);
  CHECK(report::derived_profile_headline(r).find("**does not survive**") != std::string::npos);
  // A narrower band (-5% .. +5%): 1.2 · 0.95/1.05 = 1.0857 > 1, so the verdict survives.
  json narrow = r;
  narrow["cost_band"]["min_pct"] = -5.0;
  narrow["cost_band"]["max_pct"] = 5.0;
  CHECK(report::derived_profile_headline(narrow).find("+8.6% … +32.6%: the verdict **survives**") != std::string::npos);
}
