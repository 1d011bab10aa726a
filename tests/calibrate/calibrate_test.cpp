// The validation scenarios of masim-calibrate load, fit on one H200 and map
// every op of their decode step onto a profile table (so validation compares
// profile predictions, not roofline fallbacks).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/derivation_error.hpp"
#include "calibrate/model_shapes.hpp"
#include "calibrate/pool.hpp"
#include "calibrate/power_fit.hpp"
#include "calibrate/production_steps.hpp"
#include "calibrate/refit_spec.hpp"
#include "calibrate/timing.hpp"
#include "sim/profile/fit.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/models/model_params.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/profile/derive.hpp"
#include "sim/profile/op_map.hpp"
#include "sim/workload/layer_ops.hpp"

using namespace masim;

TEST_CASE("validation scenarios load and every decode op maps to a profile table") {
  for (const char* name : {"qwen3-30b-a3b", "mixtral-8x7b", "qwen1.5-moe-a2.7b", "seed-moe-4l"}) {
    const std::string path = std::string(MASIM_SOURCE_DIR) + "/calibrate/validation/" + name + ".json";
    io::Diagnostics d;
    auto s = frontend::load_scenario(path, d);
    REQUIRE_MESSAGE(s, d.format_lines());
    const spec::ModelSpec& m = s->model;
    CHECK(s->workload.batch >= 8);
    CHECK(s->workload.batch <= 256);
    CHECK(s->workload.context_length >= 512);
    CHECK(s->workload.context_length <= 4096);
    CHECK(m.attention != spec::AttentionKind::kMLA);
    const std::int64_t b = s->workload.batch;
    std::vector<models::Op> ops =
        workload::attention_block(m, 0, workload::AttentionShard{1, b, 1, s->workload.context_length, false});
    REQUIRE(models::is_moe_layer(m, 0));
    for (auto more : {workload::router_block(m, 0, b),
                      workload::expert_block(m, 0, workload::ExpertShard{1, std::vector<std::int64_t>(
                                                                                 static_cast<std::size_t>(m.num_experts),
                                                                                 b * m.top_k / m.num_experts + 1)}),
                      workload::shared_expert_block(m, 0, b, 1), workload::combine_block(m, 0, b)}) {
      ops.insert(ops.end(), more.begin(), more.end());
    }
    for (const models::Op& op : ops) {
      INFO(name << ": " << op.label);
      CHECK(profile::table_query(op).has_value());
    }
  }
}

namespace {

std::string repo(const std::string& rel) { return std::string(MASIM_SOURCE_DIR) + "/" + rel; }

}  // namespace

TEST_CASE("committed profiles load strictly and say what they are") {
  io::Diagnostics d;
  auto h200 = profile::load_profile(repo("calibrate/profiles/h200.json"), d);
  REQUIRE_MESSAGE(h200, d.format_lines());
  CHECK_FALSE(h200->derived);
  CHECK(h200->provenance.gpu_name == "NVIDIA H200");
  CHECK_FALSE(h200->provenance.gpu_uuid.empty());
  CHECK_FALSE(h200->provenance.cublas_version.empty());
  CHECK(h200->ceilings.copy_bytes_per_s > 1e12);   // a measured H200 copies at terabytes per second
  CHECK(h200->ceilings.bf16_flops_per_s > 1e14);
  for (const char* name : {"gemm_bf16", "grouped_gemm_bf16", "attention_decode_d128", "rmsnorm", "router_topk",
                           "permute", "unpermute", "swiglu", "elementwise", "memcpy_d2d"}) {
    const profile::OpTable* t = h200->find(name);
    REQUIRE_MESSAGE(t, name);
    // Every grid point was checked against the CPU reference: none may be recorded as wrong.
    CHECK(std::count(t->status.begin(), t->status.end(), "wrong") == 0);
  }
  for (const char* path : {"calibrate/profiles/a100-sxm4-80gb.derived.json", "calibrate/profiles/h100-sxm.derived.json"}) {
    io::Diagnostics dd;
    auto p = profile::load_profile(repo(path), dd);
    REQUIRE_MESSAGE(p, dd.format_lines());
    CHECK(p->derived);
    REQUIRE(p->derivation.has_value());
    CHECK(p->derivation->source_gpu == "NVIDIA H200");
  }
}

TEST_CASE("the derived profiles are what masim-profile derive makes from the measured one") {
  // Byte-identical regeneration: the derivation is deterministic and the committed files are current.
  io::Diagnostics d;
  auto h200 = profile::load_profile(repo("calibrate/profiles/h200.json"), d);
  REQUIRE(h200);
  // Not a structured binding: doctest's CHECK_MESSAGE captures it in a lambda, which clang 14 rejects.
  for (const auto& kf : {std::pair<const char*, const char*>{"a100-sxm4-80gb", "a100-sxm4-80gb.derived.json"},
                         std::pair<const char*, const char*>{"h100-sxm", "h100-sxm.derived.json"}}) {
    const char* const key = kf.first;
    const char* const file = kf.second;
    profile::Profile q =
        profile::derive_profile(*h200, "calibrate/profiles/h200.json", *profile::datasheet("h200"), *profile::datasheet(key));
    // The band measured on the H100 (calibrate/scripts/derivation_error.sh), as masim-profile derive
    // --measured-error puts it.
    std::ifstream rep(repo("calibrate/results/h100/derivation-error.json"));
    const nlohmann::json e = nlohmann::json::parse(rep);
    q.derivation->measured_error = profile::MeasuredError{e["measured_profile"], "calibrate/results/h100/derivation-error.json",
                                                          e["band"]["points"], e["band"]["bias_pct"],
                                                          e["band"]["p95_abs_pct"], e["band"]["min_pct"],
                                                          e["band"]["max_pct"]};
    std::ifstream in(repo(std::string("calibrate/profiles/") + file));
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK_MESSAGE(profile::to_json_text(q) == ss.str(), file);
  }
}

TEST_CASE("validation scenarios: every decode op is priced by the H200 profile") {
  for (const char* name : {"qwen3-30b-a3b", "mixtral-8x7b", "qwen1.5-moe-a2.7b", "seed-moe-4l"}) {
    io::Diagnostics d;
    auto s = frontend::load_scenario(repo(std::string("calibrate/validation/") + name + ".json"), d);
    REQUIRE_MESSAGE(s, d.format_lines());
    auto cost = profile::make_cost_model(*s, d);
    REQUIRE_MESSAGE(cost, d.format_lines());
    const spec::ModelSpec& m = s->model;
    const std::int64_t b = s->workload.batch;
    std::vector<models::Op> ops =
        workload::attention_block(m, 0, workload::AttentionShard{1, b, 1, s->workload.context_length, false});
    for (auto more : {workload::router_block(m, 0, b),
                      workload::expert_block(m, 0, workload::ExpertShard{1, std::vector<std::int64_t>(
                                                                                 static_cast<std::size_t>(m.num_experts),
                                                                                 b * m.top_k / m.num_experts + 1)}),
                      workload::combine_block(m, 0, b)}) {
      ops.insert(ops.end(), more.begin(), more.end());
    }
    for (const models::Op& op : ops) {
      INFO(name << ": " << op.label);
      CHECK(cost->cost(op).source == models::CostSource::kProfile);
    }
  }
}

TEST_CASE("the seed study's scenario runs with the derived A100 profile") {
  io::Diagnostics d;
  auto s = frontend::load_scenario(repo("scenarios/paper/seed_study.json"), d);
  REQUIRE_MESSAGE(s, d.format_lines());
  s->profile_path = repo("calibrate/profiles/a100-sxm4-80gb.derived.json");
  auto cost = profile::make_cost_model(*s, d);
  REQUIRE_MESSAGE(cost, d.format_lines());
  CHECK(cost->describe().find("derived from NVIDIA H200") != std::string::npos);
  // It carries the derivation band measured on the H100 (calibrate/results/h100/derivation-error.json).
  const auto band = cost->band();
  REQUIRE(band.has_value());
  CHECK(band->steps == 68);
  CHECK(band->min_pct < 0.0);
  CHECK(band->max_pct > 0.0);
  // The seed model's decode ops on one attention-TP=2 shard: priced from the profile.
  const spec::ModelSpec& m = s->model;
  for (const models::Op& op : workload::attention_block(m, 0, workload::AttentionShard{2, 48, 1, 2048, false})) {
    INFO(op.label);
    CHECK(cost->cost(op).source == models::CostSource::kProfile);
  }
  // And the H200 profile is refused for this A100 scenario.
  s->profile_path = repo("calibrate/profiles/h200.json");
  io::Diagnostics bad;
  CHECK_FALSE(profile::make_cost_model(*s, bad));
  CHECK(bad.format_lines().find("profile is for \"NVIDIA H200\", hardware says \"NVIDIA A100-SXM4-80GB\"") !=
        std::string::npos);
}

TEST_CASE("model-shape holdout: the validation models' ops at random batch and context, deterministic") {
  io::Diagnostics d;
  std::vector<std::string> files;
  for (const std::string& f : calibrate::default_model_scenarios()) files.push_back(repo(f));
  const auto models = calibrate::load_models(files, d);
  REQUIRE_MESSAGE(models.size() == 4, d.format_lines());
  CHECK(models[0].name == "qwen3-30b-a3b");
  const auto a = calibrate::model_shapes(models, 6, 4);
  const auto b = calibrate::model_shapes(models, 6, 4);
  const auto c = calibrate::model_shapes(models, 6, 5);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].table == b[i].table);
    CHECK(a[i].x == b[i].x);
    CHECK(a[i].source == b[i].source);
  }
  bool differs = a.size() != c.size();
  for (std::size_t i = 0; !differs && i < a.size(); ++i) differs = a[i].x != c[i].x;
  CHECK(differs);
  std::set<std::string> tables;
  std::set<std::pair<std::string, std::vector<double>>> unique;
  for (const auto& s : a) {
    tables.insert(s.table);
    CHECK(unique.insert({s.table, s.x}).second);  // deduplicated
    // "<model> b=<batch> c=<context> <op>", batch in 8..256 and context in 512..4096.
    std::istringstream in(s.source);
    std::string model, bs, cs, op;
    in >> model >> bs >> cs >> op;
    REQUIRE(bs.rfind("b=", 0) == 0);
    REQUIRE(cs.rfind("c=", 0) == 0);
    const int batch = std::stoi(bs.substr(2));
    const int context = std::stoi(cs.substr(2));
    CHECK(batch >= 8);
    CHECK(batch <= 256);
    CHECK(context >= 512);
    CHECK(context <= 4096);
    CHECK_FALSE(op.empty());
  }
  for (const char* t : {"gemm_bf16", "attention_decode_d128", "grouped_gemm_bf16", "rmsnorm", "router_topk",
                        "permute", "unpermute", "swiglu", "elementwise"}) {
    CHECK_MESSAGE(tables.count(t) == 1, t);
  }
  // measured_shape: whole numbers >= 1, as the benches run them.
  CHECK(calibrate::measured_shape({2.31, 0.4, 4096}) == std::vector<double>{2, 1, 4096});
  // on_grid: every axis on its grid values.
  const std::vector<std::vector<double>> grid = {{1, 2, 4}, {64, 128}};
  CHECK(calibrate::on_grid(grid, {2, 128}));
  CHECK_FALSE(calibrate::on_grid(grid, {3, 128}));
  CHECK_FALSE(calibrate::on_grid(grid, {2}));
}

TEST_CASE("the seed study on H200 runs with the measured H200 profile") {
  io::Diagnostics d;
  auto s = frontend::load_scenario(repo("calibrate/validation/seed-study-h200.json"), d);
  REQUIRE_MESSAGE(s, d.format_lines());
  auto cost = profile::make_cost_model(*s, d);
  REQUIRE_MESSAGE(cost, d.format_lines());
  const spec::ModelSpec& m = s->model;
  std::vector<models::Op> ops = workload::attention_block(m, 0, workload::AttentionShard{8, 48, 1, 2048, false});
  for (auto more : {workload::router_block(m, 0, 48),
                    workload::expert_block(m, 0, workload::ExpertShard{1, {12, 40, 0, 44}}),
                    workload::combine_block(m, 0, 48)}) {
    ops.insert(ops.end(), more.begin(), more.end());
  }
  for (const models::Op& op : ops) {
    INFO(op.label);
    CHECK(cost->cost(op).source == models::CostSource::kProfile);
  }
}

TEST_CASE("masim-profile refit --iso-bytes: specs set, replace and remove a table's iso-bytes axis") {
  profile::Profile p;
  profile::OpTable t;
  t.name = "unpermute";
  t.kind = models::OpKind::kUnpermute;
  t.axes = {"tokens", "width", "top_k"};
  p.ops.push_back(t);
  profile::OpTable& u = p.ops[0];
  REQUIRE(calibrate::set_iso_bytes(p, "unpermute.tokens=width*top_k+1"));
  CHECK(u.iso_along == 0);
  CHECK_FALSE(u.iso_scales(0));
  CHECK(u.iso_offset[1] == 0.0);
  CHECK(u.iso_offset[2] == 1.0);
  REQUIRE(calibrate::set_iso_bytes(p, "unpermute.tokens=top_k+2.5"));
  CHECK_FALSE(u.iso_scales(1));
  CHECK(u.iso_offset[2] == 2.5);
  // Bad specs change nothing.
  for (const char* bad : {"unpermute.tokens=", "unpermute.rows=width", "unpermute.tokens=tokens",
                          "unpermute.tokens=width*width", "unpermute.tokens=width+-1", "unpermute.tokens=width+x",
                          "permute.tokens=width", "unpermute=width", "unpermute.tokens:width"}) {
    CAPTURE(bad);
    CHECK_FALSE(calibrate::set_iso_bytes(p, bad));
    CHECK(u.iso_along == 0);
    CHECK(u.iso_offset[2] == 2.5);
  }
  REQUIRE(calibrate::set_iso_bytes(p, "unpermute=none"));
  CHECK(u.iso_along == -1);
  CHECK(u.iso_offset.empty());
  CHECK_FALSE(calibrate::set_iso_bytes(p, "swiglu=none"));
}

TEST_CASE("the H200 profile prices its streaming tables (unpermute, SwiGLU) at iso bytes") {
  io::Diagnostics d;
  const auto p = profile::load_profile(std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/h200.json", d);
  REQUIRE_MESSAGE(p, d.format_lines());
  for (const char* name : {"unpermute", "swiglu"}) {
    CAPTURE(name);
    const profile::OpTable* t = p->find(name);
    REQUIRE(t != nullptr);
    CHECK(t->iso_along == 0);  // tokens
    CHECK(t->iso_scales(1));   // width
  }
}

TEST_CASE("timing statistics: the interdecile mean follows a two-mode mix that the median jumps across") {
  using calibrate::summarize_samples;
  auto mix = [](int low, int high) {
    std::vector<double> v;
    for (int i = 0; i < low; ++i) v.push_back(1.5);
    for (int i = 0; i < high; ++i) v.push_back(1.8);
    return v;
  };
  const auto six_four = summarize_samples(mix(6, 4));
  const auto four_six = summarize_samples(mix(4, 6));
  // The median sits on one mode or the other: a 20% jump for a 2-sample shift.
  CHECK(six_four.median_us == doctest::Approx(1.5));
  CHECK(four_six.median_us == doctest::Approx(1.8));
  // The interdecile mean (ranks 1..8 of 10) moves by 0.075 µs.
  CHECK(six_four.mid_mean_us == doctest::Approx((5 * 1.5 + 3 * 1.8) / 8));
  CHECK(four_six.mid_mean_us == doctest::Approx((3 * 1.5 + 5 * 1.8) / 8));
  CHECK(six_four.min_us == doctest::Approx(1.5));
  CHECK(six_four.p90_us == doctest::Approx(1.8));
  CHECK(six_four.replays == 10);
  CHECK(six_four.spread_pct == doctest::Approx(20.0));
  // One slow replay in ten does not move it; unsorted input is fine.
  const auto outlier = summarize_samples({2, 2, 100, 2, 2, 2, 2, 2, 2, 2});
  CHECK(outlier.mid_mean_us == doctest::Approx(2.0));
  CHECK(outlier.median_us == doctest::Approx(2.0));
  // Fewer than ten samples: nothing dropped.
  CHECK(summarize_samples({1, 2, 6}).mid_mean_us == doctest::Approx(3.0));
  CHECK(summarize_samples({}).mid_mean_us == 0.0);
  CHECK(summarize_samples({}).replays == 0);
}

TEST_CASE("pooling holdouts: priced by the base's fits, per table and pooled; other grids are bad input") {
  io::Diagnostics d;
  const auto base = profile::load_profile(std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/h200.json", d);
  REQUIRE(base);
  // The base alone: the same shapes and errors as its own holdout summaries.
  auto r = calibrate::pool_holdouts(*base, {{"base.json", *base}}, d);
  REQUIRE(d.empty());
  int priced = 0;
  for (const profile::OpTable& t : base->ops) {
    priced += t.holdout_error.points;
    if (t.holdout_error.points == 0) continue;
    CAPTURE(t.name);
    REQUIRE(r.tables.count(t.name) == 1);
    CHECK(r.tables[t.name].errors.points == t.holdout_error.points);
    // The profile stores predictions rounded to 5 significant digits.
    CHECK(r.tables[t.name].errors.median_abs_pct == doctest::Approx(t.holdout_error.median_abs_pct).epsilon(0.01));
  }
  CHECK(r.all.errors.points == priced);
  REQUIRE(r.files.size() == 1);
  CHECK(r.files[0].second.errors.points == priced);
  CHECK(r.all.over_10_pct < priced / 10);

  // A "recheck" whose RMSNorm shapes all ran twice as long: 100% of them 50% low.
  profile::Profile slow = *base;
  profile::OpTable* norm = slow.find("rmsnorm");
  REQUIRE(norm != nullptr);
  for (profile::HoldoutPoint& h : norm->holdout) h.time_us *= 2;
  r = calibrate::pool_holdouts(*base, {{"base.json", *base}, {"slow.json", slow}}, d);
  REQUIRE(d.empty());
  const int n = static_cast<int>(norm->holdout.size());
  CHECK(r.tables["rmsnorm"].errors.points == 2 * n);
  CHECK(r.tables["rmsnorm"].over_10_pct >= n);
  CHECK(r.files.size() == 2);
  CHECK(r.all.errors.points == 2 * priced);

  // A derived profile has the same grids but is not a measurement of this GPU.
  const auto derived = profile::load_profile(std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/a100-sxm4-80gb.derived.json", d);
  REQUIRE(derived);
  r = calibrate::pool_holdouts(*base, {{"a100.json", *derived}}, d);
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].pointer == "/provenance/gpu_name");
  CHECK(r.all.errors.points == 0);
  d = io::Diagnostics{};

  // Another grid, or a table the base lacks: every problem reported, nothing pooled.
  profile::Profile other = *base;
  other.ops[0].grid[0].push_back(other.ops[0].grid[0].back() * 2);
  other.ops[1].name = "no_such_table";
  r = calibrate::pool_holdouts(*base, {{"other.json", other}}, d);
  CHECK(d.size() == 2);
  CHECK(d.items()[0].file == "other.json");
  CHECK(d.items()[0].pointer == "/ops/0/grid");
  CHECK(d.items()[1].pointer == "/ops/1/name");
  CHECK(r.all.errors.points == 0);
  CHECK(r.tables.empty());
}

TEST_CASE("a table's model holdout: its shapes as measured, off the grid, without repeats, in draw order") {
  const std::vector<calibrate::ModelShape> all = {
      {"rmsnorm", {2.4, 4096}, "a"},    // runs as [2, 4096]: a grid point
      {"rmsnorm", {3.0, 4096}, "b"},
      {"gemm_bf16", {3, 4096, 4096}, "c"},
      {"rmsnorm", {2.6, 4096}, "d"},    // runs as [3, 4096]: a repeat of b
      {"rmsnorm", {0.2, 2048}, "e"},    // runs as [1, 2048]
  };
  const std::vector<std::vector<double>> grid = {{1, 2, 4}, {4096}};
  const auto got = calibrate::off_grid_shapes(all, "rmsnorm", grid);
  REQUIRE(got.size() == 2);
  CHECK(got[0].source == "b");
  CHECK(got[0].x == std::vector<double>{3, 4096});
  CHECK(got[1].source == "e");
  CHECK(got[1].x == std::vector<double>{1, 2048});
  CHECK(calibrate::off_grid_shapes(all, "swiglu", grid).empty());
}

namespace {

std::vector<std::pair<std::string, profile::Profile>> h100_rechecks(io::Diagnostics& d) {
  std::vector<std::pair<std::string, profile::Profile>> out;
  for (const char* f : {"calibrate/results/h100/runs/rechecks/derived-recheck103-GPU-b2130302.json",
                        "calibrate/results/h100/runs/rechecks/derived-recheck104-GPU-b2130302.json"}) {
    auto p = profile::load_profile(repo(f), d);
    REQUIRE_MESSAGE(p, d.format_lines());
    out.emplace_back(f, std::move(*p));
  }
  return out;
}

}  // namespace

TEST_CASE("derivation error: a derived profile 10% slow everywhere reads +10% on every set") {
  io::Diagnostics d;
  auto h100 = profile::load_profile(repo("calibrate/profiles/h100-sxm.json"), d);
  REQUIRE_MESSAGE(h100, d.format_lines());
  CHECK_FALSE(h100->derived);
  CHECK(h100->provenance.gpu_name == "NVIDIA H100 80GB HBM3");
  // A fake "derived" profile: the measured one with every time ×1.1. On the grid its
  // fits return the measured values ×1.1 exactly, so every grid error is +10%; off the
  // grid, interpolation in log space of values ×1.1 is the measured fit ×1.1, so +10% plus
  // the measured fit's own error; whole steps sum ops that are all ×1.1: +10%.
  profile::Profile slow = *h100;
  slow.derived = true;
  slow.derivation = profile::Derivation{};
  for (profile::OpTable& t : slow.ops) {
    for (double& v : t.time_us) v *= 1.1;
  }
  const auto models = calibrate::load_models(calibrate::default_model_scenarios(), d);
  REQUIRE(d.empty());
  const auto e = calibrate::derivation_error(*h100, slow, {}, models, {}, 2, 1, d);
  REQUIRE_MESSAGE(d.empty(), d.format_lines());
  CHECK(e.grid.points > 30000);
  CHECK(e.grid.bias_pct == doctest::Approx(10.0));
  CHECK(e.grid.median_abs_pct == doctest::Approx(10.0));
  CHECK(e.grid.p95_abs_pct == doctest::Approx(10.0));
  CHECK(e.grid.min_pct == doctest::Approx(10.0));
  CHECK(e.decode.points == 8);  // 4 models × 2 draws
  CHECK(e.prefill.points == 8);
  CHECK(e.decode.min_pct == doctest::Approx(10.0));
  CHECK(e.band.max_pct == doctest::Approx(10.0));
  CHECK(e.random.bias_pct > 8.0);
  CHECK(e.random.bias_pct < 12.0);

  // Measured against measured, or shapes that were not re-measured on the H100: bad input.
  io::Diagnostics bad;
  calibrate::derivation_error(*h100, *h100, {{"h200.json", *profile::load_profile(repo("calibrate/profiles/h200.json"), d)}},
                              models, {}, 1, 1, bad);
  CHECK(bad.size() == 2);
  CHECK(bad.format_lines().find("expected a derived profile") != std::string::npos);
  CHECK(bad.format_lines().find("re-measured on NVIDIA H100 80GB HBM3") != std::string::npos);
}

TEST_CASE("derivation error on the H100: the committed report is what the tool computes, and rule rates beats rule efficiency") {
  io::Diagnostics d;
  auto h100 = profile::load_profile(repo("calibrate/profiles/h100-sxm.json"), d);
  auto h200 = profile::load_profile(repo("calibrate/profiles/h200.json"), d);
  REQUIRE_MESSAGE((h100 && h200), d.format_lines());
  const auto rechecks = h100_rechecks(d);
  const auto models = calibrate::load_models(calibrate::default_model_scenarios(), d);
  std::vector<calibrate::ValidateReport> real;
  for (const char* m : {"qwen3-30b-a3b", "mixtral-8x7b", "qwen1.5-moe-a2.7b", "seed-moe-4l"}) {
    const std::string f = std::string("calibrate/results/h100/validate-call3/validate-d-") + m + ".json";
    std::ifstream in(repo(f));
    auto v = calibrate::parse_validate_report(nlohmann::json::parse(in), f, d);
    REQUIRE(v);
    CHECK(v->profile == "calibrate/profiles/h100-sxm.derived.json");
    real.push_back(*v);
  }
  auto derive = [&](profile::DeriveRule rule) {
    return profile::derive_profile(*h200, "calibrate/profiles/h200.json", *profile::datasheet("h200"),
                                   *profile::datasheet("h100-sxm"), rule);
  };
  // The committed derived profile (times as written: 5 significant digits), as the report used it.
  auto committed_derived = profile::load_profile(repo("calibrate/profiles/h100-sxm.derived.json"), d);
  REQUIRE(committed_derived);
  const auto rates = calibrate::derivation_error(*h100, *committed_derived, rechecks, models, real, 8, 1, d);
  const auto eff = calibrate::derivation_error(*h100, derive(profile::DeriveRule::kCarryEfficiency), rechecks, models, {}, 8, 1, d);
  REQUIRE_MESSAGE(d.empty(), d.format_lines());
  std::ifstream in(repo("calibrate/results/h100/derivation-error.json"));
  const nlohmann::json committed = nlohmann::json::parse(in);
  const nlohmann::json now = calibrate::to_json(rates, "calibrate/profiles/h100-sxm.json", "/tmp/h100-sxm.rates.json");
  for (const char* key : {"grid", "random", "model", "decode", "prefill", "real_steps", "band"}) {
    CAPTURE(key);
    CHECK(now[key]["points"] == committed[key]["points"]);
    CHECK(now[key]["bias_pct"].get<double>() == doctest::Approx(committed[key]["bias_pct"].get<double>()));
    CHECK(now[key]["max_pct"].get<double>() == doctest::Approx(committed[key]["max_pct"].get<double>()));
  }
  // The first rule was 16% slow on the median grid point and 8% on decode steps; the rule
  // that carries achieved rates must be closer on every set it was chosen for.
  CHECK(rates.grid.median_abs_pct < eff.grid.median_abs_pct);
  CHECK(rates.random.median_abs_pct < eff.random.median_abs_pct);
  CHECK(rates.model.median_abs_pct < eff.model.median_abs_pct);
  CHECK(rates.decode.median_abs_pct < eff.decode.median_abs_pct);
  CHECK(rates.prefill.median_abs_pct < eff.prefill.median_abs_pct);
  CHECK(std::fabs(rates.grid.bias_pct) < std::fabs(eff.grid.bias_pct));
  // The band the derived profiles carry covers every step measured or priced on the H100.
  CHECK(rates.band.points == 68);
  CHECK(rates.band.min_pct <= rates.real_steps.min_pct);
  CHECK(rates.band.max_pct >= rates.decode.max_pct);
}

TEST_CASE("production steps: masim prices the same layers, models checked against what the GPU ran") {
  const std::string spec_file = repo("calibrate/validation/production-steps.json");
  std::ifstream f(spec_file);
  nlohmann::json spec = nlohmann::json::parse(f);
  const std::string prof = repo("calibrate/profiles/h200.json");
  // One seed-moe-4l decode step, batch 8: 16 experts get 1 row each (8 tokens x top-2).
  nlohmann::json step = {{"model", "seed-moe-4l"}, {"phase", "decode"}, {"batch", 8}, {"context", 512},
                         {"layers_run", 4}, {"tokens_per_expert", std::vector<int>(16, 1)},
                         {"step_measured_us", 1000.0},
                         {"ops", {{{"op", "attention"}, {"measured_us", 10.0}}, {{"op", "kv_append"}, {"measured_us", 2.0}}}}};
  nlohmann::json report = {{"steps", {step}}};
  io::Diagnostics d;
  auto r = calibrate::price_production_steps(report, "steps.json", spec, spec_file, prof, "production", "", d);
  REQUIRE_MESSAGE(r, d.format_lines());
  const auto& st = r->report["steps"][0];
  // masim prices every op of four layers; the step is their sum.
  double sum = 0;
  for (const auto& o : st["ops"]) {
    if (o.contains("predicted_us")) sum += o["predicted_us"].get<double>() * 4;
  }
  CHECK(st["step_predicted_us"].get<double>() == doctest::Approx(sum));
  CHECK(st["ops"][1]["note"] == "masim has no such op");   // the KV-cache write is folded into attention
  CHECK(r->decode.points == 1);
  CHECK(r->decode_attention.points == 1);

  // A model whose width differs from what the GPU ran, and a step of an unknown model.
  nlohmann::json wrong = spec;
  wrong["models"][0]["hidden_size"] = 4000;
  io::Diagnostics bad;
  CHECK_FALSE(calibrate::price_production_steps(report, "steps.json", wrong, spec_file, prof, "production", "", bad));
  CHECK(bad.format_lines().find("production-steps.json:/models/0/hidden_size: the GPU ran 4000") != std::string::npos);
  nlohmann::json other = report;
  other["steps"][0]["model"] = "llama";
  io::Diagnostics bad2;
  CHECK_FALSE(calibrate::price_production_steps(other, "steps.json", spec, spec_file, prof, "production", "", bad2));
  CHECK(bad2.format_lines().find("steps.json:/steps/0/model: model \"llama\" is not in") != std::string::npos);
}

TEST_CASE("power fit: recovers the energies that made the readings; the cap stretches a compute-bound op") {
  // Readings made from idle 100 W, e_t = 0.5 pJ/FLOP, e_m = 100 pJ/B:
  //   GEMM 8192^3 in 2000 us: F = 1.0995e12, B = 402.7e6 -> 100 + 274.9 + 20.1 = 395.0 W
  //   GEMV m=1 (8192^2) in 50 us: F = 134.2e6, B = 134.25e6 -> 100 + 1.3 + 268.5 = 369.8 W
  //   copy of 1 GiB in 800 us: B = 2 GiB -> 100 + 268.4 = 368.4 W
  auto power = [](double f, double b, double us) { return 100 + (0.5e-12 * f + 100e-12 * b) / (us * 1e-6); };
  const auto g = models::make_gemm("g", 8192, 8192, 8192, spec::DType::kBF16);
  const auto v = models::make_gemm("v", 1, 8192, 8192, spec::DType::kBF16);
  const auto c = models::make_memcpy("c", Bytes(std::int64_t{1} << 30));
  auto run = [&](const char* name, nlohmann::json shape, const models::Op& op, double us) {
    const double vec = op.vector_flops.count();
    return nlohmann::json{{"run", name}, {"shape", shape}, {"window_s", 1.5}, {"op_us", us},
                          {"energy_power_w", power(op.flops.count() - vec, op.bytes.as_double(), us)}};
  };
  nlohmann::json readings = {
      {"power_limit_w", 700.0},
      {"runs",
       {nlohmann::json{{"run", "idle"}, {"shape", nlohmann::json::object()}, {"window_s", 1.5}, {"energy_power_w", 100.0}},
        run("gemm", {{"op", "gemm"}, {"m", 8192}, {"n", 8192}, {"k", 8192}}, g, 2000),
        run("gemv", {{"op", "gemm"}, {"m", 1}, {"n", 8192}, {"k", 8192}}, v, 50),
        run("copy", {{"op", "memcpy"}, {"bytes", std::int64_t{1} << 30}}, c, 800)}}};
  io::Diagnostics d;
  auto f = calibrate::fit_power(readings, "power.json", d);
  REQUIRE_MESSAGE(f, d.format_lines());
  CHECK(f->fit.idle_w == doctest::Approx(100));
  CHECK(f->fit.tensor_pj_per_flop == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(f->fit.hbm_pj_per_byte == doctest::Approx(100).epsilon(1e-6));
  CHECK(f->fit.cap_w == 700);
  // The GEMM in 500 us (4x the rate) would demand 100 + 4 * 295 = 1280 W > 700 W: the
  // cap holds it to its dynamic energy (0.5e-12 F + 100e-12 B = 0.59 J) over 600 W = 983 us.
  const SimTime fast = SimTime::us(500);
  const double dyn = f->fit.dynamic_j(g);
  CHECK(f->fit.demand_w(g, fast) > 700);
  CHECK(f->fit.capped_time(g, fast).us() == doctest::Approx(dyn / 600 * 1e6).epsilon(1e-6));
  CHECK(f->fit.capped_time(g, SimTime::us(2000)) == SimTime::us(2000));  // 395 W: not capped
  // Priced by a profile whose GEMM table says 500 us everywhere (ridge 1e15 / 3e12 =
  // 333 FLOP/B): the GEMM (2,731 FLOP/B) is held to the cap, 0.5900 J / 600 W = 983.4 us,
  // against 2000 us measured; the GEMV (1 FLOP/B) keeps 500 us; the copy has no table.
  profile::Profile prof;
  prof.provenance.gpu_name = "NVIDIA H100 80GB HBM3";
  prof.ceilings.bf16_flops_per_s = 1e15;
  prof.ceilings.copy_bytes_per_s = 3e12;
  profile::OpTable t;
  t.name = "gemm_bf16";
  t.kind = models::OpKind::kGemm;
  t.kernels = profile::kKernelsProduction;
  t.axes = {"m", "n", "k"};
  t.grid = {{1, 8192}, {8192, 16384}, {8192, 16384}};
  t.time_us.assign(t.points(), 500.0);
  prof.ops.push_back(t);
  prof.power_model = f->fit;
  calibrate::price_power_runs(*f, profile::ProfileCostModel(prof, "p.json", spec::GpuSpec{}));
  const nlohmann::json& rows = f->report["runs"];
  REQUIRE(rows.size() == 3);
  CHECK(rows[0]["table_us"].get<double>() == doctest::Approx(500));
  CHECK(rows[0]["priced_us"].get<double>() == doctest::Approx(983.37).epsilon(1e-4));
  CHECK(rows[0]["priced_error_pct"].get<double>() == doctest::Approx(-50.83).epsilon(1e-3));
  CHECK(rows[1]["priced_us"].get<double>() == doctest::Approx(500));
  CHECK_FALSE(rows[2].contains("priced_us"));
  // A run of less than a second is refused (NVML averages over up to a second).
  readings["runs"][1]["window_s"] = 0.2;
  io::Diagnostics bad;
  CHECK_FALSE(calibrate::fit_power(readings, "power.json", bad));
  CHECK(bad.format_lines().find("power.json:/runs/1/window_s: a power run must last at least 1 s") != std::string::npos);
}
