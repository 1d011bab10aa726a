// Hardware file parser: one GPU model's datasheet figures. See parse.hpp.
#include <cmath>

#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Dimension;
using io::Required;
using nlohmann::json;

namespace {
constexpr spec::DType kAllDTypes[] = {spec::DType::kFP32, spec::DType::kTF32, spec::DType::kBF16,
                                      spec::DType::kFP16, spec::DType::kFP8};
}  // namespace

std::optional<spec::DType> dtype_from_string(std::string_view s) {
  for (spec::DType t : kAllDTypes) {
    if (s == spec::to_string(t)) return t;
  }
  return std::nullopt;
}

bool check_schema(io::JsonReader& r, SchemaRule rule) {
  if (!r.valid()) return false;
  const json* v = r.raw("schema", Required::kNo);
  if (v == nullptr) {
    if (rule == SchemaRule::kOptional) return true;
    r.error("schema", "missing required key \"schema\" (expected schema version " +
                          std::to_string(spec::kSchemaVersion) + ")");
    return false;
  }
  if (!v->is_number_integer() || v->get<std::int64_t>() != spec::kSchemaVersion) {
    r.error("schema", "expected schema version " + std::to_string(spec::kSchemaVersion) +
                          ", found " + io::describe(*v));
    return false;
  }
  return true;
}

std::optional<spec::HardwareSpec> parse_hardware(const json& node, const ParseContext& ctx,
                                                 SchemaRule schema, const std::string& default_id) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.record_tree("hardware", node, ctx.file, ctx.pointer);
  check_schema(r, schema);

  spec::HardwareSpec hw;
  hw.id = r.string_or("id", default_id);
  spec::GpuSpec& g = hw.gpu;
  g.name = r.string("name", Required::kYes).value_or("");

  // Peak FLOP/s per dtype: dense tensor-core figures (fp32: the non-tensor-core rate).
  if (auto pf = r.object("peak_flops", Required::kYes); pf && pf->valid()) {
    for (spec::DType t : kAllDTypes) {
      if (auto q = pf->quantity(spec::to_string(t), Dimension::kFlopRate, Required::kNo, 1e6, 1e18)) {
        g.peak_flops[t] = FlopRate::per_s(*q);
      }
    }
    pf->finish();
    if (g.peak_flops.empty() && ctx.diags.size() == before) {
      r.error("peak_flops", "expected at least one dtype entry such as \"bf16\": \"312 TFLOP/s\", found none");
    }
  }
  if (auto q = r.quantity("vector_fp32_flops", Dimension::kFlopRate, Required::kYes, 1e6, 1e18)) {
    g.vector_fp32_flops = FlopRate::per_s(*q);
  }
  if (auto q = r.quantity("hbm_bandwidth", Dimension::kBandwidth, Required::kYes, 1e6, 1e15)) {
    g.hbm_bandwidth = Bandwidth::bytes_per_s(*q);
  }
  if (auto q = r.quantity("hbm_capacity", Dimension::kBytes, Required::kYes, 1e6, 1e15)) {
    g.hbm_capacity = Bytes(static_cast<std::int64_t>(std::llround(*q)));
  }
  const auto tdp = r.quantity("tdp", Dimension::kPower, Required::kYes, 1.0, 1e5);
  const auto idle = r.quantity("idle_power", Dimension::kPower, Required::kYes, 0.0, 1e5);
  if (tdp) g.tdp_w = *tdp;
  if (idle) g.idle_w = *idle;
  if (tdp && idle && *idle > *tdp) {
    r.error("idle_power", "expected at most tdp = " + node.at("tdp").dump() + ", found " +
                              node.at("idle_power").dump());
  }
  if (auto q = r.quantity("kernel_launch_overhead", Dimension::kTime, Required::kNo, 0.0, 1e-3)) {
    g.kernel_launch_overhead = SimTime::seconds(*q);
  }
  g.matmul_efficiency = r.number_or("matmul_efficiency", g.matmul_efficiency, 1e-3, 1.0);
  g.memory_efficiency = r.number_or("memory_efficiency", g.memory_efficiency, 1e-3, 1.0);
  if (const json* src = r.array("sources", Required::kNo)) {
    for (std::size_t i = 0; i < src->size(); ++i) {
      const json& s = (*src)[i];
      if (!s.is_string()) {
        ctx.diags.error(ctx.file, io::pointer_join(r.pointer_of("sources"), i),
                        "expected a string, found " + io::describe(s));
        continue;
      }
      g.sources.push_back(s.get<std::string>());
    }
  }
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  return hw;
}

}  // namespace masim::frontend
