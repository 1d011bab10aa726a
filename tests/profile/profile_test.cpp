// Calibration profiles: strict loading, the fitted tables (log-space
// interpolation, roofline-bounded extrapolation, leave-one-out), the cost model
// with its roofline fallback, the GPU-name check, and datasheet derivation.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sim/profile/cost_model.hpp"
#include "sim/profile/derive.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/op_map.hpp"
#include "sim/profile/profile.hpp"

using namespace masim;
using namespace masim::profile;
using spec::DType;

namespace {

// A gemm_bf16 table whose time is an exact power law, t = 1e-6 · m·n·k µs,
// on m ∈ {1, 4, 16}, n ∈ {64, 256}, k ∈ {64, 256}.
OpTable power_law_gemm() {
  OpTable t;
  t.name = "gemm_bf16";
  t.kind = models::OpKind::kGemm;
  t.dtype = DType::kBF16;
  t.axes = {"m", "n", "k"};
  t.grid = {{1, 4, 16}, {64, 256}, {64, 256}};
  for (std::size_t f = 0; f < t.points(); ++f) {
    const auto x = t.point(f);
    t.time_us.push_back(1e-6 * x[0] * x[1] * x[2]);
  }
  return t;
}

// Ceilings under which every GEMM of the table is compute-bound, so the
// roofline time is proportional to m·n·k.
Ceilings compute_bound() {
  Ceilings c;
  c.bf16_flops_per_s = 1e12;
  c.copy_bytes_per_s = 1e15;
  return c;
}

Profile small_profile() {
  Profile p;
  p.provenance.gpu_name = "NVIDIA H200";
  p.provenance.date_utc = "2026-01-01T00:00:00Z";
  p.ceilings = compute_bound();
  p.ops.push_back(power_law_gemm());
  return p;
}

spec::GpuSpec h200_spec() {
  spec::GpuSpec g;
  g.name = "NVIDIA H200-SXM-141GB";
  g.peak_flops[DType::kBF16] = FlopRate::tflops(989.4);
  g.vector_fp32_flops = FlopRate::tflops(67);
  g.hbm_bandwidth = Bandwidth::gb_per_s(4800);
  g.kernel_launch_overhead = SimTime::us(4);
  return g;
}

}  // namespace

TEST_CASE("interpolation reproduces a power law between grid points") {
  const OpTable t = power_law_gemm();
  const TableModel m(t, compute_bound());
  // Grid point: exact. Off-grid m = 2, n = 128, k = 100: 1e-6 · 2·128·100 = 0.0256 µs.
  CHECK(*m.predict_us({4, 64, 256}) == doctest::Approx(1e-6 * 4 * 64 * 256));
  CHECK(*m.predict_us({2, 128, 100}) == doctest::Approx(0.0256));
  // Leave-one-out on a power law: every interior point is predicted exactly.
  for (double e : m.loo_interpolation_errors()) CHECK(std::fabs(e) < 1e-9);
  CHECK(m.loo_interpolation_errors().size() == 4);  // m = 4 is interior, at 2·2 (n, k) points
}

TEST_CASE("below the grid the edge time holds; above it the roofline ratio scales it") {
  const OpTable t = power_law_gemm();
  const TableModel m(t, compute_bound());
  // m = 0.5 < 1: held at m = 1 (latency floor): 1e-6 · 1·64·64 = 0.004096 µs.
  CHECK(*m.predict_us({0.5, 64, 64}) == doctest::Approx(0.004096));
  // m = 64 > 16: compute-bound roofline ∝ m, so t = t(16) · 64/16 = 1e-6·16·64·64·4.
  CHECK(*m.predict_us({64, 64, 64}) == doctest::Approx(1e-6 * 64 * 64 * 64).epsilon(1e-6));
  // The extrapolation leave-one-out is exact here too (power law, compute-bound).
  for (double e : m.loo_extrapolation_errors()) CHECK(std::fabs(e) < 1e-6);
}

TEST_CASE("a missing grid point disables only the cells that touch it") {
  OpTable t = power_law_gemm();
  std::vector<std::size_t> idx = {2, 1, 1};   // m = 16, n = 256, k = 256
  t.time_us[t.flat_index(idx)] = std::nan("");
  const TableModel m(t, compute_bound());
  CHECK_FALSE(m.predict_us({8, 200, 200}).has_value());
  CHECK(m.predict_us({2, 200, 200}).has_value());
  CHECK(m.predict_us({8, 64, 64}).has_value());
}

TEST_CASE("summaries: median, nearest-rank p95, max of |error|") {
  // |e| = 1..20: median (10 + 11)/2 = 10.5, p95 = the 19th value = 19, max 20.
  std::vector<double> e;
  for (int i = 1; i <= 20; ++i) e.push_back(i % 2 ? i : -i);
  const ErrorSummary s = summarize(e);
  CHECK(s.points == 20);
  CHECK(s.median_abs_pct == 10.5);
  CHECK(s.p95_abs_pct == 19);
  CHECK(s.max_abs_pct == 20);
}

TEST_CASE("op mapping: each op family to its table and coordinates") {
  auto q = table_query(models::make_gemm("o_proj", 64, 4096, 4096, DType::kBF16));
  REQUIRE(q);
  CHECK(q->table == "gemm_bf16");
  CHECK(q->x == std::vector<double>{64, 4096, 4096});
  CHECK_FALSE(table_query(models::make_gemm("fp32", 64, 64, 64, DType::kFP32)));
  // 4 experts, one empty: 3 active groups of 10 rows on average.
  q = table_query(models::make_grouped_gemm("experts", {10, 0, 5, 15}, 2048, 1024, DType::kBF16));
  REQUIRE(q);
  CHECK(q->table == "grouped_gemm_bf16");
  CHECK(q->x == std::vector<double>{3, 10, 2048, 1024});
  // Decode: 32 heads over 8 KV heads, batch 16 -> 128 KV streams, group 4.
  q = table_query(models::make_decode_attention("attention", 16, 2048, 32, 8, 128, 128, DType::kBF16));
  REQUIRE(q);
  CHECK(q->table == "attention_decode_d128");
  CHECK(q->x == std::vector<double>{128, 2048, 4});
  q = table_query(models::make_elementwise("residual", 8, 4096, 3, DType::kBF16));
  REQUIRE(q);
  CHECK(q->x == std::vector<double>{8 * 4096, 3});
  CHECK_FALSE(table_query(models::make_rmsnorm("empty", 0, 4096, DType::kBF16)));
}

TEST_CASE("JSON round trip and strict loading") {
  Profile p = small_profile();
  refresh_errors(p.ops[0], p.ceilings);
  const std::string text = to_json_text(p);
  io::Diagnostics d;
  auto back = parse_profile(nlohmann::json::parse(text), "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  REQUIRE(back->ops.size() == 1);
  CHECK(back->ops[0].time_us.size() == 12);
  CHECK(back->ops[0].time_us[5] == doctest::Approx(p.ops[0].time_us[5]).epsilon(1e-4));
  CHECK(to_json_text(*back) == text);  // byte-identical re-emission

  nlohmann::json doc = nlohmann::json::parse(text);
  doc["ops"][0]["time_us"].erase(0);                  // 11 values for 12 points
  doc["ops"][0]["grid"]["n"] = {256, 64};             // not increasing
  doc["ops"][0]["implementaton"] = "x";               // typo
  doc["schema"] = 2;
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  const std::string all = bad.format_lines();
  CHECK(all.find("p.json:/schema: profile schema 2 is not supported") != std::string::npos);
  CHECK(all.find("p.json:/ops/0/grid/n: grid values must be positive and strictly increasing") != std::string::npos);
  CHECK(all.find("p.json:/ops/0/time_us: expected 12 values") != std::string::npos);
  CHECK(all.find("p.json:/ops/0/implementaton: unknown key; did you mean \"implementation\"?") != std::string::npos);

  nlohmann::json axes = nlohmann::json::parse(text);
  axes["ops"][0]["axes"] = {"n", "m", "k"};
  axes["derived"] = true;
  io::Diagnostics bad2;
  CHECK_FALSE(parse_profile(axes, "p.json", bad2));
  CHECK(bad2.format_lines().find("p.json:/ops/0/axes: a gemm table has axes [m, n, k]") != std::string::npos);
  CHECK(bad2.format_lines().find("a derived profile must say how it was derived") != std::string::npos);
}

TEST_CASE("cost model: profile where covered, roofline elsewhere, source reported") {
  ProfileCostModel m(small_profile(), "p.json", h200_spec());
  const auto c = m.cost(models::make_gemm("x", 2, 128, 100, DType::kBF16));
  CHECK(c.source == models::CostSource::kProfile);
  CHECK(c.time == SimTime::us(0.0256));
  const auto r = m.cost(models::make_rmsnorm("norm", 8, 4096, DType::kBF16));
  CHECK(r.source == models::CostSource::kRoofline);
  CHECK_FALSE(m.find_cost(models::make_rmsnorm("norm", 8, 4096, DType::kBF16)));
  CHECK(m.describe().find("calibration profile p.json (NVIDIA H200") == 0);
}

TEST_CASE("GPU name check") {
  CHECK(same_gpu_name("NVIDIA H200", "NVIDIA H200-SXM-141GB"));
  CHECK(same_gpu_name("NVIDIA H100 80GB HBM3", "NVIDIA H100-SXM5-80GB"));
  CHECK(same_gpu_name("NVIDIA A100-SXM4-80GB", "nvidia a100-sxm4-80gb"));
  CHECK_FALSE(same_gpu_name("NVIDIA H100 PCIe", "NVIDIA H100-SXM5-80GB"));
  CHECK_FALSE(same_gpu_name("NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-80GB"));
  CHECK_FALSE(same_gpu_name("NVIDIA H200", "NVIDIA A100-SXM4-80GB"));
  io::Diagnostics d;
  spec::GpuSpec a100;
  a100.name = "NVIDIA A100-SXM4-80GB";
  check_profile_gpu(small_profile(), a100, "s.json", "/profile", d);
  REQUIRE(d.size() == 1);
  CHECK(d.format_lines() == "s.json:/profile: profile is for \"NVIDIA H200\", hardware says \"NVIDIA A100-SXM4-80GB\"\n");
}

TEST_CASE("make_cost_model: roofline without a profile, diagnostics for a bad one") {
  spec::ScenarioSpec s;
  s.file = "scenario.json";
  s.hardware.gpu = h200_spec();
  io::Diagnostics d;
  auto roof = make_cost_model(s, d);
  REQUIRE(roof);
  CHECK(roof->describe().find("roofline") == 0);

  const auto dir = std::filesystem::temp_directory_path() / "masim_profile_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "p.json").string();
  write_profile(small_profile(), path);
  s.profile_path = path;
  auto prof = make_cost_model(s, d);
  REQUIRE_MESSAGE(prof, d.format_lines());
  CHECK(prof->cost(models::make_gemm("x", 4, 64, 64, DType::kBF16)).source == models::CostSource::kProfile);

  s.hardware.gpu.name = "NVIDIA A100-SXM4-80GB";
  io::Diagnostics d2;
  CHECK_FALSE(make_cost_model(s, d2));
  CHECK(d2.format_lines().find("profile is for \"NVIDIA H200\"") != std::string::npos);

  s.profile_path = (dir / "missing.json").string();
  io::Diagnostics d3;
  CHECK_FALSE(make_cost_model(s, d3));
  CHECK(d3.format_lines().find("cannot open") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("derivation scales the part above the latency floor by the roofline ratio") {
  // A memory-bound table (rmsnorm): roofline = bytes / HBM bandwidth on both GPUs,
  // so t' = t0 + (t - t0) · bw_src / bw_tgt. H200 4.8 TB/s -> A100 2.039 TB/s: ×2.35409.
  Profile p;
  p.provenance.gpu_name = "NVIDIA H200";
  p.ceilings.copy_bytes_per_s = 4.0e12;
  p.ceilings.bf16_flops_per_s = 7.0e14;
  OpTable t;
  t.name = "rmsnorm";
  t.kind = models::OpKind::kRmsNorm;
  t.axes = {"tokens", "width"};
  t.grid = {{1, 1024}, {4096}};
  t.time_us = {3.0, 10.0};
  p.ops.push_back(t);
  OpTable fp8 = power_law_gemm();
  fp8.name = "gemm_fp8";
  fp8.dtype = DType::kFP8;
  p.ops.push_back(fp8);
  const Profile a =
      derive_profile(p, "h200.json", *datasheet("h200"), *datasheet("a100-sxm4-80gb"), DeriveRule::kCarryEfficiency);
  CHECK(a.derived);
  REQUIRE(a.derivation);
  CHECK(a.provenance.gpu_name == "NVIDIA A100-SXM4-80GB");
  REQUIRE(a.ops.size() == 1);  // fp8 dropped: A100 has none
  CHECK(a.ops[0].time_us[0] == doctest::Approx(3.0));
  // Both points are bandwidth-bound at datasheet rates (4·4096 FLOPs per token at 67 TFLOP/s
  // is far below 2·4096·2 bytes at 4.8 TB/s), so the ratio is 4.8 / 2.039.
  CHECK(a.ops[0].time_us[1] == doctest::Approx(3.0 + 7.0 * 4.8 / 2.039));
  CHECK(a.ceilings.copy_bytes_per_s == doctest::Approx(4.0e12 * 2.039 / 4.8));
  io::Diagnostics d;
  CHECK(parse_profile(nlohmann::json::parse(to_json_text(a)), "a.json", d));
}

TEST_CASE("derivation rule rates: the transfer at the table's best rate scales, latency does not") {
  // rmsnorm, width 4096: bytes about ∝ tokens (rows read and written), FLOPs negligible, so
  // every point is memory-dominated. H200 (4.8 TB/s) -> H100 (3.35 TB/s; same SMs and clock,
  // sigma = 1). The 65536-token point reaches the table's best fraction of bandwidth,
  // U_m = m_s / 300 µs: all of it is transfer, t' = 300 · 4.8/3.35 = 429.85 µs. At 1024
  // tokens (10 µs) the transfer at the best rate is m_s / U_m ≈ 300/64 = 4.69 µs; the rest,
  // ≈ 5.31 µs, is latency and stays: t' ≈ 5.31 + 4.69 · 4.8/3.35 = 12.03 µs, where the
  // efficiency rule scales all of 10 − t0: 2 + 8 · 4.8/3.35 = 13.46 µs. To A100 (2.039 TB/s,
  // sigma = 132·1980 / (108·1410) = 1.7163): 2 + 3.31 · 1.7163 + 4.69 · 4.8/2.039 ≈ 18.72 µs.
  Profile p;
  p.provenance.gpu_name = "NVIDIA H200";
  p.ceilings.copy_bytes_per_s = 4.0e12;
  p.ceilings.bf16_flops_per_s = 7.0e14;
  p.ceilings.vector_fp32_flops_per_s = 67e12;
  OpTable t;
  t.name = "rmsnorm";
  t.kind = models::OpKind::kRmsNorm;
  t.axes = {"tokens", "width"};
  t.grid = {{1, 1024, 65536}, {4096}};
  t.time_us = {2.0, 10.0, 300.0};
  p.ops.push_back(t);
  const Profile h = derive_profile(p, "h200.json", *datasheet("h200"), *datasheet("h100-sxm"));
  REQUIRE(h.ops.size() == 1);
  const double r = 4.8 / 3.35;
  const models::Op big = representative_op(t, {65536, 4096});
  const double ms_big = big.bytes.as_double() / 4.8e12 * 1e6;
  const double best = ms_big / 300.0;
  CHECK(h.ops[0].time_us[2] == doctest::Approx(300.0 * r));
  // 1024 tokens: transfer at the best rate = m_s / U_m; rest = 10 − that; t' = rest + transfer · r.
  const double ms_mid = representative_op(t, {1024, 4096}).bytes.as_double() / 4.8e12 * 1e6;
  const double transfer = ms_mid / best;
  CHECK(transfer < 10.0);
  CHECK(h.ops[0].time_us[1] == doctest::Approx((10.0 - transfer) + transfer * r));
  // The efficiency rule scales all of 10 − t0 by the ratio: slower than the rates rule here.
  const Profile e = derive_profile(p, "h200.json", *datasheet("h200"), *datasheet("h100-sxm"), DeriveRule::kCarryEfficiency);
  CHECK(e.ops[0].time_us[1] == doctest::Approx(2.0 + 8.0 * r));
  CHECK(h.ops[0].time_us[1] < e.ops[0].time_us[1]);
  // To A100 the rest (latency) scales by SMs · clock: sigma = 132·1980 / (108·1410) = 1.7163.
  const Profile a = derive_profile(p, "h200.json", *datasheet("h200"), *datasheet("a100-sxm4-80gb"));
  const double sigma = 132.0 * 1980.0 / (108.0 * 1410.0);
  const double rest = 10.0 - transfer;
  CHECK(a.ops[0].time_us[1] == doctest::Approx(2.0 + (rest - 2.0) * sigma + transfer * 4.8 / 2.039));
  CHECK(a.derivation->method.find("rule \"rates\"") != std::string::npos);
  CHECK(parse_derive_rule("rates") == DeriveRule::kCarryRates);
  CHECK_FALSE(parse_derive_rule("ratio").has_value());
}

// A decode-attention-like table whose time is a staircase of 64-key tiles:
// t = 2 + tiles(context) µs, measured at contexts that are whole tiles.
OpTable tiled_table() {
  OpTable t;
  t.name = "rmsnorm";
  t.kind = models::OpKind::kRmsNorm;
  t.axes = {"tokens", "width"};
  t.grid = {{128, 192, 256, 512}, {1024}};
  for (std::size_t f = 0; f < t.points(); ++f) t.time_us.push_back(2.0 + t.point(f)[0] / 64.0);
  return t;
}

TEST_CASE("quanta: a query between tile multiples is priced as the padded shape") {
  OpTable t = tiled_table();
  const Ceilings c = compute_bound();
  // Without a quantum, 164 sits between 128 (4 µs) and 192 (5 µs) in log space.
  const double plain = *TableModel(t, c).predict_us({164, 1024});
  CHECK(plain > 4.0);
  CHECK(plain < 5.0);
  t.quanta = {64, 1};
  const TableModel m(t, c);
  CHECK(t.quantum(0) == 64);
  CHECK(t.quantum(1) == 1);
  CHECK(*m.predict_us({164, 1024}) == doctest::Approx(5.0));   // runs as 3 tiles = 192
  CHECK(*m.predict_us({192, 1024}) == doctest::Approx(5.0));   // on the grid: unchanged
  CHECK(*m.predict_us({193, 1024}) == doctest::Approx(6.0).epsilon(0.05));  // 256 = 4 tiles: t(256) = 6
  // Grid values that are not multiples stay as measured, and values at or below one
  // quantum are not rounded up (kernels pick smaller tiles there).
  t.grid[0] = {32, 96, 128, 192};
  t.time_us = {1, 2, 3, 4};
  const TableModel m2(t, c);
  CHECK(*m2.predict_us({96, 1024}) == doctest::Approx(2.0));
  CHECK(*m2.predict_us({48, 1024}) < 2.0);
}

TEST_CASE("quanta and model holdouts survive the JSON round trip; errors are recomputed") {
  Profile p = small_profile();
  p.ops[0].quanta = {64, 1, 1};
  HoldoutPoint h;
  h.at = {2, 128, 100};
  h.time_us = 0.0256 * 1.1;  // the model (exact power law) is 10% below
  h.source = "toy b=2 c=100 o_proj";
  p.ops[0].model_holdout.push_back(h);
  refresh_errors(p.ops[0], p.ceilings);
  CHECK(p.ops[0].model_holdout_error.points == 1);
  CHECK(p.ops[0].model_holdout_error.median_abs_pct == doctest::Approx(100.0 / 11.0).epsilon(1e-3));
  const std::string text = to_json_text(p);
  CHECK(text.find("\"quanta\"") != std::string::npos);
  io::Diagnostics d;
  auto back = parse_profile(nlohmann::json::parse(text), "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  CHECK(back->ops[0].quanta == std::vector<double>{64, 1, 1});
  REQUIRE(back->ops[0].model_holdout.size() == 1);
  CHECK(back->ops[0].model_holdout[0].source == "toy b=2 c=100 o_proj");
  CHECK(to_json_text(*back) == text);

  nlohmann::json doc = nlohmann::json::parse(text);
  doc["ops"][0]["quanta"]["q"] = 64;   // not an axis
  doc["ops"][0]["quanta"]["m"] = 0;    // below 1
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  CHECK(bad.format_lines().find("p.json:/ops/0/quanta/q: unknown key") != std::string::npos);
  CHECK(bad.format_lines().find("p.json:/ops/0/quanta/m:") != std::string::npos);
}

TEST_CASE("the committed H200 profile: measured, with quanta, both holdouts and plausible power") {
  io::Diagnostics d;
  auto p = load_profile(std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/h200.json", d);
  REQUIRE_MESSAGE(p, d.format_lines());
  CHECK_FALSE(p->derived);
  const OpTable* dec = p->find("attention_decode_d128");
  REQUIRE(dec);
  CHECK(dec->quantum(1) == 64);   // context in 64-key tiles
  std::size_t random = 0, model = 0;
  for (const OpTable& t : p->ops) {
    random += t.holdout.size();
    model += t.model_holdout.size();
    for (double w : t.power_w) {
      // H200 SXM board limit 700 W; NVML's readings at the cap overshoot by a few
      // watts (706 W at most in the committed run), never by the energy-counter
      // artifacts' kilowatts.
      if (std::isfinite(w)) CHECK(w <= 1.05 * 700.0);
    }
    for (const HoldoutPoint& h : t.model_holdout) CHECK_FALSE(h.source.empty());
  }
  CHECK(random >= 300);
  CHECK(model >= 300);
}

TEST_CASE("the committed H200 profile: stored holdout errors are what the fit gives now, medians within 3%") {
  io::Diagnostics d;
  auto p = load_profile(std::string(MASIM_SOURCE_DIR) + "/calibrate/profiles/h200.json", d);
  REQUIRE_MESSAGE(p, d.format_lines());
  std::vector<double> random_errors, model_errors;
  for (const OpTable& stored : p->ops) {
    OpTable t = stored;
    refresh_errors(t, p->ceilings);
    INFO(t.name);
    // The profile's summaries were computed by this fit: a change to the
    // interpolation or the quanta must come with a refit of the profile. (The
    // run computed them from unrounded times; the file keeps 5 significant
    // digits, hence 1% and not exact.)
    CHECK(t.holdout_error.points == stored.holdout_error.points);
    CHECK(t.holdout_error.p95_abs_pct == doctest::Approx(stored.holdout_error.p95_abs_pct).epsilon(1e-2));
    CHECK(t.model_holdout_error.median_abs_pct ==
          doctest::Approx(stored.model_holdout_error.median_abs_pct).epsilon(1e-2));
    for (const HoldoutPoint& h : t.holdout) {
      if (h.time_us > 0 && h.model_us > 0) random_errors.push_back(100.0 * (h.model_us - h.time_us) / h.time_us);
    }
    for (const HoldoutPoint& h : t.model_holdout) {
      if (h.time_us > 0 && h.model_us > 0) model_errors.push_back(100.0 * (h.model_us - h.time_us) / h.time_us);
    }
  }
  const ErrorSummary random = summarize(random_errors);
  const ErrorSummary model = summarize(model_errors);
  CHECK(random.points >= 300);
  CHECK(model.points >= 600);
  // Issue 5's median target, met on both held-out sets (docs/VALIDATION.md).
  CHECK(random.median_abs_pct <= 3.0);
  CHECK(model.median_abs_pct <= 3.0);
  // The p95 target (10%) is met on the model shapes (measured 5.68%), not on the
  // random ones (11.29%: RMSNorm, fp8, unpermute; docs/VALIDATION.md); the
  // random bound only catches a regression of the fit.
  CHECK(model.p95_abs_pct <= 10.0);
  CHECK(random.p95_abs_pct <= 12.0);
}

namespace {

// A gemm_bf16 table on the exact power law t = 1e-6 · m·n·k µs except along n,
// whose grid has one value that is not a multiple of 8 (n = 60, unaligned rows):
// that column is 1.5x slower than the law. m ∈ {1, 4, 16}, n ∈ {32, 60, 64, 128}, k = 64.
OpTable unaligned_gemm() {
  OpTable t;
  t.name = "gemm_bf16";
  t.kind = models::OpKind::kGemm;
  t.dtype = DType::kBF16;
  t.axes = {"m", "n", "k"};
  t.grid = {{1, 4, 16}, {32, 60, 64, 128}, {64}};
  for (std::size_t f = 0; f < t.points(); ++f) {
    const auto x = t.point(f);
    t.time_us.push_back(1e-6 * x[0] * x[1] * x[2] * (x[1] == 60 ? 1.5 : 1.0));
  }
  return t;
}

// Time at (m, n, k = 64) as stored in unaligned_gemm().
double stored_us(const OpTable& t, std::size_t m, std::size_t n) {
  std::vector<std::size_t> idx = {m, n, 0};
  return t.time_us[t.flat_index(idx)];
}

// Log-log interpolation between (x0, t0) and (x1, t1) at x.
double log_lerp(double x, double x0, double t0, double x1, double t1) {
  const double w = (std::log(x) - std::log(x0)) / (std::log(x1) - std::log(x0));
  return std::exp((1 - w) * std::log(t0) + w * std::log(t1));
}

}  // namespace

TEST_CASE("alignment: aligned queries skip unaligned columns; unaligned ones carry the measured penalty") {
  OpTable t = unaligned_gemm();
  const Ceilings c = compute_bound();
  // n grid indices: 0 -> 32, 1 -> 60 (unaligned), 2 -> 64, 3 -> 128; m index 1 -> 4.
  const double t32 = stored_us(t, 1, 0), t60 = stored_us(t, 1, 1), t64 = stored_us(t, 1, 2);
  const double t128 = stored_us(t, 1, 3);
  const double aligned48 = log_lerp(48, 32, t32, 64, t64);
  const double aligned60 = log_lerp(60, 32, t32, 64, t64);
  const double aligned100 = log_lerp(100, 64, t64, 128, t128);

  // Without alignment n = 48 lies between 32 and the slow 60 column and is pulled up by it.
  const double plain48 = *TableModel(t, c).predict_us({4, 48, 64});
  CHECK(plain48 == doctest::Approx(log_lerp(48, 32, t32, 60, t60)));
  CHECK(plain48 > 1.1 * aligned48);

  t.alignment = {1, 8, 1};
  CHECK(t.alignment_of(0) == 1);
  CHECK(t.alignment_of(1) == 8);
  const TableModel m(t, c);
  // Aligned query: interpolated between 32 and 64 only (here the law itself).
  CHECK(*m.predict_us({4, 48, 64}) == doctest::Approx(aligned48));
  CHECK(aligned48 == doctest::Approx(1e-6 * 4 * 48 * 64));
  CHECK(*m.predict_us({4, 64, 64}) == doctest::Approx(t64));
  // Unaligned query on the unaligned grid value: its measurement, other axes interpolated as usual.
  CHECK(*m.predict_us({4, 60, 64}) == doctest::Approx(t60));
  CHECK(*m.predict_us({8, 60, 64}) == doctest::Approx(log_lerp(8, 4, t60, 16, stored_us(t, 2, 1))));
  CHECK(*m.predict_us({8, 60, 64}) == doctest::Approx(1.5e-6 * 8 * 60 * 64));
  // Unaligned query off the grid: the aligned prediction times the penalty at n = 60.
  const double expected100 = aligned100 * t60 / aligned60;
  CHECK(*m.predict_us({4, 100, 64}) == doctest::Approx(expected100));
  CHECK(expected100 == doctest::Approx(1.5 * 1e-6 * 4 * 100 * 64));
  CHECK(*TableModel(unaligned_gemm(), c).predict_us({4, 100, 64}) == doctest::Approx(1e-6 * 4 * 100 * 64));
  // Below the smallest aligned value the aligned part holds at n = 32; the penalty still applies.
  CHECK(*m.predict_us({4, 20, 64}) == doctest::Approx(t32 * t60 / aligned60));
}

TEST_CASE("alignment: leave-one-out skips unaligned points and uses aligned neighbours only") {
  OpTable t = unaligned_gemm();
  const Ceilings c = compute_bound();
  // Without alignment: n = 60 and n = 64 are interior along n and see the 1.5x column.
  const auto plain = TableModel(t, c).loo_interpolation_errors();
  CHECK(plain.size() == 10);  // m = 4 at 4 n values, n = 60 and 64 at 3 m values
  CHECK(summarize(plain).max_abs_pct > 10.0);

  t.alignment = {1, 8, 1};
  const TableModel m(t, c);
  const auto errors = m.loo_interpolation_errors();
  CHECK(errors.size() == 7);  // m = 4 at 4 n values, n = 64 (between 32 and 128) at 3 m values
  for (double e : errors) CHECK(std::fabs(e) < 1e-6);
  // The extrapolation to n = 128 (from n = 64) stays exact.
  const auto extra = m.loo_extrapolation_errors();
  CHECK_FALSE(extra.empty());
  for (double e : extra) CHECK(std::fabs(e) < 1e-6);
  refresh_errors(t, c);
  CHECK(t.loo_interpolation.points == 7);
  CHECK(t.loo_interpolation.max_abs_pct < 1e-6);
}

TEST_CASE("alignment survives the JSON round trip; bad values are diagnosed") {
  Profile p = small_profile();
  p.ops[0] = unaligned_gemm();
  p.ops[0].alignment = {1, 8, 1};
  refresh_errors(p.ops[0], p.ceilings);
  const std::string text = to_json_text(p);
  CHECK(text.find("\"alignment\"") != std::string::npos);
  CHECK(nlohmann::json::parse(text)["ops"][0]["alignment"] == nlohmann::json{{"n", 8}});
  io::Diagnostics d;
  auto back = parse_profile(nlohmann::json::parse(text), "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  CHECK(back->ops[0].alignment == std::vector<double>{1, 8, 1});
  CHECK(back->ops[0].quanta.empty());
  CHECK(back->ops[0].loo_interpolation.max_abs_pct < 1e-6);
  CHECK(*TableModel(back->ops[0], back->ceilings).predict_us({4, 100, 64}) ==
        doctest::Approx(1.5e-6 * 4 * 100 * 64).epsilon(1e-4));
  CHECK(to_json_text(*back) == text);
  // No alignment: no key.
  CHECK(to_json_text(small_profile()).find("\"alignment\"") == std::string::npos);

  nlohmann::json doc = nlohmann::json::parse(text);
  doc["ops"][0]["alignment"]["q"] = 8;  // not an axis
  doc["ops"][0]["alignment"]["n"] = 0;  // below 1
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  CHECK(bad.format_lines().find("p.json:/ops/0/alignment/q: unknown key") != std::string::npos);
  CHECK(bad.format_lines().find("p.json:/ops/0/alignment/n: expected an integer in [1, 1048576], found 0") !=
        std::string::npos);
}

namespace {

// An unpermute table whose time is a function of the bytes it moves,
// B = tokens · width · (top_k + 1), with a cliff where the rows fall out of L2:
// t = 2 + B / 1000 µs up to B = 200, 1 + B / 50 past it (plain log-space
// interpolation across widths mixes the two sides). tokens ∈ {1, 2, 4, ..., 64},
// width ∈ {8, 32, 128}, top_k ∈ {1, 3}.
double streaming_law_us(double tokens, double width, double top_k) {
  const double bytes = tokens * width * (top_k + 1);
  return bytes <= 200 ? 2.0 + bytes / 1000.0 : 1.0 + bytes / 50.0;
}

OpTable streaming_unpermute() {
  OpTable t;
  t.name = "unpermute";
  t.kind = models::OpKind::kUnpermute;
  t.dtype = DType::kBF16;
  t.axes = {"tokens", "width", "top_k"};
  t.grid = {{1, 2, 4, 8, 16, 32, 64}, {8, 32, 128}, {1, 3}};
  for (std::size_t f = 0; f < t.points(); ++f) {
    const auto x = t.point(f);
    t.time_us.push_back(streaming_law_us(x[0], x[1], x[2]));
  }
  return t;
}


}  // namespace

TEST_CASE("iso-bytes: each corner is read at the query's bytes; plain interpolation across widths is not") {
  const OpTable plain_t = streaming_unpermute();  // a model keeps a reference to its table
  OpTable t = streaming_unpermute();
  const Ceilings c = compute_bound();
  const TableModel plain(plain_t, c);
  // (4, 16, 1): B = 128. Plain: the widths 8 and 32 at 4 tokens (B = 64 and 256, across the cliff).
  const double plain_pred = *plain.predict_us({4, 16, 1});
  CHECK(plain_pred == doctest::Approx(std::sqrt(streaming_law_us(4, 8, 1) * streaming_law_us(4, 32, 1))));
  CHECK(plain_pred > 1.5 * streaming_law_us(4, 16, 1));

  t.iso_along = 0;
  t.iso_offset = {std::nan(""), 0, 1};
  CHECK_FALSE(t.iso_scales(0));
  CHECK(t.iso_scales(1));
  CHECK(t.iso_scales(2));
  const TableModel iso(t, c);
  // Width 8 read at 8 tokens and width 32 at 2 tokens: both B = 128, both on the grid.
  CHECK(*iso.predict_us({4, 16, 1}) == doctest::Approx(streaming_law_us(4, 16, 1)));
  CHECK(*iso.predict_us({2, 64, 1}) == doctest::Approx(streaming_law_us(2, 64, 1)));
  // top_k scales the bytes by (top_k + 1): top_k 3 at width 8 is read at 4 tokens for 2 tokens, top_k 1.
  CHECK(*iso.predict_us({2, 16, 3}) == doctest::Approx(streaming_law_us(2, 16, 3)));
  // Grid points are their measurements.
  CHECK(*iso.predict_us({8, 32, 3}) == doctest::Approx(streaming_law_us(8, 32, 3)));
  // Past the iso axis's grid at a corner (64 tokens at width 8 would be 128): the plain rule.
  CHECK(*iso.predict_us({64, 16, 1}) == doctest::Approx(*plain.predict_us({64, 16, 1})));
  // Below it, held at the smallest value like the plain rule.
  CHECK(*iso.predict_us({1, 16, 1}) > 0);

  // Leave-one-out along width (width 32 from 8 and 128, each read at the point's
  // bytes) is exact wherever the read stays on the grid; plain is not.
  const auto plain_loo = plain.loo_interpolation_errors();
  const auto iso_loo = iso.loo_interpolation_errors();
  CHECK(summarize(plain_loo).max_abs_pct > 50.0);
  auto over_10 = [](const std::vector<double>& errors) {
    int n = 0;
    for (double e : errors) n += std::fabs(e) > 10 ? 1 : 0;
    return n;
  };
  CHECK(over_10(iso_loo) < over_10(plain_loo));
  int exact = 0;
  for (double e : iso_loo) exact += std::fabs(e) < 1e-9 ? 1 : 0;
  CHECK(exact >= 6);  // width 32 at 4, 8, 16 tokens (widths 8 and 128 read at 4x and 1/4 the tokens), both top_k
}

TEST_CASE("iso-bytes survives the JSON round trip; bad values are diagnosed") {
  Profile p = small_profile();
  p.ops[0] = streaming_unpermute();
  p.ops[0].iso_along = 0;
  p.ops[0].iso_offset = {std::nan(""), 0, 1};
  refresh_errors(p.ops[0], p.ceilings);
  const std::string text = to_json_text(p);
  const auto iso_json = nlohmann::json::parse(text)["ops"][0]["iso_bytes"];
  CHECK(iso_json == nlohmann::json{{"along", "tokens"}, {"scale", {{"width", 0.0}, {"top_k", 1.0}}}});
  io::Diagnostics d;
  auto back = parse_profile(nlohmann::json::parse(text), "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  CHECK(back->ops[0].iso_along == 0);
  CHECK(back->ops[0].iso_scales(1));
  CHECK(back->ops[0].iso_offset[2] == 1.0);
  CHECK(*TableModel(back->ops[0], back->ceilings).predict_us({4, 16, 1}) ==
        doctest::Approx(streaming_law_us(4, 16, 1)).epsilon(1e-4));
  CHECK(to_json_text(*back) == text);
  CHECK(to_json_text(small_profile()).find("\"iso_bytes\"") == std::string::npos);

  nlohmann::json doc = nlohmann::json::parse(text);
  doc["ops"][0]["iso_bytes"]["along"] = "rows";          // not an axis
  doc["ops"][0]["iso_bytes"]["scale"]["width"] = -1;     // below 0
  doc["ops"][0]["iso_bytes"]["scale"]["experts"] = 0;    // not an axis of this table
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  const std::string lines = bad.format_lines();
  CHECK(lines.find("p.json:/ops/0/iso_bytes/along: expected one of the table's axes, found \"rows\"") !=
        std::string::npos);
  CHECK(lines.find("p.json:/ops/0/iso_bytes/scale/width: expected a number in [0, ") != std::string::npos);
  CHECK(lines.find("p.json:/ops/0/iso_bytes/scale/experts: unknown key") != std::string::npos);
}

TEST_CASE("production tables: recorded per table, picked by the scenario's kernels, masim's table as fallback") {
  // masim's table: t = 1e-6 m·n·k us. The production one: twice that on the same
  // grid except the cell m in [4, 16] (m = 16 unmeasured), where masim's applies.
  Profile p = small_profile();
  OpTable prod = power_law_gemm();
  prod.kernels = kKernelsProduction;
  prod.implementation = "cublasLtMatmul heuristic top-1";
  for (std::size_t f = 0; f < prod.points(); ++f) {
    prod.time_us[f] = prod.point(f)[0] == 16 ? std::nan("") : 2 * prod.time_us[f];
  }
  p.ops.push_back(prod);
  const auto small = models::make_gemm("x", 2, 128, 100, DType::kBF16);   // inside m in [1, 4]
  const auto large = models::make_gemm("y", 8, 128, 100, DType::kBF16);   // inside m in [4, 16]
  {
    ProfileCostModel m(p, "p.json", h200_spec());  // default: production
    CHECK(m.cost(small).time == SimTime::us(2 * 0.0256));
    CHECK(m.cost(large).time == SimTime::us(1e-6 * 8 * 128 * 100));  // production cell has a hole: masim's
    CHECK(m.describe().find("production kernels for gemm_bf16") != std::string::npos);
  }
  {
    ProfileCostModel m(p, "p.json", h200_spec(), kKernelsMasim);
    CHECK(m.cost(small).time == SimTime::us(0.0256));
    CHECK(m.describe().find("masim's own kernels") != std::string::npos);
  }
  // Round trip keeps "kernels"; find() is masim's table, find(name, kernels) either.
  const std::string text = to_json_text(p);
  io::Diagnostics d;
  auto back = parse_profile(nlohmann::json::parse(text), "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  REQUIRE(back->find("gemm_bf16") != nullptr);
  CHECK(back->find("gemm_bf16")->kernels == kKernelsMasim);
  REQUIRE(back->find("gemm_bf16", kKernelsProduction) != nullptr);
  CHECK(back->find("gemm_bf16", kKernelsProduction)->implementation == "cublasLtMatmul heuristic top-1");
  CHECK(to_json_text(*back) == text);
  // Bad values and two tables of one name and implementation are diagnostics.
  nlohmann::json doc = nlohmann::json::parse(text);
  doc["ops"][1]["kernels"] = "torch";
  doc["ops"].push_back(doc["ops"][0]);
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  CHECK(bad.format_lines().find("p.json:/ops/1/kernels: expected \"masim\" or \"production\", found \"torch\"") !=
        std::string::npos);
  CHECK(bad.format_lines().find("p.json:/ops/2/name: duplicate op table \"gemm_bf16\" (kernels \"masim\")") !=
        std::string::npos);
}

namespace {

// A two-by-two table of `kind` whose every point takes `us` (constant, so any
// query inside the grid is priced at exactly `us`).
OpTable flat_table(models::OpKind kind, const std::string& kernels, double us) {
  OpTable t;
  t.kind = kind;
  t.dtype = DType::kBF16;
  t.name = table_name(kind, DType::kBF16, 0);
  t.kernels = kernels;
  t.axes = canonical_axes(kind);
  for (const std::string& a : t.axes) {
    if (a == "top_k") {
      t.grid.push_back({1, 8});
    } else if (a == "operands") {
      t.grid.push_back({2, 3});
    } else if (a == "experts") {
      t.grid.push_back({8, 256});
    } else if (a == "elements") {
      t.grid.push_back({64, 1 << 26});
    } else {
      t.grid.push_back({1, 16384});
    }
  }
  t.time_us.assign(t.points(), us);
  return t;
}

}  // namespace

TEST_CASE("small-op production tables: each unfused op kind is priced from its production table first") {
  using models::OpKind;
  Profile p = small_profile();
  const std::vector<OpKind> kinds = {OpKind::kRmsNorm, OpKind::kRouterTopK, OpKind::kSwiGLU,
                                     OpKind::kPermute, OpKind::kUnpermute,  OpKind::kElementwise};
  for (OpKind k : kinds) {
    p.ops.push_back(flat_table(k, kKernelsMasim, 3.0));       // masim's fused kernels
    p.ops.push_back(flat_table(k, kKernelsProduction, 11.0));  // PyTorch's unfused calls
  }
  const std::vector<models::Op> ops = {
      models::make_rmsnorm("input_norm", 128, 4096, DType::kBF16),
      models::make_router_topk("router_topk", 128, 64, 6),
      models::make_swiglu("expert_swiglu", 768, 1408, DType::kBF16),
      models::make_permute("permute", 128, 4096, 6, DType::kBF16),
      models::make_unpermute("unpermute", 128, 4096, 6, DType::kBF16),
      models::make_elementwise("residual", 128, 4096, 2, DType::kBF16)};
  ProfileCostModel prod(p, "p.json", h200_spec());
  ProfileCostModel own(p, "p.json", h200_spec(), kKernelsMasim);
  for (const models::Op& op : ops) {
    CAPTURE(op.label);
    CHECK(prod.cost(op).time == SimTime::us(11.0));
    CHECK(prod.cost(op).source == models::CostSource::kProfile);
    CHECK(own.cost(op).time == SimTime::us(3.0));
  }
  for (const char* n : {"rmsnorm", "router_topk", "swiglu", "permute", "unpermute", "elementwise"}) {
    CHECK(prod.describe().find(n) != std::string::npos);
  }
  // The JSON masim-calibrate-torch smallops writes (one table, "kernels": "production")
  // parses, and an axis list that is not the kind's is diagnosed with its pointer.
  const nlohmann::json table = {{"name", "router_topk"},
                                {"op", "router_topk"},
                                {"dtype", "bf16"},
                                {"kernels", "production"},
                                {"implementation", "at::softmax + at::topk + renormalize"},
                                {"axes", {"tokens", "experts", "top_k"}},
                                {"grid", {{"tokens", {1, 256}}, {"experts", {8, 128}}, {"top_k", {2, 8}}}},
                                {"time_us", {9, 10, 11, 12, 13, 14, 15, 16}},
                                {"status", std::vector<std::string>(8, "ok")}};
  nlohmann::json doc = nlohmann::json::parse(to_json_text(small_profile()));
  doc["ops"].push_back(table);
  io::Diagnostics d;
  auto back = parse_profile(doc, "p.json", d);
  REQUIRE_MESSAGE(back, d.format_lines());
  REQUIRE(back->find("router_topk", kKernelsProduction) != nullptr);
  ProfileCostModel m(*back, "p.json", h200_spec());
  // Corner (256 tokens, 128 experts, top-8) is the last point.
  CHECK(m.cost(models::make_router_topk("r", 256, 128, 8)).time == SimTime::us(16));
  doc["ops"][1]["axes"] = {"tokens", "top_k", "experts"};
  io::Diagnostics bad;
  CHECK_FALSE(parse_profile(doc, "p.json", bad));
  CHECK(bad.format_lines().find("p.json:/ops/1/axes: a router_topk table has axes [tokens, experts, top_k]") !=
        std::string::npos);
}

TEST_CASE("power cap: a compute-bound op above the cap takes its dynamic energy at cap - idle; others keep their time") {
  Profile p;
  p.provenance.gpu_name = "NVIDIA H200";
  p.ceilings.bf16_flops_per_s = 1e15;  // ridge: 1e15 / 3e12 = 333 FLOP per byte
  p.ceilings.copy_bytes_per_s = 3e12;
  OpTable g = flat_table(models::OpKind::kGemm, kKernelsProduction, 100.0);
  g.name = "gemm_bf16";
  g.axes = {"m", "n", "k"};
  g.grid = {{1, 8192}, {1024, 8192}, {1024, 8192}};
  g.time_us.assign(g.points(), 100.0);
  p.ops.push_back(g);
  p.ops.push_back(flat_table(models::OpKind::kRmsNorm, kKernelsProduction, 0.01));
  models::PowerFit f;
  f.idle_w = 100;
  f.tensor_pj_per_flop = 1.0;
  f.hbm_pj_per_byte = 100.0;
  f.cap_w = 700;
  p.power_model = f;
  ProfileCostModel capped(p, "p.json", h200_spec());
  // 4096^3 bf16: 2·4096^3 = 137,438,953,472 FLOPs and 2·3·4096^2 = 100,663,296 bytes
  // (1,365 FLOP/B, compute-bound). At 100 us it would draw 100 W + 1,475 W > 700 W,
  // so it runs at the cap: (1 pJ · 137,438,953,472 + 100 pJ · 100,663,296) / 600 W.
  const auto big = models::make_gemm("g", 4096, 4096, 4096, DType::kBF16);
  const double want_s = (137438953472.0 + 100.0 * 100663296.0) * 1e-12 / 600.0;
  CHECK(capped.cost(big).time.seconds() == doctest::Approx(want_s).epsilon(1e-6));
  CHECK(want_s * 1e6 == doctest::Approx(245.84).epsilon(1e-4));
  CHECK(*capped.profile_us(big) == doctest::Approx(100.0));  // the table's time, before the cap
  // m = 1 (a GEMV, ~1 FLOP/B): HBM-bound, not slowed although at 1,000 pJ/B its
  // demand exceeds the cap (100 W + 0.134 J / 100 us).
  Profile hot = p;
  hot.power_model->hbm_pj_per_byte = 1000;
  ProfileCostModel hot_model(hot, "p.json", h200_spec());
  const auto gemv = models::make_gemm("v", 1, 8192, 8192, DType::kBF16);
  CHECK(hot_model.power_fit()->demand_w(gemv, SimTime::us(100)) > 700);
  CHECK(hot_model.cost(gemv).time == SimTime::us(100.0));
  // An RMSNorm priced at 10 ns draws far above the cap in the model, but is HBM-bound.
  CHECK(capped.cost(models::make_rmsnorm("n", 128, 4096, DType::kBF16)).time == SimTime::us(0.01));
  // Below the cap: 4096^3 at 400 us draws 100 + 369 W: unchanged.
  for (double& t : p.ops[0].time_us) t = 400.0;
  ProfileCostModel slow(p, "p.json", h200_spec());
  CHECK(slow.cost(big).time == SimTime::us(400.0));
  // No power model: no cap.
  p.power_model.reset();
  for (double& t : p.ops[0].time_us) t = 100.0;
  ProfileCostModel plain(p, "p.json", h200_spec());
  CHECK(plain.cost(big).time == SimTime::us(100.0));
  CHECK(capped.describe().find("slowed to it") != std::string::npos);
}
