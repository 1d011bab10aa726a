// Entry points of the layout planners (planner.hpp). The plan building itself
// is planning::Builder (plan_builder.hpp): its shared core in plan_builder.cpp,
// the layout families in grid_planner.cpp (TP, PP, TP×PP, EP) and
// ma_planner.cpp (MA Separation), the token exchange both use in
// token_exchange.cpp.
#include "sim/layouts/planner.hpp"

#include "sim/common/assert.hpp"
#include "sim/layouts/plan_builder.hpp"

namespace masim::layouts {

Plan build_plan(const spec::ScenarioSpec& s, const spec::LayoutSpec& layout, int index,
                const models::ComputeCostModel& cost, int num_gpus, const models::EnergyModel* energy) {
  planning::Builder b(s, layout, index, cost, num_gpus, energy);
  return b.build();
}

Plan build_plan(const spec::ScenarioSpec& s, int index, const models::ComputeCostModel& cost, int num_gpus,
                const models::EnergyModel* energy) {
  MASIM_ASSERT(index >= 0 && index < static_cast<int>(s.layouts.size()), "layout index out of range");
  return build_plan(s, s.layouts[static_cast<std::size_t>(index)], index, cost, num_gpus, energy);
}

}  // namespace masim::layouts
