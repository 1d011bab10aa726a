#include "calibrate/quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "calibrate/benches.hpp"
#include "calibrate/run.hpp"
#include "sim/profile/op_map.hpp"
#include "sim/profile/profile.hpp"

namespace masim::calibrate {

using nlohmann::json;

namespace {

struct Row {
  std::string table;
  std::vector<double> x;
  std::string note;
};

}  // namespace

int run_quality(const QualityOptions& opt) {
  Device dev(static_cast<std::size_t>(30.0 * 1073741824.0));
  TimingOptions timing;
  timing.window_ms = 40;
  json report = json::object();
  report["gpu"] = dev.props().name;
  report["date_utc"] = utc_now();
  json rows = json::array();
  int wrong = 0;
  std::uint64_t seed = 0x9A17ull;
  auto run = [&](Bench& b, const std::vector<double>& x) -> json {
    json r = measure_point(dev, b, x, false, 28, timing, ++seed);
    if (r.value("status", "") == "wrong") ++wrong;
    if (r.value("status", "") != "ok") {
      std::printf("%-22s %-40s %s %s\n", b.table().c_str(), json(x).dump().c_str(), r.value("status", "?").c_str(),
                  r.value("detail", "").c_str());
      return r;
    }
    profile::OpTable t;
    t.name = b.table();
    t.kind = b.kind();
    t.dtype = b.dtype();
    t.head_dim = b.head_dim();
    const models::Op op = profile::representative_op(t, x);
    const double s = r["time_us"].get<double>() * 1e-6;
    r["tflops"] = op.flops.count() / s * 1e-12;
    r["tb_per_s"] = op.bytes.as_double() / s * 1e-12;
    std::printf("%-22s %-40s %10.2f us %8.1f TFLOP/s %7.3f TB/s  spread %.1f%%\n", b.table().c_str(),
                json(x).dump().c_str(), r["time_us"].get<double>(), r["tflops"].get<double>(),
                r["tb_per_s"].get<double>(), r["spread_pct"].get<double>());
    return r;
  };

  // 1. The copy ceiling: the best of the copy kernel over large sizes (bytes read + written).
  auto copy = make_bench("memcpy_d2d");
  double copy_tbs = 0;
  json copies = json::array();
  for (double bytes : {67108864.0, 268435456.0, 1073741824.0, 2147483648.0}) {
    const json c = run(*copy, {bytes});
    copy_tbs = std::max(copy_tbs, c.value("tb_per_s", 0.0));
    copies.push_back(c);
  }
  report["copy"] = copies;
  report["copy_tb_per_s"] = copy_tbs;

  // 2. Decode attention at large batch × context, GQA groups 1..16 (head_dim 128),
  //    the automatic choice and both variants.
  json dec_rows = json::array();
  const std::vector<std::vector<double>> dec_shapes =
      opt.quick ? std::vector<std::vector<double>>{{256, 4096, 4}}
                : std::vector<std::vector<double>>{{2048, 4096, 1}, {2048, 4096, 2}, {2048, 4096, 4}, {2048, 4096, 8},
                                                   {1024, 4096, 16}, {512, 16384, 8}, {256, 8192, 4}};
  for (int variant : {0, 1, 2, 3, 4}) {
    auto dec = make_decode_bench(128, variant);
    for (const auto& x : dec_shapes) {
      if (variant >= 2 && x[2] < 3) continue;
      json r = run(*dec, x);
      r["variant"] = variant;
      if (r.contains("tb_per_s") && copy_tbs > 0) r["fraction_of_copy"] = r["tb_per_s"].get<double>() / copy_tbs;
      dec_rows.push_back(r);
    }
  }
  report["decode_attention"] = dec_rows;
  // 2b. Shapes that fill resident blocks unevenly (batch × KV heads just past a
  //     wave, short contexts): the split-count variant (2) against the balanced one (4).
  json uneven = json::array();
  const std::vector<std::vector<double>> uneven_shapes =
      opt.quick ? std::vector<std::vector<double>>{{276, 583, 8}}
                : std::vector<std::vector<double>>{{276, 583, 8},  {297, 164, 12}, {36, 5573, 11}, {52, 2035, 8},
                                                   {136, 933, 4},  {1613, 472, 12}, {67, 7521, 14}, {9, 1192, 7}};
  for (int variant : {2, 4}) {
    auto dec = make_decode_bench(128, variant);
    for (const auto& x : uneven_shapes) {
      json r = run(*dec, x);
      r["variant"] = variant;
      uneven.push_back(r);
    }
  }
  report["decode_attention_uneven"] = uneven;

  // 3. Grouped GEMM vs one dense GEMM of the same total FLOPs (m_dense = groups · m).
  using Mode = kernels::cuda::GroupedGemm::Mode;
  auto batched = make_grouped_bench(Mode::kGroupedBatched);
  auto looped = make_grouped_bench(Mode::kLoop);
  auto automatic = make_grouped_bench(Mode::kAuto);
  auto dense = make_bench("gemm_bf16");
  json gg = json::array();
  const std::vector<std::vector<double>> gshapes =
      opt.quick ? std::vector<std::vector<double>>{{8, 512, 4096, 4096}}
                : std::vector<std::vector<double>>{{8, 2048, 14336, 4096}, {8, 2048, 4096, 14336},
                                                   {16, 1024, 4096, 4096}, {64, 512, 1536, 2048}, {128, 64, 1536, 2048}};
  for (const auto& x : gshapes) {
    const json g = run(*batched, x);
    const json l = run(*looped, x);
    const json a = run(*automatic, x);
    const json d = run(*dense, {x[0] * x[1], x[2], x[3]});
    json row = {{"groups", x[0]}, {"m_per_group", x[1]}, {"n", x[2]}, {"k", x[3]},
                {"grouped", g},   {"loop", l},          {"auto", a},  {"dense", d}};
    auto ratio = [&](const json& num, const char* key) {
      if (num.contains("time_us") && d.contains("time_us")) row[key] = num["time_us"].get<double>() / d["time_us"].get<double>();
    };
    ratio(g, "grouped_over_dense");
    ratio(l, "loop_over_dense");
    ratio(a, "auto_over_dense");
    gg.push_back(row);
  }
  report["grouped_vs_dense"] = gg;

  // 4. Every op at representative decode-step shapes.
  const std::vector<Row> reps = {
      {"gemm_bf16", {64, 6144, 4096}, "decode QKV, batch 64"},
      {"gemm_bf16", {8192, 8192, 8192}, "large square"},
      {"gemm_fp8", {8192, 8192, 8192}, "large square"},
      {"grouped_gemm_bf16", {8, 16, 28672, 4096}, "Mixtral experts gate/up, 64 tokens top-2"},
      {"grouped_gemm_bf16", {128, 8, 1536, 2048}, "Qwen3-30B experts gate/up, 128 tokens top-8"},
      {"attention_decode_d128", {512, 2048, 4}, "batch 64 x 8 KV heads, context 2048"},
      {"attention_prefill_d128", {256, 4096}, "8 x 32 heads, 4096 tokens"},
      {"attention_prefill_d64", {256, 4096}, "head_dim 64"},
      {"rmsnorm", {256, 4096}, ""},
      {"router_topk", {256, 64, 8}, ""},
      {"permute", {256, 4096, 8}, ""},
      {"unpermute", {256, 4096, 8}, ""},
      {"swiglu", {2048, 14336}, ""},
      {"elementwise", {1048576, 2}, ""},
      {"memcpy_h2d", {268435456}, ""},
      {"memcpy_d2h", {268435456}, ""},
  };
  json per_op = json::array();
  for (const Row& row : reps) {
    auto b = make_bench(row.table);
    if (!b) continue;
    json r = run(*b, row.x);
    r["note"] = row.note;
    per_op.push_back(r);
  }
  report["per_op"] = per_op;

  std::printf("\nSUMMARY copy %.3f TB/s\n", copy_tbs);
  for (const auto& r : dec_rows) {
    if (r.contains("fraction_of_copy")) {
      std::printf("SUMMARY decode attention variant %d %s: %.3f TB/s = %.1f%% of copy (target >= 80%%)\n",
                  r["variant"].get<int>(), r["x"].dump().c_str(), r["tb_per_s"].get<double>(),
                  100 * r["fraction_of_copy"].get<double>());
    }
  }
  for (const auto& r : uneven) {
    if (r.contains("time_us")) {
      std::printf("SUMMARY decode attention uneven variant %d %s: %.2f us (%s)\n", r["variant"].get<int>(),
                  r["x"].dump().c_str(), r["time_us"].get<double>(), r.value("status", "?").c_str());
    } else {
      std::printf("SUMMARY decode attention uneven variant %d %s: %s\n", r["variant"].get<int>(), r["x"].dump().c_str(),
                  r.dump().c_str());
    }
  }
  for (const auto& r : gg) {
    std::printf("SUMMARY grouped %sx%s n=%s k=%s: grouped/dense %.3f, loop/dense %.3f, auto/dense %.3f (target <= 1.10)\n",
                r["groups"].dump().c_str(), r["m_per_group"].dump().c_str(), r["n"].dump().c_str(),
                r["k"].dump().c_str(), r.value("grouped_over_dense", 0.0), r.value("loop_over_dense", 0.0),
                r.value("auto_over_dense", 0.0));
  }
  if (!opt.out.empty()) profile::write_text_atomic(opt.out, report.dump(1) + "\n");
  return wrong > 0 ? 1 : 0;
}

}  // namespace masim::calibrate
