// One sweep point, from its scenario document to its record: validate it as a
// scenario (frontend::parse_scenario), hold its pre-run work estimate against
// the limits (frontend::estimate_work), hash its resolved scenario (the key of
// the resume journal), and simulate every layout (layouts::simulate, as
// `masim run` does). A layout that the simulator refuses (it does not fit in
// memory, say) becomes a failed row; the others still run.
//
// A record is JSON (object keys sorted, numbers as nlohmann::json writes them,
// which parse back to the same doubles): the final outputs are written from
// records, whether computed now or read back from the journal, so they are
// byte-identical either way.
//
//   Resolved r = resolve_point(sweep, point_at(sweep, 7), files, limits, "0.1.0");
//   if (r.spec) record = simulate_point(*r.spec);        // {"layouts": [...], "status": "ok"}
//
// Record statuses: "ok" (every layout ran), "partial" (some layouts failed),
// "failed" (none ran), "invalid" (the point is not a valid scenario),
// "refused" (valid, but its estimate is past the limits).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/estimate.hpp"
#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/layouts/results.hpp"
#include "sim/spec/spec.hpp"
#include "sim/sweep/sweep_spec.hpp"

namespace masim::sweep {

struct Resolved {
  std::optional<spec::ScenarioSpec> spec;  // set when valid and within the limits
  std::string hash;                        // 16 hex digits; empty when invalid
  double estimated_events = 0.0;
  // "invalid" or "refused" when spec is empty, with every problem in `errors`
  // ("FILE:/pointer: message", a value set by an axis reported at the axis).
  std::string status;
  std::vector<std::string> errors;
  std::vector<io::Diagnostic> problems;    // the same, as diagnostics (masim check lists them)
};

Resolved resolve_point(const SweepSpec& s, const Point& p, const frontend::FileSource& files,
                       const frontend::Limits& limits, const std::string& version);

// Validates an arbitrary scenario document read from `file` (search uses it).
Resolved resolve_document(const nlohmann::json& doc, const std::string& file, const frontend::FileSource& files,
                          const frontend::Limits& limits, const std::string& version);

// {"status", "errors", "layouts": [row...]}; never throws for a point's own
// problems (a refused layout, an internal error are failed rows).
nlohmann::json simulate_point(const spec::ScenarioSpec& s);

// A row of a layout that ran: name, kind, gpus, the headline metrics, peak
// memory, events and the binding resource (binding.hpp).
nlohmann::json layout_row(const layouts::LayoutResult& l, const spec::ScenarioSpec& s);

// FNV-1a, 64 bits, as 16 hex digits.
std::string hash_text(const std::string& text);

}  // namespace masim::sweep
