#include "sim/layouts/simulate.hpp"

#include <stdexcept>

#include "sim/layouts/results.hpp"

namespace masim::layouts {

ScenarioResult simulate(const spec::ScenarioSpec&, const topology::Topology&,
                        const models::ComputeCostModel&, const SimOptions&) {
  throw std::logic_error("layouts::simulate: not implemented yet (issue 4)");
}

}  // namespace masim::layouts
