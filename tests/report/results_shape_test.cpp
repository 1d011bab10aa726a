// check_results_shape: a results.json of the wrong shape is a list of
// diagnostics, never an exception from deep inside the report.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/report/report.hpp"
#include "sim/report/results_view.hpp"
#include "sim/report/trace.hpp"

using namespace masim::report;
using nlohmann::json;

namespace {

json tiny() {
  std::ifstream in(std::string(MASIM_SOURCE_DIR) + "/tests/report/data/tiny_results.json");
  return json::parse(in);
}

// Every JSON Pointer of `doc` (leaves and the objects and arrays above them), root excluded.
std::set<std::string> all_pointers(const json& doc) {
  std::set<std::string> out;
  const json flat = doc.flatten();  // kept alive: items() refers into it
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    std::string p = it.key();
    while (!p.empty()) {
      out.insert(p);
      const std::size_t slash = p.rfind('/');
      if (slash == std::string::npos) break;
      p.resize(slash);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a results.json as masim writes it has the right shape") {
  masim::io::Diagnostics d;
  check_results_shape(tiny(), "r.json", d);
  CHECK(d.empty());
}

TEST_CASE("wrong types are reported all at once with their JSON Pointers") {
  json r = tiny();
  r["layouts"][0]["metrics"]["tpot_ms"] = "fast";
  r["layouts"][0]["metrics"]["gpu_util"] = json::array({0.5, "x"});
  r["layouts"][1]["memory"] = 3;
  r["workload"]["batch"] = 2.5;
  masim::io::Diagnostics d;
  check_results_shape(r, "r.json", d);
  CHECK(d.format_lines() ==
        "r.json:/workload/batch: expected an integer, found number 2.5\n"
        "r.json:/layouts/0/metrics/gpu_util/1: expected a number, found string \"x\"\n"
        "r.json:/layouts/0/metrics/tpot_ms: expected a number, found string \"fast\"\n"
        "r.json:/layouts/1/memory: expected an array, found number 3\n");

  masim::io::Diagnostics d2;
  check_results_shape(json{{"layouts", 3}}, "r.json", d2);
  CHECK(d2.format_lines() == "r.json:/layouts: expected a results.json with a \"layouts\" array (docs/RESULTS.md)\n");
  masim::io::Diagnostics d3;
  check_results_shape(json::array(), "r.json", d3);
  CHECK(d3.size() == 1);
}

TEST_CASE("any member of any type: either a diagnostic or a report that renders") {
  // Every pointer of a real results.json, replaced by a value of each JSON type:
  // the shape check must catch every replacement the report cannot read.
  const json base = tiny();
  const std::set<std::string> pointers = all_pointers(base);
  REQUIRE(pointers.size() > 100);
  const json replacements[] = {json("text"), json(3), json(-2.5), json(true), json(nullptr), json::object(),
                               json::array(), json::array({1, 2})};
  int caught = 0;
  for (const std::string& p : pointers) {
    for (const json& x : replacements) {
      json r = base;
      r[json::json_pointer(p)] = x;
      CAPTURE(p);
      CAPTURE(x.dump());
      masim::io::Diagnostics d;
      CHECK_NOTHROW(check_results_shape(r, "r.json", d));
      if (!d.empty()) {
        ++caught;
        continue;
      }
      CHECK_NOTHROW(run_report_document(r));
      CHECK_NOTHROW(chrome_trace(r));
    }
  }
  CHECK(caught > 100);
}

TEST_CASE("load_results refuses a wrong type as bad input") {
  const auto dir = std::filesystem::temp_directory_path() / "masim_results_shape_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.json").string();
  json r = tiny();
  r["layouts"][0]["experts"]["routed"] = "many";
  std::ofstream(path) << r.dump();
  try {
    load_results(path);
    FAIL("no exception");
  } catch (const masim::io::InputError& e) {
    CHECK(e.diagnostics().format_lines() == path + ":/layouts/0/experts/routed: expected an integer, found string \"many\"\n");
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a run timeline of any shape: either a diagnostic or a report that renders") {
  // tiny_run_timeline.json: the "run_timeline" of a real two-layout run with one
  // repaired GPU failure (masim run on faults.json's cluster, trimmed).
  std::ifstream in(std::string(MASIM_SOURCE_DIR) + "/tests/report/data/tiny_run_timeline.json");
  json base = tiny();
  base["run_timeline"] = json::parse(in);
  {
    masim::io::Diagnostics d;
    check_results_shape(base, "r.json", d);
    CHECK(d.empty());
    const std::string md = render_markdown(run_report_document(base), "r.html");
    CHECK(md.find("## Run timeline: faults and recovery") != std::string::npos);
  }
  const json replacements[] = {json("text"), json(3), json(-2.5), json(true), json(nullptr), json::object(),
                               json::array()};
  int caught = 0;
  for (const std::string& p : all_pointers(json{{"run_timeline", base["run_timeline"]}})) {
    for (const json& x : replacements) {
      json r = base;
      r[json::json_pointer(p)] = x;
      CAPTURE(p);
      CAPTURE(x.dump());
      masim::io::Diagnostics d;
      CHECK_NOTHROW(check_results_shape(r, "r.json", d));
      if (!d.empty()) {
        ++caught;
        continue;
      }
      CHECK_NOTHROW(run_report_document(r));
    }
  }
  CHECK(caught > 50);
}

TEST_CASE("a serving member of any shape: either a diagnostic or a report that renders") {
  // tiny_serving.json: the "serving" of a real run (seed_serving.json, two
  // layouts, five requests, a two-rate sweep), series trimmed to three bins.
  std::ifstream in(std::string(MASIM_SOURCE_DIR) + "/tests/report/data/tiny_serving.json");
  json base = tiny();
  base["serving"] = json::parse(in);
  {
    masim::io::Diagnostics d;
    check_results_shape(base, "r.json", d);
    CHECK(d.empty());
    const std::string md = render_markdown(run_report_document(base), "r.html");
    CHECK(md.find("## Serving: request traffic") != std::string::npos);
  }
  const json replacements[] = {json("text"), json(3), json(-2.5), json(true), json(nullptr), json::object(),
                               json::array()};
  int caught = 0;
  for (const std::string& p : all_pointers(json{{"serving", base["serving"]}})) {
    for (const json& x : replacements) {
      json r = base;
      r[json::json_pointer(p)] = x;
      CAPTURE(p);
      CAPTURE(x.dump());
      masim::io::Diagnostics d;
      CHECK_NOTHROW(check_results_shape(r, "r.json", d));
      if (!d.empty()) {
        ++caught;
        continue;
      }
      CHECK_NOTHROW(run_report_document(r));
    }
  }
  CHECK(caught > 50);
}

TEST_CASE("a derived profile's band members (cost_band, metrics_band, verdict_band) are shape-checked") {
  json r = tiny();
  r["cost_band"] = {{"what", "w"}, {"steps", 68}, {"bias_pct", 4.1}, {"min_pct", -6.7}, {"max_pct", 12.3}};
  r["verdict_band"] = {{"metric", "tpot_ms"}, {"ma_layout", "MA"}, {"baseline", "TP=8"}, {"ratio", 1.3},
                       {"ratio_interval", {1.08, 1.56}}, {"verdict", "MA Separation slower"}, {"survives", true}};
  r["layouts"][0]["metrics_band"] = {{"tpot_ms", {2.5, 3.1}}, {"tokens_per_s", {1.0, 2.0}}};
  masim::io::Diagnostics ok;
  check_results_shape(r, "r.json", ok);
  CHECK(ok.empty());
  r["cost_band"]["steps"] = "many";
  r["verdict_band"]["survives"] = "yes";
  r["layouts"][0]["metrics_band"]["tpot_ms"] = json::array({2.5, "x"});
  masim::io::Diagnostics d;
  check_results_shape(r, "r.json", d);
  CHECK(d.size() == 3);
  const std::string lines = d.format_lines();
  CHECK(lines.find("/cost_band/steps") != std::string::npos);
  CHECK(lines.find("/verdict_band/survives") != std::string::npos);
  CHECK(lines.find("/layouts/0/metrics_band/tpot_ms/1") != std::string::npos);
}
