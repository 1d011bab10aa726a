#include "calibrate/model_shapes.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <utility>

#include "sim/common/rng.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/models/model_params.hpp"
#include "sim/profile/op_map.hpp"
#include "sim/workload/layer_ops.hpp"
#include "sim/workload/routing.hpp"

namespace masim::calibrate {

std::vector<std::string> default_model_scenarios() {
  return {"calibrate/validation/qwen3-30b-a3b.json", "calibrate/validation/mixtral-8x7b.json",
          "calibrate/validation/qwen1.5-moe-a2.7b.json", "calibrate/validation/seed-moe-4l.json"};
}

std::vector<double> measured_shape(std::vector<double> x) {
  for (double& v : x) v = std::max(1.0, std::round(v));
  return x;
}

bool on_grid(const std::vector<std::vector<double>>& grid, const std::vector<double>& x) {
  if (x.size() != grid.size()) return false;
  for (std::size_t a = 0; a < x.size(); ++a) {
    if (!std::binary_search(grid[a].begin(), grid[a].end(), x[a])) return false;
  }
  return true;
}

std::vector<ModelShape> off_grid_shapes(const std::vector<ModelShape>& all, const std::string& table,
                                        const std::vector<std::vector<double>>& grid) {
  std::vector<ModelShape> out;
  for (const ModelShape& m : all) {
    if (m.table != table) continue;
    ModelShape s = m;
    s.x = measured_shape(std::move(s.x));
    if (on_grid(grid, s.x)) continue;
    if (std::any_of(out.begin(), out.end(), [&](const ModelShape& o) { return o.x == s.x; })) continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<NamedModel> load_models(const std::vector<std::string>& scenario_files, io::Diagnostics& diags) {
  std::vector<NamedModel> out;
  for (const std::string& f : scenario_files) {
    auto scen = frontend::load_scenario(f, diags);
    if (!scen) continue;
    out.push_back(NamedModel{std::filesystem::path(f).stem().string(), scen->model, scen->workload.routing});
  }
  return out;
}

namespace {

std::int64_t log_uniform(Rng& rng, double lo, double hi) {
  return std::llround(std::exp(std::log(lo) + rng.uniform() * (std::log(hi) - std::log(lo))));
}

}  // namespace

std::vector<ModelShape> model_shapes(const std::vector<NamedModel>& models, int draws, std::uint64_t seed) {
  std::vector<ModelShape> out;
  std::set<std::pair<std::string, std::vector<double>>> seen;
  for (std::size_t mi = 0; mi < models.size(); ++mi) {
    const spec::ModelSpec& m = models[mi].model;
    int moe_layer = -1;
    int dense_layer = -1;
    for (int l = 0; l < m.num_layers; ++l) {
      if (models::is_moe_layer(m, l)) {
        if (moe_layer < 0) moe_layer = l;
      } else if (dense_layer < 0) {
        dense_layer = l;
      }
    }
    Rng rng = Rng(seed).fork(mi + 1);
    for (int d = 0; d < draws; ++d) {
      const std::int64_t batch = log_uniform(rng, 8, 256);
      const std::int64_t context = log_uniform(rng, 512, 4096);
      const std::string tag = models[mi].name + " b=" + std::to_string(batch) + " c=" + std::to_string(context) + " ";
      std::vector<models::Op> ops;
      auto append = [&](std::vector<models::Op> more) {
        for (models::Op& o : more) ops.push_back(std::move(o));
      };
      workload::AttentionShard a;
      a.sequences = batch;
      a.context = context;
      const int layer = moe_layer >= 0 ? moe_layer : 0;
      append(workload::attention_block(m, layer, a));
      if (moe_layer >= 0) {
        append(workload::router_block(m, moe_layer, batch));
        workload::ExpertRouter router(models[mi].routing, m.num_experts, m.top_k, Rng(rng.next_u64()));
        const workload::RoutingSample r = router.sample(batch);
        append(workload::expert_block(m, moe_layer, workload::ExpertShard{1, r.tokens_per_expert}));
        append(workload::shared_expert_block(m, moe_layer, batch, 1));
        append(workload::combine_block(m, moe_layer, batch));
      }
      if (dense_layer >= 0) append(workload::dense_ffn_block(m, dense_layer, batch, 1));
      for (const models::Op& op : ops) {
        auto q = profile::table_query(op);
        if (!q) continue;
        if (!seen.insert({q->table, q->x}).second) continue;
        out.push_back(ModelShape{q->table, q->x, tag + std::string(op.label)});
      }
    }
  }
  return out;
}

}  // namespace masim::calibrate
