// Front end: parsers, units, every cross-field rule, Hugging Face import with
// parameter counts against published totals, the resolved echo (round trip and
// determinism), file references and the embedded file table.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/frontend/echo.hpp"
#include "sim/frontend/files.hpp"
#include "sim/frontend/parse.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/frontend/validate.hpp"
#include "sim/io/json_reader.hpp"
#include "sim/models/model_params.hpp"

using namespace masim;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scenario as if it lived in scenarios/paper/ (its references resolve there).
constexpr const char* kHere = "scenarios/paper/test.json";

json base_scenario() {
  return json::parse(R"({
    "schema": 1, "name": "t", "seed": 7,
    "hardware": "../hardware/a100-sxm4-80gb.json",
    "topology": "../../topologies/dgx-a100-x2.json",
    "model": "../models/seed-moe-4l.json",
    "workload": {"kind": "decode", "batch": 384, "context_length": 2048},
    "layouts": [
      {"name": "TP=8", "kind": "tp", "tp": 8, "dp": 2},
      {"name": "PP=2", "kind": "pp", "pp": 2, "dp": 8, "micro_batches": 2},
      {"name": "TP=8, PP=2", "kind": "tp_pp", "tp": 8, "pp": 2, "micro_batches": 2},
      {"name": "EP=16", "kind": "ep", "ep": 16},
      {"name": "MA", "kind": "ma_separation",
       "ma": {"attention_gpus": [0,1,2,3,4,5,6,7], "expert_gpus": [8,9,10,11,12,13,14,15], "attention_tp": 2}}
    ]})");
}

// The seed model inline (so tests can change it).
json seed_model() {
  json m = json::parse(read_text("scenarios/models/seed-moe-4l.json"));
  m.erase("schema");
  return m;
}

io::Diagnostics diagnose(const json& doc) {
  io::Diagnostics d;
  frontend::parse_scenario(doc, kHere, d);
  return d;
}

std::optional<spec::ModelSpec> load_model(const std::string& path, io::Diagnostics& d) {
  const json doc = json::parse(read_text(path));
  frontend::SourceMap where;
  const frontend::ParseContext ctx{path, "", d, where};
  if (frontend::is_hf_config(doc)) return frontend::import_hf_config(doc, ctx, frontend::file_stem(path));
  return frontend::parse_model(doc, ctx, frontend::SchemaRule::kRequired, frontend::file_stem(path));
}

}  // namespace

TEST_CASE("shipped hardware files parse to their datasheet figures") {
  io::Diagnostics d;
  auto a100 = frontend::load_scenario("scenarios/paper/seed_study.json", d);
  REQUIRE_MESSAGE(a100, d.format());
  const spec::GpuSpec& g = a100->hardware.gpu;
  CHECK(g.name == "NVIDIA A100-SXM4-80GB");
  CHECK(a100->hardware.id == "a100-sxm4-80gb");
  CHECK(g.peak_flops.at(spec::DType::kBF16).per_s() == 312e12);
  CHECK(g.peak_flops.at(spec::DType::kFP32).per_s() == 19.5e12);
  CHECK(g.peak_flops.count(spec::DType::kFP8) == 0);  // Ampere has no FP8 tensor cores
  CHECK(g.hbm_bandwidth.bytes_per_s() == 2039e9);
  CHECK(g.hbm_capacity.count() == 80'000'000'000);
  CHECK(g.tdp_w == 400.0);
  CHECK(g.idle_w == 50.0);
  CHECK(g.kernel_launch_overhead == SimTime::us(4));  // documented default, not in the file
  CHECK(g.matmul_efficiency == 0.75);
  CHECK(g.sources.size() >= 2);

  for (const auto& [file, bw, cap, bf16] : {std::tuple{"h100-sxm5-80gb", 3.35e12, 80e9, 989.4e12},
                                             std::tuple{"h200-sxm-141gb", 4.8e12, 141e9, 989.4e12}}) {
    const std::string path = std::string("scenarios/hardware/") + file + ".json";
    frontend::SourceMap where;
    io::Diagnostics dh;
    auto h = frontend::parse_hardware(json::parse(read_text(path)), {path, "", dh, where},
                                      frontend::SchemaRule::kRequired, file);
    REQUIRE_MESSAGE(h, dh.format());
    CHECK(h->gpu.hbm_bandwidth.bytes_per_s() == doctest::Approx(bw).epsilon(1e-15));
    CHECK(h->gpu.hbm_capacity.as_double() == cap);
    CHECK(h->gpu.peak_flops.at(spec::DType::kBF16).per_s() == doctest::Approx(bf16).epsilon(1e-15));
    CHECK(h->gpu.peak_flops.at(spec::DType::kFP8).per_s() == doctest::Approx(2 * bf16).epsilon(1e-4));
    CHECK(h->gpu.tdp_w == 700.0);
  }
}

TEST_CASE("the seed model: shape, all layers MoE, parameter count by hand") {
  io::Diagnostics d;
  auto m = load_model("scenarios/models/seed-moe-4l.json", d);
  REQUIRE_MESSAGE(m, d.format());
  CHECK(m->num_layers == 4);
  CHECK(m->attention == spec::AttentionKind::kGQA);
  CHECK(m->num_kv_heads == 8);
  CHECK(m->moe_layer == std::vector<bool>{true, true, true, true});
  CHECK(m->dtype == spec::DType::kBF16);
  // Per layer: attention q,o 2·4096·4096 + k,v 2·4096·1024 = 41,943,040; norms 2·4096 = 8,192;
  // router 4096·16 = 65,536; experts 16·3·4096·14336 = 2,818,572,288 -> 2,860,589,056.
  // ×4 layers = 11,442,356,224; + embedding and LM head 2·32000·4096 = 262,144,000
  // + final norm 4096 = 11,704,504,320.
  CHECK(models::count_params(*m).total() == 11'704'504'320);
}

TEST_CASE("first_dense_layers and moe_layer_frequency expand into moe_layer (DeepSeek's rule)") {
  json m = seed_model();
  m["num_layers"] = 6;
  m["first_dense_layers"] = 1;
  m["moe_layer_frequency"] = 2;
  m["dense_ffn_size"] = 8192;
  io::Diagnostics d;
  frontend::SourceMap where;
  auto spec = frontend::parse_model(m, {"m.json", "", d, where}, frontend::SchemaRule::kOptional, "m");
  REQUIRE_MESSAGE(spec, d.format());
  // Layer i is MoE when i >= 1 and i % 2 == 0: layers 2 and 4.
  CHECK(spec->moe_layer == std::vector<bool>{false, false, true, false, true, false});

  m.erase("first_dense_layers");
  m.erase("moe_layer_frequency");
  m["moe_layer"] = {true, false, true, false, true, true};
  spec = frontend::parse_model(m, {"m.json", "", d, where}, frontend::SchemaRule::kOptional, "m");
  REQUIRE_MESSAGE(spec, d.format());
  CHECK(spec->moe_layer == std::vector<bool>{true, false, true, false, true, true});
}

TEST_CASE("Hugging Face configs: derived parameter counts match the published totals within 1%") {
  struct Case {
    const char* file;
    double published;
  };
  // Published totals: Mixtral-8x7B 46.7B (Mistral AI), Qwen1.5-MoE-A2.7B 14.3B and Qwen3-30B-A3B 30.5B
  // (model cards), DeepSeek-V2-Lite 15.7B (model card), DeepSeek-V3 671B (arXiv:2412.19437; the
  // multi-token-prediction module is not included).
  const Case cases[] = {{"mixtral-8x7b", 46.7e9},
                        {"qwen1.5-moe-a2.7b", 14.3e9},
                        {"qwen3-30b-a3b", 30.5e9},
                        {"deepseek-v2-lite", 15.7e9},
                        {"deepseek-v3", 671e9}};
  for (const Case& c : cases) {
    io::Diagnostics d;
    auto m = load_model(std::string("scenarios/models/") + c.file + ".config.json", d);
    REQUIRE_MESSAGE(m, d.format());
    const double total = static_cast<double>(models::count_params(*m).total());
    CAPTURE(c.file);
    CAPTURE(total);
    CHECK(std::abs(total / c.published - 1.0) < 0.01);
    CHECK(m->name == c.file);
  }
}

TEST_CASE("Hugging Face import maps each family's fields") {
  io::Diagnostics d;
  auto mix = load_model("scenarios/models/mixtral-8x7b.config.json", d);
  auto q15 = load_model("scenarios/models/qwen1.5-moe-a2.7b.config.json", d);
  auto q3 = load_model("scenarios/models/qwen3-30b-a3b.config.json", d);
  auto v2l = load_model("scenarios/models/deepseek-v2-lite.config.json", d);
  auto v3 = load_model("scenarios/models/deepseek-v3.config.json", d);
  REQUIRE_MESSAGE(d.empty(), d.format());
  CHECK(mix->expert_ffn_size == 14336);
  CHECK(mix->num_experts == 8);
  CHECK(mix->attention == spec::AttentionKind::kGQA);
  CHECK(mix->head_dim == 128);  // 4096 / 32
  CHECK(q15->num_shared_experts == 1);
  CHECK(q15->shared_expert_ffn_size == 5632);
  CHECK(q15->expert_ffn_size == 1408);
  CHECK(q15->attention == spec::AttentionKind::kMHA);
  CHECK(q3->head_dim == 128);  // explicit: 32 heads × 128 = 4096 != hidden 2048
  CHECK(q3->num_kv_heads == 4);
  CHECK(q3->num_shared_experts == 0);
  REQUIRE(v2l->mla);
  CHECK(v2l->mla->q_lora_rank == 0);  // null in the config: direct query projection
  CHECK(v2l->head_dim == 192);        // qk_nope 128 + qk_rope 64
  CHECK(v2l->moe_layer[0] == false);  // first_k_dense_replace = 1
  CHECK(v2l->moe_layer[1] == true);
  CHECK(v2l->num_shared_experts == 2);
  CHECK(v2l->shared_expert_ffn_size == 1408);
  CHECK(v2l->dense_ffn_size == 10944);
  REQUIRE(v3->mla);
  CHECK(v3->mla->q_lora_rank == 1536);
  CHECK(std::count(v3->moe_layer.begin(), v3->moe_layer.end(), false) == 3);
  CHECK(v3->dtype == spec::DType::kBF16);
}

TEST_CASE("Hugging Face import ignores unknown keys but reports missing ones") {
  json cfg = json::parse(read_text("scenarios/models/qwen3-30b-a3b.config.json"));
  cfg["some_new_hf_key"] = {{"nested", 1}};
  cfg.erase("head_dim");
  cfg.erase("num_experts_per_tok");
  io::Diagnostics d;
  frontend::SourceMap where;
  auto m = frontend::import_hf_config(cfg, {"q.json", "", d, where}, "q");
  CHECK_FALSE(m);
  CHECK(d.format_lines() ==
        "q.json:/num_experts_per_tok: missing required key \"num_experts_per_tok\" (model_type \"qwen3_moe\" needs it)\n"
        "q.json:/head_dim: missing required key \"head_dim\" (model_type \"qwen3_moe\" needs it)\n");
}

TEST_CASE("quantities are echoed in readable units that parse back exactly") {
  using io::Dimension;
  CHECK(frontend::format_quantity(6e11, Dimension::kBandwidth) == "600 GB/s");
  CHECK(frontend::format_quantity(3.35e12, Dimension::kBandwidth) == "3.35 TB/s");
  CHECK(frontend::format_quantity(2.5e10, Dimension::kBandwidth) == "25 GB/s");  // 200 Gb/s
  CHECK(frontend::format_quantity(80e9, Dimension::kBytes) == "80 GB");
  CHECK(frontend::format_quantity(85899345920.0, Dimension::kBytes) == "80 GiB");
  CHECK(frontend::format_quantity(312e12, Dimension::kFlopRate) == "312 TFLOP/s");
  CHECK(frontend::format_quantity(400.0, Dimension::kPower) == "400 W");
  CHECK(frontend::format_time(SimTime::us(4)) == "4 us");
  CHECK(frontend::format_time(SimTime::us(1.5)) == "1.5 us");
  CHECK(frontend::format_time(SimTime::ns(700)) == "700 ns");
  CHECK(frontend::format_time(SimTime::ps(1)) == "1 ps");
  CHECK(frontend::format_time(SimTime::zero()) == "0 s");

  // Exact round trip over many magnitudes, including values with no short decimal form.
  const Dimension dims[] = {Dimension::kBandwidth, Dimension::kBytes, Dimension::kFlopRate, Dimension::kPower};
  for (Dimension dim : dims) {
    for (double v = 1.0; v < 1e16; v *= 1.37) {
      const double value = dim == Dimension::kBytes ? std::round(v) : v;
      const std::string text = frontend::format_quantity(value, dim);
      const auto q = io::parse_quantity(text, dim);
      CAPTURE(text);
      REQUIRE(q.ok);
      CHECK(q.value == value);
    }
  }
  for (std::int64_t ps = 1; ps < 1'000'000'000'000'000; ps = ps * 7 + 3) {
    const SimTime t = SimTime::ps(ps);
    const auto q = io::parse_quantity(frontend::format_time(t), Dimension::kTime);
    REQUIRE(q.ok);
    CHECK(SimTime::seconds(q.value) == t);
  }
}

TEST_CASE("the resolved echo is a valid scenario that echoes byte-identically, and is deterministic") {
  for (const char* path : {"scenarios/paper/seed_study.json", "scenarios/paper/training.json",
                           "scenarios/paper/scalability.json"}) {
    CAPTURE(path);
    io::Diagnostics d;
    auto s1 = frontend::load_scenario(path, d);
    REQUIRE_MESSAGE(s1, d.format());
    json j1 = frontend::resolved_json(*s1);
    CHECK(j1["hardware"]["hbm_bandwidth"] == "2039 GB/s");
    CHECK(j1["hardware"]["kernel_launch_overhead"] == "4 us");
    CHECK(j1["model"]["moe_layer"].size() == 4);
    CHECK(j1["_file"] == path);
    auto s2 = frontend::parse_scenario(j1, "echo.json", d);
    REQUIRE_MESSAGE(s2, d.format());
    json j2 = frontend::resolved_json(*s2);
    j1.erase("_file");
    j2.erase("_file");
    CHECK(j1.dump(2) == j2.dump(2));

    // Same input, byte-identical echo.
    auto s3 = frontend::load_scenario(path, d);
    REQUIRE(s3);
    json j3 = frontend::resolved_json(*s3);
    j3.erase("_file");
    CHECK(j3.dump(2) == j1.dump(2));
  }
}

TEST_CASE("an HF-imported model echoes as a masim-native model") {
  json doc = base_scenario();
  doc["model"] = "../models/deepseek-v2-lite.config.json";
  doc["layouts"] = json::array({{{"name", "EP=16"}, {"kind", "ep"}, {"ep", 16}}});
  io::Diagnostics d;
  auto s = frontend::parse_scenario(doc, kHere, d);
  REQUIRE_MESSAGE(s, d.format());
  const json j = frontend::resolved_json(*s);
  CHECK(j["model"]["attention"] == "mla");
  CHECK(j["model"]["mla"]["q_lora_rank"] == 0);
  CHECK(j["model"]["source"] == "scenarios/models/deepseek-v2-lite.config.json");
  auto back = frontend::parse_scenario(j, "echo.json", d);
  REQUIRE_MESSAGE(back, d.format());
  CHECK(models::count_params(back->model).total() == models::count_params(s->model).total());
}

TEST_CASE("inline objects and file references give the same spec") {
  json inline_doc = base_scenario();
  json hw = json::parse(read_text("scenarios/hardware/a100-sxm4-80gb.json"));
  hw.erase("schema");  // optional inside a scenario
  hw["id"] = "a100-sxm4-80gb";
  inline_doc["hardware"] = hw;
  inline_doc["model"] = seed_model();
  inline_doc["model"]["source"] = "scenarios/models/seed-moe-4l.json";
  io::Diagnostics d;
  auto a = frontend::parse_scenario(base_scenario(), kHere, d);
  auto b = frontend::parse_scenario(inline_doc, kHere, d);
  REQUIRE_MESSAGE((a && b), d.format());
  CHECK(frontend::resolved_json(*a).dump() == frontend::resolved_json(*b).dump());
}

TEST_CASE("a clean scenario has no diagnostics") {
  const io::Diagnostics d = diagnose(base_scenario());
  CHECK_MESSAGE(d.empty(), d.format());
}

// Each cross-field rule: a change to the clean scenario, where the problem is
// reported and the message's start (the full messages are pinned by the
// bad-input corpus in tests/bad_inputs).
TEST_CASE("every cross-field rule is reported at the value that breaks it") {
  struct Rule {
    const char* name;
    std::function<void(json&)> change;
    const char* file_pointer;
    const char* message_start;
  };
  const std::string here = kHere;
  const std::vector<Rule> rules = {
      {"tp divides heads", [](json& s) { s["layouts"][0]["tp"] = 3; },
       "scenarios/paper/test.json:/layouts/0/tp", "expected a divisor of model.num_heads = 32, found tp = 3"},
      {"tp and kv heads", [](json& s) {
         s["model"] = seed_model();
         s["model"]["num_heads"] = 48;
         s["model"]["num_kv_heads"] = 6;
         s["layouts"][0]["tp"] = 4;
         s["layouts"][0]["dp"] = 4;
       },
       "scenarios/paper/test.json:/layouts/0/tp", "expected tp and model.num_kv_heads = 6 to divide one another"},
      {"tp divides expert ffn", [](json& s) {
         s["model"] = seed_model();
         s["model"]["expert_ffn_size"] = 14340;  // 14340 % 8 = 4
       },
       "scenarios/paper/test.json:/layouts/0/tp", "expected a divisor of model.expert_ffn_size = 14340"},
      {"ep divides experts", [](json& s) { s["layouts"][3]["ep"] = 12; },
       "scenarios/paper/test.json:/layouts/3/ep", "expected a divisor of model.num_experts = 16, found ep = 12"},
      {"pp <= layers", [](json& s) { s["layouts"][1]["pp"] = 8; s["layouts"][1]["dp"] = 2; },
       "scenarios/paper/test.json:/layouts/1/pp", "expected at most model.num_layers = 4, found pp = 8"},
      {"micro-batches <= batch per replica", [](json& s) { s["layouts"][1]["micro_batches"] = 64; },
       "scenarios/paper/test.json:/layouts/1/micro_batches", "expected at most the sequences per replica = 48"},
      {"EP micro-batches <= batch per EP rank", [](json& s) { s["layouts"][3]["micro_batches"] = 32; },
       "scenarios/paper/test.json:/layouts/3/micro_batches", "expected at most the sequences per replica = 24"},
      {"batch divisible", [](json& s) { s["workload"]["batch"] = 200; },  // EP=16 needs a multiple of 16
       "scenarios/paper/test.json:/workload/batch", "expected a multiple of 16 for layout \"PP=2\""},
      {"layout fits topology", [](json& s) { s["layouts"][0]["dp"] = 4; },
       "scenarios/paper/test.json:/layouts/0", "expected a layout of at most 16 GPUs"},
      {"explicit ranks in range", [](json& s) { s["layouts"][0]["dp"] = 1; s["layouts"][0]["gpus"] = {0, 1, 2, 3, 4, 5, 6, 99}; },
       "scenarios/paper/test.json:/layouts/0/gpus/7", "expected a GPU rank in [0, 15]"},
      {"explicit ranks distinct", [](json& s) { s["layouts"][0]["dp"] = 1; s["layouts"][0]["gpus"] = {0, 1, 2, 3, 4, 5, 1, 7}; },
       "scenarios/paper/test.json:/layouts/0/gpus/6", "GPU 1 is listed twice (first at /layouts/0/gpus/1)"},
      {"explicit rank count", [](json& s) { s["layouts"][0]["gpus"] = {0, 1}; },
       "scenarios/paper/test.json:/layouts/0/gpus", "expected 16 GPU ranks (tp 8 × dp 2), found 2"},
      {"MA groups disjoint", [](json& s) { s["layouts"][4]["ma"]["expert_gpus"][0] = 3; },
       "scenarios/paper/test.json:/layouts/4/ma/expert_gpus/0", "expected a GPU not in attention_gpus, found GPU 3"},
      {"MA attention group size", [](json& s) { s["layouts"][4]["ma"]["attention_replicas"] = 3; },
       "scenarios/paper/test.json:/layouts/4/ma/attention_gpus", "expected a multiple of attention_tp × attention_replicas = 2 × 3 = 6 GPUs, found 8"},
      {"MA attention_tp divides heads", [](json& s) { s["layouts"][4]["ma"]["attention_tp"] = 8; s["model"] = seed_model(); s["model"]["num_heads"] = 36; s["model"]["num_kv_heads"] = 4; s["model"]["hidden_size"] = 4608; s["layouts"] = json::array({s["layouts"][4]}); },
       "scenarios/paper/test.json:/layouts/0/ma/attention_tp", "expected a divisor of model.num_heads = 36, found attention_tp = 8"},
      {"MA expert group and expert_tp", [](json& s) { s["layouts"][4]["ma"]["expert_tp"] = 3; },
       "scenarios/paper/test.json:/layouts/4/ma/expert_gpus", "expected a multiple of expert_tp = 3 GPUs, found 8"},
      {"MA expert shards divide experts", [](json& s) { s["layouts"][4]["ma"]["expert_gpus"] = {8, 9, 10, 11, 12}; },
       "scenarios/paper/test.json:/layouts/4/ma/expert_gpus", "expected expert shards (expert GPUs / expert_tp) dividing model.num_experts = 16, found 5 shards"},
      {"MA expert_tp divides expert ffn", [](json& s) {
         s["model"] = seed_model();
         s["model"]["expert_ffn_size"] = 14338;  // even for TP=2 attention, odd for expert_tp 4
         s["layouts"] = json::array({s["layouts"][4]});
         s["layouts"][0]["ma"]["expert_tp"] = 4;
       },
       "scenarios/paper/test.json:/layouts/0/ma/expert_tp", "expected a divisor of model.expert_ffn_size = 14338, found expert_tp = 4"},
      {"MA hot replicas", [](json& s) { s["layouts"][4]["ma"]["hot_expert_replicas"] = 20; },
       "scenarios/paper/test.json:/layouts/4/ma/hot_expert_replicas", "expected at most model.num_experts = 16, found 20"},
      {"MA micro-batches", [](json& s) { s["layouts"][4]["ma"]["micro_batches"] = 128; },
       "scenarios/paper/test.json:/layouts/4/ma/micro_batches", "expected at most the sequences per replica = 96"},
      {"hardware vs topology", [](json& s) { s["hardware"] = "../hardware/h200-sxm-141gb.json"; },
       "scenarios/paper/test.json:/hardware", "expected a GPU matching topology.gpu_model = \"NVIDIA A100-SXM4-80GB\""},
      {"dtype has a peak", [](json& s) { s["model"] = seed_model(); s["model"]["dtype"] = "fp8"; },
       "scenarios/paper/test.json:/model/dtype", "expected a dtype with a peak_flops entry"},
      {"trace length", [](json& s) { s["workload"]["routing"] = {{"kind", "trace"}, {"trace", {1, 2}}}; },
       "scenarios/paper/test.json:/workload/routing/trace", "expected one token count per expert (model.num_experts = 16), found 2"},
      {"training micro_batch_size", [](json& s) {
         s["workload"] = {{"kind", "training"}, {"batch", 384}, {"context_length", 2048}, {"micro_batch_size", 5}};
       },
       "scenarios/paper/test.json:/workload/micro_batch_size", "expected a divisor of the sequences per replica"},
      {"unique layout names", [](json& s) { s["layouts"][2]["name"] = "TP=8"; },
       "scenarios/paper/test.json:/layouts/2/name", "expected a unique layout name, found \"TP=8\" again (first at /layouts/0/name)"},
      {"top_k <= experts (model file rule)", [](json& s) { s["model"] = seed_model(); s["model"]["top_k"] = 17; },
       "scenarios/paper/test.json:/model/top_k", "expected at most num_experts = 16, found 17"},
      {"dangling reference", [](json& s) { s["model"] = "../models/nope.json"; },
       "scenarios/paper/test.json:/model", "file not found: \"../models/nope.json\" (resolved to scenarios/models/nope.json)"},
      {"model error in its own file", [](json& s) { s["model"] = "../../tests/bad_inputs/model_gqa_not_divisor.json"; },
       "tests/bad_inputs/model_gqa_not_divisor.json:/num_kv_heads", "expected a divisor of num_heads = 32"},
  };
  for (const Rule& r : rules) {
    CAPTURE(r.name);
    json doc = base_scenario();
    r.change(doc);
    const io::Diagnostics d = diagnose(doc);
    REQUIRE_MESSAGE(d.size() >= 1, r.name);
    const std::string line = d.format_lines();
    CAPTURE(line);
    const std::string want = std::string(r.file_pointer) + ": " + r.message_start;
    CHECK(line.find(want) != std::string::npos);
  }
}

TEST_CASE("every problem is reported at once") {
  json doc = base_scenario();
  doc["layouts"][0]["tp"] = 3;                 // cross-field
  doc["layouts"][3]["ep"] = 12;                // cross-field
  doc["workload"].erase("context_length");
  doc["workload"]["contxt_length"] = 1;        // unknown key (and context_length is then missing)
  doc["hardware"] = "../hardware/none.json";   // dangling
  const io::Diagnostics d = diagnose(doc);
  CHECK(d.size() == 5);
  CHECK(d.format_lines() ==
        "scenarios/paper/test.json:/hardware: file not found: \"../hardware/none.json\" (resolved to "
        "scenarios/hardware/none.json)\n"
        "scenarios/paper/test.json:/workload/context_length: missing required key \"context_length\"\n"
        "scenarios/paper/test.json:/workload/contxt_length: unknown key; did you mean \"context_length\"?\n"
        "scenarios/paper/test.json:/layouts/0/tp: expected a divisor of model.num_heads = 32, found tp = 3\n"
        "scenarios/paper/test.json:/layouts/3/ep: expected a divisor of model.num_experts = 16, found ep = 12\n");
}

TEST_CASE("layout keys of other kinds are rejected with the kinds that use them") {
  json doc = base_scenario();
  doc["layouts"][1]["tp"] = 8;  // PP with stage_parallelism "none"
  doc["layouts"][4]["dp"] = 2;  // MA has no dp
  const io::Diagnostics d = diagnose(doc);
  CHECK(d.format_lines() ==
        "scenarios/paper/test.json:/layouts/1/tp: does not apply to a layout of kind \"pp\" with stage_parallelism "
        "\"none\" (used by: tp, tp_pp, pp with stage_parallelism \"tp\")\n"
        "scenarios/paper/test.json:/layouts/4/dp: does not apply to a layout of kind \"ma_separation\" (used by: tp, "
        "pp, tp_pp, ep)\n");
  doc = base_scenario();
  doc["layouts"][1]["stage_parallelism"] = "tp";
  doc["layouts"][1]["tp"] = 1;
  CHECK(diagnose(doc).empty());
}

TEST_CASE("data-parallel degree of each layout kind (the batch rule)") {
  spec::LayoutSpec l;
  l.kind = spec::LayoutKind::kTensor;
  l.dp = 2;
  CHECK(frontend::data_parallel_degree(l) == 2);
  l.kind = spec::LayoutKind::kExpert;
  l.ep = 8;
  CHECK(frontend::data_parallel_degree(l) == 16);
  l.kind = spec::LayoutKind::kMaSeparation;
  l.ma.attention_gpus = {0, 1, 2, 3, 4, 5, 6, 7};
  l.ma.attention_tp = 2;
  l.ma.attention_replicas = 2;
  CHECK(frontend::data_parallel_degree(l) == 2);  // 8 / (2 · 2)
  l.ma.attention_tp = 3;
  CHECK(frontend::data_parallel_degree(l) == 0);  // does not divide: reported elsewhere
}

TEST_CASE("the embedded file table backs files missing on disk, resolved relative to each other") {
  const std::string scenario = read_text("scenarios/paper/seed_study.json");
  const std::string hw = read_text("scenarios/hardware/a100-sxm4-80gb.json");
  const std::string model = read_text("scenarios/models/seed-moe-4l.json");
  const std::string topo = read_text("topologies/dgx-a100-x2.json");
  const std::string prof = read_text("calibrate/profiles/a100-sxm4-80gb.derived.json");
  // Paths that do not exist on disk, laid out as in the repository.
  const frontend::EmbeddedFile table[] = {{"nowhere/scenarios/paper/seed_study.json", scenario},
                                          {"nowhere/scenarios/hardware/a100-sxm4-80gb.json", hw},
                                          {"nowhere/scenarios/models/seed-moe-4l.json", model},
                                          {"nowhere/topologies/dgx-a100-x2.json", topo},
                                          {"nowhere/calibrate/profiles/a100-sxm4-80gb.derived.json", prof}};
  const frontend::FileSource files(table);
  io::Diagnostics d;
  auto s = frontend::load_scenario("nowhere/scenarios/paper/seed_study.json", d, files);
  REQUIRE_MESSAGE(s, d.format());
  CHECK(s->layouts.size() == 4);
  CHECK(s->hardware.gpu.name == "NVIDIA A100-SXM4-80GB");
  // Without the table, the same path is a diagnostic.
  io::Diagnostics d2;
  CHECK_FALSE(frontend::load_scenario("nowhere/scenarios/paper/seed_study.json", d2));
  CHECK(d2.format_lines() ==
        "nowhere/scenarios/paper/seed_study.json:/: file not found: \"nowhere/scenarios/paper/seed_study.json\"\n");
}

TEST_CASE("paths resolve relative to the referencing file and normalize") {
  CHECK(frontend::resolve_reference("scenarios/paper/s.json", "../hardware/x.json") == "scenarios/hardware/x.json");
  CHECK(frontend::resolve_reference("s.json", "m.json") == "m.json");
  CHECK(frontend::resolve_reference("a/b/s.json", "/abs/m.json") == "/abs/m.json");
  CHECK(frontend::file_stem("scenarios/models/mixtral-8x7b.config.json") == "mixtral-8x7b.config");
}

TEST_CASE("check_file recognizes every shipped input and every kind") {
  int scenarios = 0;
  std::vector<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator("scenarios")) {
    if (e.is_regular_file() && e.path().extension() == ".json") paths.push_back(e.path().generic_string());
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& p : paths) {
    const json doc = json::parse(read_text(p));
    if (frontend::detect_kind(doc) == frontend::FileKind::kUnknown) continue;  // e.g. paper/reference.json
    CAPTURE(p);
    io::Diagnostics d;
    const frontend::CheckResult r = frontend::check_file(p, d);
    CHECK_MESSAGE(r.ok, d.format());
    scenarios += r.kind == frontend::FileKind::kScenario ? 1 : 0;
  }
  CHECK(scenarios >= 5);
  CHECK(frontend::detect_kind(json::parse(R"({"model_type": "mixtral"})")) == frontend::FileKind::kHfConfig);
  CHECK(frontend::detect_kind(json::parse(R"({"generator": {}})")) == frontend::FileKind::kTopology);
}

TEST_CASE("check_file warns when a scenario uses a derived profile, naming its measured error") {
  io::Diagnostics d;
  const frontend::CheckResult r = frontend::check_file("calibrate/validation/seed-study-a100-derived.json", d);
  REQUIRE_MESSAGE(r.ok, d.format());
  REQUIRE(r.warnings.size() == 1);
  // The band of calibrate/results/h100/derivation-error.json (68 steps, -6.7% .. +12.3%).
  CHECK(r.warnings[0].find("is derived for NVIDIA A100-SXM4-80GB from NVIDIA H200 measurements") != std::string::npos);
  CHECK(r.warnings[0].find("-6.7% to +12.3% over 68 steps") != std::string::npos);
  CHECK(r.warnings[0].find("calibrate/profiles/h100-sxm.json") != std::string::npos);
  // A measured profile: no profile warning. Its topology (2 x HGX H200) lies outside
  // the 2-GPU network fit: 8 GPUs per node and 2 nodes, one warning each.
  const frontend::CheckResult m = frontend::check_file("calibrate/validation/seed-study-h200.json", d);
  CHECK(m.ok);
  REQUIRE(m.warnings.size() == 2);
  for (const std::string& w : m.warnings) {
    CHECK(w.find("is derived") == std::string::npos);
    CHECK(w.find("the network fit (calibrate/network/h200-nccl-x2.fit.json) was measured on 2 GPUs in 1 node") == 0);
  }
}

TEST_CASE("EP takes micro_batches (two-batch overlap) and echoes them") {
  json doc = base_scenario();
  doc["layouts"] = json::array({{{"name", "EP=16"}, {"kind", "ep"}, {"ep", 16}, {"micro_batches", 2}}});
  io::Diagnostics d;
  auto s = frontend::parse_scenario(doc, kHere, d);
  REQUIRE_MESSAGE(s, d.format());
  CHECK(s->layouts[0].micro_batches == 2);
  const json j = frontend::resolved_json(*s);
  CHECK(j["layouts"][0]["micro_batches"] == 2);
  auto back = frontend::parse_scenario(j, "echo.json", d);
  REQUIRE_MESSAGE(back, d.format());
  CHECK(back->layouts[0].micro_batches == 2);
}
