// The validation scenarios of masim-calibrate load, fit on one H200 and map
// every op of their decode step onto a profile table (so validation compares
// profile predictions, not roofline fallbacks).
#include <doctest/doctest.h>

#include <string>

#include "sim/frontend/scenario.hpp"
#include "sim/models/model_params.hpp"
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
