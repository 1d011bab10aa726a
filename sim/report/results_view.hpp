// Read-only helpers over results.json (docs/RESULTS.md): find layouts, read
// metrics, group communication and memory, and turn a layout's timeline into
// chart rows. Missing keys read as absent (std::nullopt) or 0 where documented,
// so a report of a partial result still renders and says what is missing.
//
//   const nlohmann::json* ma = find_layout_by_kind(results, "ma_separation");
//   double tpot = metric(*ma, "tpot_ms");
//   Chart c = timeline_chart(*ma, "timeline-ma", "MA Separation: one decode step");
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/report/document.hpp"

namespace masim::report {

// Communication tags in results.json order, with the names the report prints.
struct CommTagInfo {
  const char* key;     // "tp_allreduce"
  const char* label;   // "TP all-reduce"
};
const std::vector<CommTagInfo>& comm_tags();

// Memory components in results.json order (keys without "_gib").
struct MemoryComponentInfo {
  const char* key;     // "parameters"
  const char* label;   // "Parameters"
};
const std::vector<MemoryComponentInfo>& memory_components();

// Checks that every member of results.json the report reads has the type
// docs/RESULTS.md gives it, so that the views below never meet a wrong type
// (nlohmann::json would throw). Missing members are fine (the views default
// them); a present member of the wrong type is one diagnostic each, all of
// them in one pass: "r.json:/layouts/0/metrics/tpot_ms: expected a number,
// found string "fast"". A results.json without a "layouts" array is one too.
void check_results_shape(const nlohmann::json& results, const std::string& file, io::Diagnostics& diags);

// The first layout of `kind` ("tp", "pp", "tp_pp", "ep", "ma_separation"); null if none.
const nlohmann::json* find_layout_by_kind(const nlohmann::json& results, const std::string& kind);
const nlohmann::json* find_layout_by_name(const nlohmann::json& results, const std::string& name);

// layout["metrics"][key] as a number; nullopt if absent or not a number.
std::optional<double> metric_opt(const nlohmann::json& layout, const std::string& key);
// As metric_opt, 0 when absent.
double metric(const nlohmann::json& layout, const std::string& key);
// Share of iteration time of one communication tag (fraction), 0 when absent.
double comm_share(const nlohmann::json& layout, const std::string& tag);
double comm_exposed_ms(const nlohmann::json& layout, const std::string& tag);
// MoE token exchange: ep_alltoall + ma_dispatch + ma_combine (the study's "MoE All-to-All").
double moe_exchange_share(const nlohmann::json& layout);

// One GPU's memory as results.json gives it (GiB per component).
struct GpuMemoryView {
  int gpu = 0;
  std::string role;                 // "attention GPU", "expert GPU", "stage 0", or ""
  std::vector<double> gib;          // per memory_components()
  double total_gib = 0.0;
  double capacity_gib = 0.0;
};
// The GPU with the largest total (the one that must fit) and, for MA Separation,
// the largest of each group (attention and expert), in that order.
std::vector<GpuMemoryView> memory_profiles(const nlohmann::json& layout);

// A per-GPU Gantt chart of the layout's timeline (one lane per GPU stream);
// nullopt when the layout has no timeline.
std::optional<Chart> timeline_chart(const nlohmann::json& layout, const std::string& id,
                                    const std::string& title, const std::string& caption);

// Fraction of the iteration in which a GPU's compute stream is busy while its
// communication stream is also busy (overlap), mean over GPUs; from the timeline.
double timeline_overlap_fraction(const nlohmann::json& layout);

// Chart rows and charts shared by the run report and the paper report.
Chart comm_breakdown_chart(const std::vector<const nlohmann::json*>& layouts, const std::string& id,
                           const std::string& title, const std::string& caption);
Chart memory_stack_chart(const std::vector<const nlohmann::json*>& layouts, const std::string& id,
                         const std::string& title, const std::string& caption);

// Display name of a layout in tables and charts.
std::string layout_label(const nlohmann::json& layout);

}  // namespace masim::report
