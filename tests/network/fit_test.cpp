// The flow model fitted to the NCCL tables masim-calibrate measured on two
// H200s (calibrate/results/h200/nccl-x2/), and the warning for topologies
// outside the fitted range (sim/network/fit.hpp, docs/VALIDATION.md).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/io/json_reader.hpp"
#include "sim/network/fit.hpp"
#include "sim/profile/profile.hpp"

using namespace masim;
using namespace masim::network;

namespace {

spec::TopologySpec load_spec(const std::string& name) {
  io::Diagnostics d;
  const std::string path = std::string(MASIM_SOURCE_DIR) + "/topologies/" + name + ".json";
  auto doc = io::load_json_file(path, d);
  REQUIRE_MESSAGE(doc, d.format());
  auto spec = topology::parse_topology(*doc, path, "", d);
  REQUIRE_MESSAGE(spec, d.format());
  return *spec;
}

topology::Topology build(const spec::TopologySpec& s) {
  io::Diagnostics d;
  auto t = topology::Topology::build(s, s.name, d);
  REQUIRE_MESSAGE(t, d.format());
  return std::move(*t);
}

std::vector<MeasuredCollective> measured(const std::string& file) {
  io::Diagnostics d;
  auto p = profile::load_profile(std::string(MASIM_SOURCE_DIR) + "/" + file, d);
  REQUIRE_MESSAGE(p, d.format());
  std::vector<MeasuredCollective> out;
  for (const profile::CollectiveTable& t : p->collectives) {
    MeasuredCollective m{t.name, t.ranks, {}, {}, file};
    for (std::size_t i = 0; i < t.bytes.size(); ++i) {
      if (t.status[i] != "ok") continue;
      m.bytes.push_back(t.bytes[i]);
      m.time_us.push_back(t.time_us[i]);
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace

TEST_CASE("the network fitted to the 2-GPU H200 NCCL tables: residuals within the stated bounds") {
  spec::TopologySpec s = load_spec("hgx-h200");
  const auto carried = s.network_fit;
  s.network_fit.reset();   // fit from the defaults
  const topology::Topology topo = build(s);
  std::vector<MeasuredCollective> m = measured("calibrate/results/h200/nccl-x2/nccl2.json");
  for (auto& c : measured("calibrate/results/h200/nccl-x2/nccl2-repeat.json")) m.push_back(c);
  const NetworkFit f = fit_network(topo, m);
  // all_reduce, all_gather, reduce_scatter, all_to_all from each file (28 sizes each);
  // send_recv and ma_exchange have no masim pattern.
  CHECK(f.per_collective.size() == 8);
  CHECK(f.after.points == 224);
  // Before: NCCL's tuning-model constants and NVLink at 0.80 are ~30% optimistic on two GPUs
  // (docs/VALIDATION.md); a fit that did nothing would leave that.
  CHECK(f.before.median_abs_pct > 25.0);
  CHECK(f.before.bias_pct < -25.0);
  // After, the bounds docs/VALIDATION.md states: median |error| <= 10%, p95 <= 25%, |bias| <= 6%.
  CHECK(f.after.median_abs_pct <= 10.0);
  CHECK(f.after.p95_abs_pct <= 25.0);
  CHECK(std::abs(f.after.bias_pct) <= 6.0);
  for (const CollectiveResiduals& c : f.per_collective) {
    INFO(c.name << " " << c.source);
    CHECK(c.after.median_abs_pct < c.before.median_abs_pct);
    CHECK(c.after.median_abs_pct <= 16.0);
  }
  // The range: two GPUs of one node, over NVLink only.
  CHECK(f.fitted_ranks == 2);
  CHECK(f.fitted_nodes == 1);
  CHECK(f.fitted_link_kinds == std::vector<spec::LinkKind>{spec::LinkKind::kNvLink});
  // Every H200 topology carries exactly these terms (else it is stale: rerun masim fit-network).
  for (const char* name : {"hgx-h200", "hgx-h200-x2", "hgx-h200-x4", "hgx-h200-x16", "hgx-h200-x128"}) {
    INFO(name);
    const spec::TopologySpec t = name == std::string("hgx-h200") ? spec::TopologySpec{} : load_spec(name);
    const auto& fit = name == std::string("hgx-h200") ? carried : t.network_fit;
    REQUIRE(fit.has_value());
    CHECK(fit->nvlink_efficiency == doctest::Approx(f.nvlink_efficiency).epsilon(1e-9));
    CHECK(fit->intra_node_call_latency == f.intra_node_call_latency);
    CHECK(fit->fitted_ranks == f.fitted_ranks);
    CHECK(fit->fitted_nodes == f.fitted_nodes);
    CHECK(fit->fitted_link_kinds == f.fitted_link_kinds);
  }
  // The fitted parameters reproduce the fit's own residuals through apply_fit.
  s.network_fit = carried;
  const NetworkParams p = apply_fit({}, s);
  CHECK(p.nvlink_efficiency == doctest::Approx(f.nvlink_efficiency));
  CHECK(summarize_residuals(residuals_pct(topo, m.front(), p)).median_abs_pct ==
        doctest::Approx(f.per_collective.front().after.median_abs_pct));
}

TEST_CASE("a topology outside the fitted range warns; one inside it does not") {
  const spec::TopologySpec one_node = load_spec("hgx-h200");
  REQUIRE(one_node.network_fit.has_value());
  // 8 GPUs per node against 2 measured: one warning, no word about nodes.
  auto w = fit_range_warnings(build(one_node));
  REQUIRE(w.size() == 1);
  CHECK(w[0].find("has 8 GPUs per node") != std::string::npos);
  CHECK(w[0].find("measured on 2 GPUs in 1 node") != std::string::npos);
  // Two nodes: also the collectives across nodes, over PCIe and InfiniBand.
  w = fit_range_warnings(build(load_spec("hgx-h200-x2")));
  REQUIRE(w.size() == 2);
  CHECK(w[1].find("has 2 nodes: collectives across nodes (over pcie, infiniband links) are not covered") !=
        std::string::npos);
  // A fit that had measured all 8 GPUs of the node covers the single node.
  spec::TopologySpec covered = one_node;
  covered.network_fit->fitted_ranks = 8;
  CHECK(fit_range_warnings(build(covered)).empty());
  // No fit, nothing to warn about; and apply_fit keeps the defaults.
  spec::TopologySpec none = one_node;
  none.network_fit.reset();
  CHECK(fit_range_warnings(build(none)).empty());
  CHECK(apply_fit({}, none).nvlink_efficiency == doctest::Approx(NetworkParams{}.nvlink_efficiency));
  // A fit whose traffic crossed only PCIe says so for a node whose GPUs talk over NVLink.
  spec::TopologySpec pcie = one_node;
  pcie.network_fit->fitted_ranks = 8;
  pcie.network_fit->fitted_link_kinds = {spec::LinkKind::kPcie};
  w = fit_range_warnings(build(pcie));
  REQUIRE(w.size() == 1);
  CHECK(w[0].find("collectives also cross nvlink links, which the fit did not measure") != std::string::npos);
}
