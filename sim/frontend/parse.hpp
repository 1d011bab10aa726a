// Parsers for each input file kind: JSON -> typed spec (sim/spec/spec.hpp).
//
// Every parser is strict (sim/io/json_reader.hpp): unknown keys are errors with
// the nearest valid key, wrong types and out-of-range values are errors, values
// may carry units ("2039 GB/s", "4 us", "80 GB"), and every problem goes to the
// shared Diagnostics with file and JSON Pointer so all are reported at once.
// A parser returns nullopt when it recorded any problem. Each records where
// every value came from in `where` (see source_map.hpp) for cross-field rules.
//
// Hugging Face import reads a model's config.json (Mixtral, Qwen2-MoE,
// Qwen3-MoE, DeepSeek-V2/V3). HF configs carry many keys masim does not use;
// those are ignored, but a missing key that masim needs is an error.
//
//   io::Diagnostics d;
//   SourceMap where;
//   ParseContext ctx{"m.json", "", d, where};
//   auto m = parse_model(nlohmann::json::parse(text), ctx, SchemaRule::kRequired, "m");
//
// The keys, units, defaults and ranges of every kind are listed in docs/INPUTS.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/frontend/files.hpp"
#include "sim/frontend/source_map.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/spec/spec.hpp"

namespace masim::io {
class JsonReader;
}

namespace masim::frontend {

// A file's root object must carry "schema": 1; an object inlined into a
// scenario may omit it (the scenario's own schema covers it).
enum class SchemaRule { kRequired, kOptional };

struct ParseContext {
  std::string file;
  std::string pointer;        // JSON Pointer of the object being parsed
  io::Diagnostics& diags;
  SourceMap& where;
};

// Checks the "schema" key of `r`'s object. False when it recorded a problem.
bool check_schema(io::JsonReader& r, SchemaRule rule);

std::optional<spec::DType> dtype_from_string(std::string_view s);

// Hardware file (one GPU model). `default_id` names it when it has no "id".
std::optional<spec::HardwareSpec> parse_hardware(const nlohmann::json& node, const ParseContext& ctx,
                                                 SchemaRule schema, const std::string& default_id);

// masim-native model file. `default_name` names it when it has no "name".
std::optional<spec::ModelSpec> parse_model(const nlohmann::json& node, const ParseContext& ctx,
                                           SchemaRule schema, const std::string& default_name);

// A Hugging Face config.json (recognized by its "model_type").
std::optional<spec::ModelSpec> import_hf_config(const nlohmann::json& node, const ParseContext& ctx,
                                                const std::string& default_name);
// True when `node` is an object with a "model_type" key (an HF config).
bool is_hf_config(const nlohmann::json& node);

// The scenario's "workload" object.
std::optional<spec::WorkloadSpec> parse_workload(const nlohmann::json& node, const ParseContext& ctx);

// One element of the scenario's "layouts" array; `index` is its position.
std::optional<spec::LayoutSpec> parse_layout(const nlohmann::json& node, const ParseContext& ctx,
                                             std::size_t index);

// The scenario's "timeline" object (faults, random fault rates, recovery).
std::optional<spec::TimelineSpec> parse_timeline(const nlohmann::json& node, const ParseContext& ctx);
// Timeline rules that need the topology and layouts: GPU ranks, vertex and link
// names, spares idle in every layout. `pointer` is the timeline's.
void check_timeline(const spec::TimelineSpec& t, const spec::TopologySpec& topo,
                    const std::vector<spec::LayoutSpec>& layouts, const std::string& file,
                    const std::string& pointer, io::Diagnostics& diags);

// The scenario's "serving" object; a trace file it names is read from `files`
// (relative to the scenario) and parsed with parse_request_trace.
std::optional<spec::ServingSpec> parse_serving(const nlohmann::json& node, const ParseContext& ctx,
                                               const FileSource& files);
// A request trace (CSV with a header: arrival_s,prompt_tokens,output_tokens or
// the Azure traces' TIMESTAMP,ContextTokens,GeneratedTokens). Problems go to
// `diags` as "file:LINE: column C (NAME): expected ..., found ..." (the first 20,
// then a count); on any problem the result is empty. Arrival times come back in
// order and relative to the first request.
std::vector<spec::TraceRequest> parse_request_trace(std::string_view text, const std::string& file,
                                                    io::Diagnostics& diags);

// Model rules that need several fields (top_k <= num_experts, GQA grouping,
// moe_layer length, ...). Called by both model parsers; exposed for tests.
void check_model(const spec::ModelSpec& m, const SourceMap& where, io::Diagnostics& diags);

}  // namespace masim::frontend
