// The sweep files the paper report runs (scenarios/sweeps/seed_*.json) against
// what they say: the scaling sweep's variants follow the layout rules stated in
// its axis's reason (re-derived here from that text, so an edit to the file that
// breaks a rule fails), and the sensitivity sweep's reference row is
// seed_study.json itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/report/paper.hpp"

using namespace masim;

namespace {

std::string src(const std::string& rel) { return std::string(MASIM_SOURCE_DIR) + "/" + rel; }

const spec::LayoutSpec& by_kind(const spec::ScenarioSpec& s, spec::LayoutKind k) {
  const auto it = std::find_if(s.layouts.begin(), s.layouts.end(), [k](const spec::LayoutSpec& l) { return l.kind == k; });
  REQUIRE(it != s.layouts.end());
  return *it;
}

std::vector<int> range(int from, int to) {
  std::vector<int> v;
  for (int g = from; g < to; ++g) v.push_back(g);
  return v;
}

}  // namespace

TEST_CASE("seed_scaling.json: every GPU count follows the stated layout rules at 24 sequences per GPU") {
  const report::LoadedSweep sw = report::default_sweep_loader()(src("scenarios/sweeps/seed_scaling.json"));
  REQUIRE(sw.points.size() == 5);
  const std::string& reason = sw.axes.at(0).reason;
  // The rules as the axis's reason states them.
  CHECK(reason.find("TP = min(8, N), DP = N / TP") != std::string::npos);
  CHECK(reason.find("PP = 2, no parallelism inside a stage, DP = N / 2, 2 micro-batches") != std::string::npos);
  CHECK(reason.find("TP = the largest of 8, 4, 2, 1 with 2 TP dividing N, DP = N / (2 TP), 2 micro-batches") != std::string::npos);
  CHECK(reason.find("N/2 attention GPUs (TP=2) + N/2 expert GPUs; where N/2 neither divides nor is a multiple of the 16 experts") !=
        std::string::npos);
  for (const report::SweepPoint& p : sw.points) {
    const int n = std::stoi(p.label);
    CAPTURE(n);
    const spec::ScenarioSpec& s = p.spec;
    CHECK(s.workload.batch == 24 * n);
    REQUIRE(s.layouts.size() == 4);
    const spec::LayoutSpec& tp = by_kind(s, spec::LayoutKind::kTensor);
    CHECK(tp.tp == std::min(8, n));
    CHECK(tp.dp == n / std::min(8, n));
    const spec::LayoutSpec& pp = by_kind(s, spec::LayoutKind::kPipeline);
    CHECK(pp.pp == 2);
    CHECK(pp.dp == n / 2);
    CHECK(pp.micro_batches == 2);
    CHECK(pp.stage_parallelism == spec::StageParallelism::kNone);
    int t2 = 8;
    while (t2 > 1 && (2 * t2 > n || n % (2 * t2) != 0)) t2 /= 2;
    const spec::LayoutSpec& tpp = by_kind(s, spec::LayoutKind::kTensorPipeline);
    CHECK(tpp.tp == t2);
    CHECK(tpp.pp == 2);
    CHECK(tpp.dp == n / (2 * t2));
    CHECK(tpp.micro_batches == 2);
    const int experts = s.model.num_experts;
    int expert_gpus = n / 2;
    if (experts % expert_gpus != 0 && expert_gpus % experts != 0) expert_gpus = experts;
    const spec::LayoutSpec& ma = by_kind(s, spec::LayoutKind::kMaSeparation);
    CHECK(ma.ma.attention_gpus == range(0, n - expert_gpus));
    CHECK(ma.ma.expert_gpus == range(n - expert_gpus, n));
    CHECK(ma.ma.attention_tp == std::min(2, n - expert_gpus));
    CHECK(ma.ma.micro_batches == 2);
  }
}

TEST_CASE("seed_sensitivity.json: the reference row is seed_study.json's baseline and MA Separation, each other row changes it") {
  const report::LoadedSweep sw = report::default_sweep_loader()(src("scenarios/sweeps/seed_sensitivity.json"));
  io::Diagnostics d;
  const auto seed = frontend::load_scenario(src("scenarios/paper/seed_study.json"), d);
  REQUIRE_MESSAGE(seed, d.format_lines());
  REQUIRE(sw.points.size() >= 2);
  const spec::ScenarioSpec& ref = sw.points.front().spec;
  CHECK(sw.points.front().label == "as chosen");
  // The two layouts the sensitivity table compares, as seed_study.json has them.
  REQUIRE(ref.layouts.size() == 2);
  const spec::LayoutSpec& base = by_kind(*seed, spec::LayoutKind::kTensorPipeline);
  const spec::LayoutSpec& ma = by_kind(*seed, spec::LayoutKind::kMaSeparation);
  CHECK(ref.layouts[0].name == base.name);
  CHECK(ref.layouts[0].tp == base.tp);
  CHECK(ref.layouts[0].micro_batches == base.micro_batches);
  CHECK(ref.layouts[1].name == ma.name);
  CHECK(ref.layouts[1].ma.attention_gpus == ma.ma.attention_gpus);
  CHECK(ref.layouts[1].ma.attention_tp == ma.ma.attention_tp);
  CHECK(ref.workload.batch == seed->workload.batch);
  CHECK(ref.model.num_experts == seed->model.num_experts);
  CHECK(ref.model.hidden_size == seed->model.hidden_size);
  const std::string ref_echo = frontend::resolved_json(ref).dump();
  for (std::size_t i = 1; i < sw.points.size(); ++i) {
    CAPTURE(sw.points[i].label);
    CHECK_FALSE(sw.points[i].description.empty());
    CHECK(frontend::resolved_json(sw.points[i].spec).dump() != ref_echo);
  }
}
