#include "calibrate/production_steps.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "sim/frontend/scenario.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/models/model_params.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/workload/layer_ops.hpp"

namespace masim::calibrate {

using json = nlohmann::json;

namespace {

double pct(double pred, double meas) { return meas > 0 ? 100.0 * (pred - meas) / meas : 0.0; }

json stats_json(const ErrorStats& s) {
  return json{{"points", s.points},
              {"median_abs_pct", s.median_abs_pct},
              {"p95_abs_pct", s.p95_abs_pct},
              {"bias_pct", s.bias_pct},
              {"min_pct", s.min_pct},
              {"max_pct", s.max_pct}};
}

bool is_dense_gemm(const std::string& op) {
  return op == "qkv_proj" || op == "o_proj" || op == "router" || op == "shared_gate_up" || op == "shared_down";
}

struct ModelEntry {
  spec::ModelSpec model;
  std::unique_ptr<models::ComputeCostModel> cost;
};

}  // namespace

std::optional<ProductionStepsResult> price_production_steps(const json& report, const std::string& report_file,
                                                            const json& spec, const std::string& spec_file,
                                                            const std::string& profile_path,
                                                            const std::string& kernels, const std::string& hardware,
                                                            io::Diagnostics& diags) {
  const std::size_t before = diags.size();
  if (!spec.is_object() || !spec.contains("models") || !spec["models"].is_array()) {
    diags.error(spec_file, "/models", "expected an array of models");
    return std::nullopt;
  }
  if (!report.is_object() || !report.contains("steps") || !report["steps"].is_array()) {
    diags.error(report_file, "/steps", "expected masim-calibrate-torch's steps report (an array \"steps\")");
    return std::nullopt;
  }
  const std::filesystem::path dir = std::filesystem::path(spec_file).parent_path();
  std::map<std::string, ModelEntry> models;
  for (std::size_t i = 0; i < spec["models"].size(); ++i) {
    const json& m = spec["models"][i];
    const std::string ptr = io::pointer_join("/models", i);
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("scenario") ||
        !m["scenario"].is_string()) {
      diags.error(spec_file, ptr, "expected an object with \"name\" and \"scenario\"");
      continue;
    }
    const std::string scen_path = (dir / m["scenario"].get<std::string>()).string();
    // The scenario as written, on `hardware` when given (a profile of another GPU).
    auto doc = io::load_json_file(scen_path, diags);
    if (!doc) continue;
    if (!hardware.empty()) {
      // "HARDWARE[,TOPOLOGY]": the topology must name the same GPU model.
      const auto comma = hardware.find(',');
      (*doc)["hardware"] = std::filesystem::absolute(hardware.substr(0, comma)).lexically_normal().string();
      if (comma != std::string::npos) {
        (*doc)["topology"] = std::filesystem::absolute(hardware.substr(comma + 1)).lexically_normal().string();
      }
    }
    auto scen = frontend::parse_scenario(*doc, scen_path, diags);
    if (!scen) continue;
    scen->profile_path = profile_path;
    scen->kernels = kernels;
    scen->file.clear();
    const spec::ModelSpec& ms = scen->model;
    const int kv = ms.attention == spec::AttentionKind::kMHA ? ms.num_heads : ms.num_kv_heads;
    const std::vector<std::pair<const char*, long long>> dims = {
        {"hidden_size", ms.hidden_size}, {"num_heads", ms.num_heads},   {"num_kv_heads", kv},
        {"head_dim", ms.head_dim},       {"num_experts", ms.num_experts}, {"top_k", ms.top_k},
        {"expert_ffn_size", ms.expert_ffn_size},
        {"shared_expert_ffn_size", static_cast<long long>(ms.num_shared_experts) * ms.shared_expert_ffn_size}};
    for (const auto& [key, want] : dims) {
      const long long got = m.contains(key) && m[key].is_number_integer() ? m[key].get<long long>() : -1;
      if (got != want) {
        diags.error(spec_file, ptr + "/" + key,
                    "the GPU ran " + std::to_string(got) + ", the scenario's model (" + scen_path + ") has " +
                        std::to_string(want));
      }
    }
    auto cost = profile::make_cost_model(*scen, diags);
    if (!cost) continue;
    models[m["name"].get<std::string>()] = ModelEntry{ms, std::move(cost)};
  }
  if (diags.size() != before) return std::nullopt;

  ProductionStepsResult res;
  std::vector<double> dec, pre, gemm, grouped, attn;
  json steps = json::array();
  const json& rs = report["steps"];
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const json& st = rs[i];
    const std::string ptr = io::pointer_join("/steps", i);
    const std::string name = st.value("model", "");
    const auto it = models.find(name);
    if (it == models.end()) {
      diags.error(report_file, ptr + "/model", "model \"" + name + "\" is not in " + spec_file);
      continue;
    }
    const spec::ModelSpec& m = it->second.model;
    const models::ComputeCostModel& cost = *it->second.cost;
    const bool prefill = st.value("phase", "") == "prefill";
    const std::int64_t B = st.value("batch", 0);
    const std::int64_t C = st.value(prefill ? "seq" : "context", 0);
    const int layers = st.value("layers_run", 0);
    const std::vector<std::int64_t> counts = st.value("tokens_per_expert", std::vector<std::int64_t>{});
    const std::int64_t T = prefill ? B * C : B;
    if (B < 1 || C < 1 || layers < 1 || layers > m.num_layers || static_cast<int>(counts.size()) != m.num_experts) {
      diags.error(report_file, ptr, "expected batch, context (seq), layers_run and one tokens_per_expert per expert");
      continue;
    }
    std::map<std::string, double> pred;
    std::map<std::string, std::string> source;
    for (int l = 0; l < layers; ++l) {
      const std::vector<models::Op> ops = workload::single_gpu_layer(
          m, l, prefill ? workload::AttentionShard{1, B, C, C, true} : workload::AttentionShard{1, B, 1, C, false}, T,
          counts);
      std::map<std::string, int> seen;
      for (const models::Op& op : ops) {
        std::string key(op.label);
        const int n = ++seen[key];
        if (n > 1) key += "#" + std::to_string(n);
        const models::OpCost c = cost.cost(op);
        pred[key] += c.time.us() / layers;
        source[key] = models::to_string(c.source);
      }
    }
    double pred_step = 0;
    for (const auto& [k, v] : pred) pred_step += v * layers;
    const double meas_step = st.value("step_measured_us", 0.0);
    const double err = pct(pred_step, meas_step);
    (prefill ? pre : dec).push_back(err);
    json ops = json::array();
    for (const json& o : st.value("ops", json::array())) {
      const std::string op = o.value("op", "");
      const double meas = o.value("measured_us", 0.0);
      json r = {{"op", op}, {"measured_us", meas}};
      if (o.contains("form")) r["form"] = o["form"];
      if (pred.count(op)) {
        const double e = pct(pred[op], meas);
        r["predicted_us"] = pred[op];
        r["error_pct"] = e;
        r["source"] = source[op];
        if (is_dense_gemm(op) && meas >= 50) gemm.push_back(e);
        if (op == "expert_gate_up" || op == "expert_down") grouped.push_back(e);
        if (op == "attention" && !prefill) attn.push_back(e);
      } else {
        r["note"] = "masim has no such op";
      }
      ops.push_back(r);
    }
    const json measured_ops = st.value("ops", json::array());
    for (const auto& kv : pred) {
      // Not a structured binding: clang 14 (the sanitizer build) cannot capture one in a lambda.
      const std::string& k = kv.first;
      const bool run = std::any_of(measured_ops.begin(), measured_ops.end(),
                                   [&k](const json& o) { return o.value("op", "") == k; });
      if (!run) ops.push_back(json{{"op", k}, {"predicted_us", kv.second}, {"note", "not run by the step"}});
    }
    steps.push_back(json{{"model", name},
                         {"phase", prefill ? "prefill" : "decode"},
                         {"batch", B},
                         {prefill ? "seq" : "context", C},
                         {"layers_run", layers},
                         {"step_measured_us", meas_step},
                         {"step_predicted_us", pred_step},
                         {"step_error_pct", err},
                         {"ops", ops}});
  }
  if (diags.size() != before) return std::nullopt;
  res.decode = error_stats(dec);
  res.prefill = error_stats(pre);
  res.gemm_50us = error_stats(gemm);
  res.grouped_gemm = error_stats(grouped);
  res.decode_attention = error_stats(attn);
  res.report = json{{"kind", "masim-production-steps-priced"},
                    {"steps_report", report_file},
                    {"steps_spec", spec_file},
                    {"profile", profile_path},
                    {"kernels", kernels},
                    {"gpu", report.contains("provenance") ? report["provenance"].value("gpu_name", "") : ""},
                    {"summary",
                     {{"decode_steps", stats_json(res.decode)},
                      {"prefill_steps", stats_json(res.prefill)},
                      {"dense_gemms_50us", stats_json(res.gemm_50us)},
                      {"expert_grouped_gemms", stats_json(res.grouped_gemm)},
                      {"decode_attention", stats_json(res.decode_attention)}}},
                    {"steps", steps}};
  return res;
}

}  // namespace masim::calibrate
