// frontend::estimate_work against real runs: engine events and flows counted
// while each layout of a shipped scenario runs (the loop of layouts::simulate,
// with the network's own counters), and the peak memory of the whole run
// (load, simulate, run timeline, results.json text) measured in a child process
// (wait4's ru_maxrss, less the parent's resident set at fork). The estimate
// must be within the factors stated below; an infeasible combination of
// in-range values must be refused quickly.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/engine/engine.hpp"
#include "sim/faults/timeline.hpp"
#include "sim/frontend/echo.hpp"
#include "sim/frontend/estimate.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/layouts/executor.hpp"
#include "sim/layouts/planner.hpp"
#include "sim/layouts/results.hpp"
#include "sim/layouts/simulate.hpp"
#include "sim/models/compute_cost.hpp"
#include "sim/network/network.hpp"
#include "sim/serving/results.hpp"
#include "sim/topology/topology.hpp"

using namespace masim;

namespace {

// The factors the estimate is held to (docs/INPUTS.md, "Limits"): events and
// flows within 3x of the count, memory within 4x of the measured peak.
constexpr double kEventFactor = 3.0;
constexpr double kMemoryFactor = 4.0;

std::string path(const std::string& rel) { return std::string(MASIM_SOURCE_DIR) + "/" + rel; }

spec::ScenarioSpec load(const std::string& rel) {
  io::Diagnostics d;
  auto s = frontend::load_scenario(path(rel), d);
  INFO(d.format());
  REQUIRE(s.has_value());
  return *s;
}

struct Measured {
  double events = 0.0;
  double flows = 0.0;
  std::vector<double> layout_events;
};

// Steady-state runs of every layout, as layouts::simulate does them.
Measured run_layouts(const spec::ScenarioSpec& s) {
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  Measured m;
  for (std::size_t i = 0; i < s.layouts.size(); ++i) {
    layouts::Plan plan = layouts::build_plan(s, static_cast<int>(i), roof, topo->num_gpus());
    engine::Engine engine;
    network::Network net(engine, *topo, {});
    layouts::Executor exec(plan.program, engine, net);
    exec.run();
    m.events += static_cast<double>(engine.events_processed());
    m.layout_events.push_back(static_cast<double>(engine.events_processed()));
    m.flows += static_cast<double>(net.flows_started());
  }
  return m;
}

// Peak memory (bytes) of `masim run FILE`: its ru_maxrss from wait4. The run
// may end refused (exit 2: a layout that does not fit in GPU memory is found
// only after every layout is planned, which is the run's peak).
// The spawned child shares this process's memory until it execs, and its
// ru_maxrss starts from that: meaningful only while this process is small,
// hence its own ctest entry (estimate_memory_test) and the check below.
double peak_run_bytes(const std::string& file, const std::string& out_dir) {
  // posix_spawn, not fork + exec: a forked child's ru_maxrss would start at
  // this test's own resident set and keep it across exec.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> args = {MASIM_BIN, "run", file, "-o", out_dir, "--max-memory", "1 TiB", "--max-events", "1e15"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, MASIM_BIN, &fa, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  rusage ru{};
  REQUIRE(wait4(pid, &status, 0, &ru) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK((WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 2));
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

double resident_bytes() {
  std::ifstream f("/proc/self/statm");
  double pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// A copy of `rel` with its topology replaced by a generated one of `nodes`
// DGX A100 nodes (rail-optimized leaf/spine), written to `dir`.
std::string with_generated_topology(const std::string& rel, int nodes, const std::filesystem::path& dir) {
  std::ifstream in(path(rel));
  nlohmann::json s = nlohmann::json::parse(in);
  std::ifstream tin(path("topologies/dgx-a100-x2.json"));
  nlohmann::json t = nlohmann::json::parse(tin);
  t["name"] = "generated-" + std::to_string(nodes);
  t["generator"]["kind"] = "rail_leaf_spine";
  t["generator"]["nodes"] = nodes;
  s["topology"] = t;
  s["hardware"] = path("scenarios/hardware/a100-sxm4-80gb.json");
  s["model"] = path("scenarios/models/seed-moe-4l.json");
  s.erase("profile");
  std::filesystem::create_directories(dir);
  const std::filesystem::path out = dir / ("generated_" + std::to_string(nodes) + ".json");
  std::ofstream(out) << s.dump(1);
  return out.string();
}

void check_within(const char* what, double estimate, double measured, double factor) {
  INFO(what << ": estimate " << estimate << ", measured " << measured << ", ratio " << estimate / measured);
  CHECK(estimate <= measured * factor);
  CHECK(estimate >= measured / factor);
}

}  // namespace

TEST_CASE("estimate: events and flows of shipped scenarios within the stated factor of the counted ones") {
  for (const char* rel : {"scenarios/paper/seed_study.json", "scenarios/paper/training.json"}) {
    CAPTURE(rel);
    const spec::ScenarioSpec s = load(rel);
    const frontend::WorkEstimate e = frontend::estimate_work(s);
    const Measured m = run_layouts(s);
    double est_events = 0.0;
    for (const auto& l : e.layouts) est_events += l.events;
    std::string per_layout;
    for (std::size_t i = 0; i < s.layouts.size(); ++i) {
      per_layout += " \"" + e.layouts[i].name + "\" " + std::to_string(static_cast<long long>(e.layouts[i].events)) +
                    "/" + std::to_string(static_cast<long long>(m.layout_events[i]));
    }
    MESSAGE(rel << ": per layout (estimate/counted)" << per_layout << "; events estimate " << est_events << " counted " << m.events << "; flows estimate " << e.flows
                << " counted " << m.flows);
    check_within("events", est_events, m.events, kEventFactor);
    check_within("flows", e.flows, m.flows, kEventFactor);
  }
}

// Skipped in estimate_test; ctest's estimate_memory_test runs it alone (--no-skip).
TEST_SUITE("estimate_memory" * doctest::skip()) {
TEST_CASE("estimate: peak memory of runs within the stated factor of the measured peak") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("masim_estimate_test_" + std::to_string(::getpid()));
  // Shipped scenarios, and the seed study on 8,192 GPUs (a generated topology:
  // there the topology, its routing tables and the echo dominate).
  const std::vector<std::string> files = {path("scenarios/paper/seed_study.json"),
                                          path("scenarios/paper/training.json"),
                                          with_generated_topology("scenarios/paper/seed_study.json", 1024, dir)};
  for (const std::string& file : files) {
    CAPTURE(file);
    io::Diagnostics d;
    auto s = frontend::load_scenario(file, d);
    REQUIRE(s.has_value());
    const frontend::WorkEstimate e = frontend::estimate_work(*s);
    const double peak = peak_run_bytes(file, (dir / "out").string());
    REQUIRE(resident_bytes() < peak / 2);
    MESSAGE(file << ": memory estimate " << e.memory_bytes / 1048576.0 << " MiB, measured peak "
                 << peak / 1048576.0 << " MiB");
    check_within("memory", e.memory_bytes, peak, kMemoryFactor);
  }
  std::filesystem::remove_all(dir);
}
}  // TEST_SUITE

TEST_CASE("estimate: run-timeline re-simulations within the stated factor of the counted ones") {
  const spec::ScenarioSpec s = load("scenarios/paper/faults.json");
  const frontend::WorkEstimate e = frontend::estimate_work(s);
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  const faults::TimelineResult t = faults::run_timeline(s, *topo, roof);
  MESSAGE("faults.json: simulations estimate " << e.timeline_simulations << " counted " << t.simulations
                                               << "; cluster states estimate " << e.timeline_states);
  check_within("simulations", e.timeline_simulations, static_cast<double>(t.simulations), kEventFactor);
}

TEST_CASE("estimate: serving token-steps within the stated factor of the simulated ones") {
  // Simulated: every sequence stepped in a decode step (its output tokens,
  // recomputed ones included) and every prefill, over every layout and rate.
  const spec::ScenarioSpec s = load("scenarios/serving/seed_serving.json");
  const frontend::WorkEstimate e = frontend::estimate_work(s);
  io::Diagnostics d;
  auto topo = topology::Topology::build(s.topology, s.file, d);
  REQUIRE(topo.has_value());
  models::RooflineCostModel roof(s.hardware.gpu);
  const serving::ServingResult r = serving::run_serving(s, *topo, roof);
  double counted = 0.0;
  const auto add = [&counted](const serving::ServingLayout& l) {
    counted += static_cast<double>(l.output_tokens + l.recomputed_tokens + l.arrived);
  };
  for (const serving::ServingLayout& l : r.layouts) add(l);
  for (const auto& sweep : r.sweeps) {
    for (const serving::SweepPoint& p : sweep) add(p.result);
  }
  MESSAGE("seed_serving.json: token-steps estimate " << e.serving_token_steps << " counted " << counted
                                                     << "; step-cost grid events " << e.serving_grid_events);
  check_within("serving token-steps", e.serving_token_steps, counted, kEventFactor);
  CHECK(e.serving_grid_events > 0.0);
  CHECK(e.serving_bytes > 0.0);
}

TEST_CASE("estimate: a serving block too large to run is refused, naming serving and the option") {
  spec::ScenarioSpec s = load("scenarios/serving/seed_serving.json");
  // Each in range: a million requests of 16M output tokens each, 32 rates.
  s.serving->requests = 1'000'000;
  s.serving->output = spec::LengthDist{spec::LengthKind::kFixed, 16'777'216, 1, 1, 0.0, 0.0};
  s.serving->rate_sweep.assign(32, 1.0);
  io::Diagnostics d;
  frontend::check_limits(frontend::estimate_work(s), frontend::Limits{}, "t.json", d);
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].message.find("--max-events") != std::string::npos);
  CHECK(d.items()[0].message.find("token-steps") != std::string::npos);
}

TEST_CASE("estimate: within the default limits for every shipped scenario") {
  for (const char* rel : {"scenarios/paper/seed_study.json", "scenarios/paper/training.json",
                          "scenarios/paper/faults.json", "scenarios/paper/scalability.json",
                          "scenarios/paper/sequence_length.json", "scenarios/paper/equal_slo.json",
                          "scenarios/validation/llama3_interruptions.json", "scenarios/serving/seed_serving.json",
                          "scenarios/serving/seed_serving_trace.json", "scenarios/paper/serving.json"}) {
    CAPTURE(rel);
    io::Diagnostics d;
    frontend::check_limits(frontend::estimate_work(load(rel)), frontend::Limits{}, rel, d);
    INFO(d.format());
    CHECK(d.empty());
  }
}

TEST_CASE("estimate: in-range values that together are infeasible are refused at once, naming the option") {
  spec::ScenarioSpec s = load("scenarios/paper/training.json");
  // Each in range (batch and iterations at their maximum), together ~1e15 draws.
  s.workload.batch = 1 << 30;
  s.workload.iterations = 10'000;
  const auto t0 = std::chrono::steady_clock::now();
  io::Diagnostics d;
  frontend::check_limits(frontend::estimate_work(s), frontend::Limits{}, "t.json", d);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(d.size() == 2);
  CHECK(d.items()[0].message.find("--max-memory") != std::string::npos);
  CHECK(d.items()[1].message.find("--max-events") != std::string::npos);
  CHECK(seconds < 1.0);
  // A raised limit lets it through.
  io::Diagnostics d2;
  frontend::check_limits(frontend::estimate_work(s), frontend::Limits{1e30, 1e30}, "t.json", d2);
  CHECK(d2.empty());
}
