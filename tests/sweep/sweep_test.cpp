// Sweeps: expansion of axes into points, strict parsing, byte-identical
// outputs whatever the thread count, resume after an interruption without
// recomputing, and bad points as failed rows (never a crash or a missing row).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/sweep/point_runner.hpp"
#include "sim/sweep/search.hpp"
#include "sim/sweep/sweep_runner.hpp"
#include "sim/sweep/sweep_spec.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace masim;

namespace {

// The seed study at one routing sample per step: a point costs a few ms.
const char* const kBase = "scenarios/paper/seed_study.json";

json sweep_doc(json axes) {
  return json{{"schema", 1}, {"name", "t"}, {"base", "../scenarios/paper/seed_study.json"}, {"axes", std::move(axes)}};
}

// Parsed as if written at tests/t.json (so "../scenarios/..." is the base).
std::optional<sweep::SweepSpec> parse(const json& doc, io::Diagnostics& d) {
  return sweep::parse_sweep(doc, "tests/t.json", d, frontend::FileSource{});
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch directory per name under one per process, removed at exit.
fs::path fresh(const std::string& name) {
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("masim_sweep_test_" + std::to_string(::getpid())), ec);
    });
    return true;
  }();
  (void)cleanup;
  const fs::path d = fs::temp_directory_path() / ("masim_sweep_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d;
}

// 2 x 3 = 6 points: routing samples (1, 2) and MA Separation's attention TP (1, 2, 4; each divides its 8 attention GPUs and 32 heads).
json small_axes() {
  return json::array({json{{"name", "iterations"}, {"pointer", "/workload/iterations"}, {"values", {1, 2}}},
                      json{{"name", "attention_tp"}, {"layout", "MA Separation"}, {"pointer", "/ma/attention_tp"},
                           {"values", {1, 2, 4}}}});
}

}  // namespace

TEST_CASE("expansion: the cartesian product, last axis fastest, values set by pointer") {
  io::Diagnostics d;
  const auto s = parse(sweep_doc(small_axes()), d);
  REQUIRE_MESSAGE(s, d.format_lines());
  CHECK(s->base_file == kBase);
  CHECK(s->point_count() == 6);
  // index 4 = (iterations index 1, attention_tp index 1) in mixed radix (3 per iterations step): 4 = 1*3 + 1
  const sweep::Point p = sweep::point_at(*s, 4);
  CHECK(p.labels == std::vector<std::string>{"2", "2"});
  CHECK(p.doc["workload"]["iterations"] == 2);
  // "MA Separation" is layout 3 of seed_study.json
  CHECK(p.doc["layouts"][3]["ma"]["attention_tp"] == 2);
  CHECK(sweep::describe(*s, p) == "iterations=2, attention_tp=2");
  const sweep::Point last = sweep::point_at(*s, 5);
  CHECK(last.doc["layouts"][3]["ma"]["attention_tp"] == 4);
  CHECK(last.doc["workload"]["iterations"] == 2);
}

TEST_CASE("expansion: zipped members advance together; variants set several values; labels") {
  io::Diagnostics d;
  json axes = json::array();
  axes.push_back(json{{"name", "split"},
                      {"zip", json::array({json{{"layout", "MA Separation"}, {"pointer", "/ma/attention_gpus"},
                                                {"values", json::array({json::array({0, 1, 2, 3, 4, 5, 6, 7}),
                                                                        json::array({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})})}},
                                           json{{"layout", "MA Separation"}, {"pointer", "/ma/expert_gpus"},
                                                {"values", json::array({json::array({8, 9, 10, 11, 12, 13, 14, 15}),
                                                                        json::array({12, 13, 14, 15})})}}})},
                      {"labels", {"8:8", "12:4"}}});
  axes.push_back(json{{"name", "load"},
                      {"variants", json::array({json{{"label", "light"}, {"set", {{"/workload/batch", 96}}}},
                                                json{{"label", "heavy"},
                                                     {"set", {{"/workload/batch", 768}, {"/workload/context_length", 4096}}}}})}});
  const auto s = parse(sweep_doc(axes), d);
  REQUIRE_MESSAGE(s, d.format_lines());
  CHECK(s->point_count() == 4);
  const sweep::Point p = sweep::point_at(*s, 3);
  CHECK(p.labels == std::vector<std::string>{"12:4", "heavy"});
  CHECK(p.doc["layouts"][3]["ma"]["attention_gpus"].size() == 12);
  CHECK(p.doc["layouts"][3]["ma"]["expert_gpus"].size() == 4);
  CHECK(p.doc["workload"]["batch"] == 768);
  CHECK(p.doc["workload"]["context_length"] == 4096);
  // Every point of this sweep is a valid scenario (12 + 4: 4 expert GPUs hold 4 of the 16 experts each).
  for (std::size_t i = 0; i < 4; ++i) {
    const sweep::Resolved r = sweep::resolve_point(*s, sweep::point_at(*s, i), frontend::FileSource{}, {}, "t");
    CHECK_MESSAGE(r.spec.has_value(), i);
    CHECK(r.hash.size() == 16);
  }
}

TEST_CASE("a sweep keeps named layouts, sets values inside a layout by name, and edits a referenced model in place") {
  io::Diagnostics d;
  json doc = sweep_doc(json::array(
      {json{{"name", "variant"},
            {"reason", "why these variants"},
            {"variants", json::array({json{{"label", "as chosen"}},
                                      json{{"label", "MA TP=4"},
                                           {"description", "2 attention replicas of TP=4"},
                                           {"layout_set", {{"MA Separation", {{"/ma/attention_tp", 4}}},
                                                           {"TP=8, PP=2", {{"/micro_batches", 4}}}}}},
                                      json{{"label", "8 experts"}, {"set", {{"/model/num_experts", 8}}}}})}}}));
  doc["layouts"] = {"TP=8, PP=2", "MA Separation"};
  const auto s = parse(doc, d);
  REQUIRE_MESSAGE(s, d.format_lines());
  CHECK(s->axes[0].reason == "why these variants");
  CHECK(s->axes[0].values[1].description == "2 attention replicas of TP=4");
  // The base keeps two of seed_study.json's four layouts, in its order.
  REQUIRE(s->base["layouts"].size() == 2);
  CHECK(s->base["layouts"][0]["name"] == "TP=8, PP=2");
  // "as chosen" changes nothing: the base itself.
  CHECK(sweep::point_at(*s, 0).doc == s->base);
  const sweep::Point ma = sweep::point_at(*s, 1);
  CHECK(ma.doc["layouts"][1]["ma"]["attention_tp"] == 4);
  CHECK(ma.doc["layouts"][0]["micro_batches"] == 4);
  // The model file was inlined so that one value of it can change; the rest is the file's.
  const sweep::Point e8 = sweep::point_at(*s, 2);
  CHECK(e8.doc["model"]["num_experts"] == 8);
  CHECK(e8.doc["model"]["hidden_size"] == 4096);
  CHECK(sweep::point_at(*s, 0).doc["model"]["num_experts"] == 16);
  for (std::size_t i = 0; i < 3; ++i) {
    const sweep::Resolved r = sweep::resolve_point(*s, sweep::point_at(*s, i), frontend::FileSource{}, {}, "t");
    REQUIRE_MESSAGE(r.spec.has_value(), i, " ", r.errors.empty() ? "" : r.errors[0]);
    CHECK(r.spec->layouts.size() == 2);
    CHECK(r.spec->model.num_experts == (i == 2 ? 8 : 16));
    CHECK(r.spec->model.name == "seed-moe-4l");
  }
}

TEST_CASE("bad layout filters and layout sets are reported at their pointers") {
  io::Diagnostics d;
  json doc = sweep_doc(json::array(
      {json{{"name", "v"},
            {"variants", json::array({json{{"label", "a"}, {"layout_set", {{"MA Seperation", {{"/ma/attention_tp", 4}}}}}},
                                      json{{"label", "b"}, {"layout_set", {{"TP=8", json::object()}}}},
                                      json{{"label", "c"}, {"layout_set", {{"TP=8", {{"tp", 4}}}}}}})}}}));
  doc["layouts"] = {"TP=8", "TP=8", "TP9"};
  CHECK_FALSE(parse(doc, d));
  const std::string out = d.format_lines();
  CAPTURE(out);
  CHECK(out.find("tests/t.json:/layouts/1: layout \"TP=8\" is named twice") != std::string::npos);
  CHECK(out.find("tests/t.json:/layouts/2: expected the name of a layout of the base scenario, found \"TP9\"") != std::string::npos);
  io::Diagnostics d2;
  doc.erase("layouts");
  CHECK_FALSE(parse(doc, d2));
  const std::string out2 = d2.format_lines();
  CAPTURE(out2);
  CHECK(out2.find("tests/t.json:/axes/0/variants/0/layout_set/MA Seperation: expected the name of a layout of the base scenario, found \"MA Seperation\"; did you mean \"MA Separation\"?") != std::string::npos);
  CHECK(out2.find("tests/t.json:/axes/0/variants/1/layout_set/TP=8: expected at least one pointer to set") != std::string::npos);
  CHECK(out2.find("tests/t.json:/axes/0/variants/2/layout_set/TP=8/tp: expected a JSON Pointer (RFC 6901)") != std::string::npos);
}

TEST_CASE("sweep files are strict: every problem at once, with the sweep file's pointer") {
  io::Diagnostics d;
  json axes = json::array();
  axes.push_back(json{{"name", "c"}, {"pointer", "/workload/contxt_length"}, {"values", {1}}});     // typo
  axes.push_back(json{{"name", "x"}, {"pointer", "/workload/nothere/deep"}, {"values", {1}}});      // no parent
  axes.push_back(json{{"name", "l"}, {"layout", "MA Seperation"}, {"pointer", "/ma/attention_tp"}, {"values", {1}}});
  axes.push_back(json{{"name", "gpus"}, {"pointer", "/workload/batch"}, {"values", {1}}});          // reserved column
  axes.push_back(json{{"name", "v"}, {"pointer", "/seed"}, {"valuez", {1}}});                        // unknown key
  axes.push_back(json{{"name", "z"}, {"zip", json::array({json{{"pointer", "/seed"}, {"values", {1, 2}}},
                                                          json{{"pointer", "/workload/batch"}, {"values", {1}}}})}});
  CHECK_FALSE(parse(sweep_doc(axes), d));
  const std::string out = d.format_lines();
  CAPTURE(out);
  CHECK(out.find("tests/t.json:/axes/0/values/0: /workload/contxt_length: unknown key; did you mean \"context_length\"?") != std::string::npos);
  CHECK(out.find("tests/t.json:/axes/1/values/0: expected a location in the base scenario, found none: /workload/nothere does not exist") != std::string::npos);
  CHECK(out.find("tests/t.json:/axes/2/layout: expected the name of a layout of the base scenario, found \"MA Seperation\"; did you mean \"MA Separation\"?") != std::string::npos);
  CHECK(out.find("tests/t.json:/axes/3/name: \"gpus\" is a column every sweep output has") != std::string::npos);
  CHECK(out.find("tests/t.json:/axes/4/valuez: unknown key") != std::string::npos);
  CHECK(out.find("tests/t.json:/axes/5/zip/1/values: expected 2 values (as the zip's first member), found 1") != std::string::npos);
}

TEST_CASE("a sweep past the point limit is refused with its count") {
  io::Diagnostics d;
  std::vector<int> v(30);
  for (int i = 0; i < 30; ++i) v[static_cast<std::size_t>(i)] = i + 1;
  json axes = json::array({json{{"name", "a"}, {"pointer", "/seed"}, {"values", v}},
                           json{{"name", "b"}, {"pointer", "/workload/iterations"}, {"values", v}},
                           json{{"name", "c"}, {"pointer", "/workload/batch"}, {"values", v}}});
  const auto s = parse(sweep_doc(axes), d);
  REQUIRE(s);
  sweep::check_point_count(*s, 10000, "--max-points", d);
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].pointer == "/axes");
  CHECK(d.items()[0].message ==
        "expected a sweep of at most 10000 points (--max-points), found 27000 points (a 30 x b 30 x c 30); remove "
        "values or raise the limit with --max-points 27000");
  io::Diagnostics ok;
  sweep::check_point_count(*s, 27000, "--max-points", ok);
  CHECK(ok.empty());
}

TEST_CASE("bad points: reported with which point and why, the valid ones run, every point has its rows") {
  // TP=8 of seed_study.json at tp 3 (does not divide 32 heads) and tp 8 (valid);
  // a batch of 10^6 sequences that cannot fit in 80 GB; one routing sample.
  json axes = json::array({json{{"name", "tp"}, {"layout", "TP=8"}, {"pointer", "/tp"}, {"values", {3, 8}}},
                           json{{"name", "iterations"}, {"pointer", "/workload/iterations"}, {"values", {1}}},
                           json{{"name", "batch"}, {"pointer", "/workload/batch"}, {"values", {384, 1048576}}}});
  io::Diagnostics d;
  const auto s = parse(sweep_doc(axes), d);
  REQUIRE_MESSAGE(s, d.format_lines());
  sweep::SweepOptions o;
  o.out_dir = fresh("bad_points").string();
  o.jobs = 2;
  const sweep::SweepSummary r = sweep::run_sweep(*s, o, frontend::FileSource{});
  CHECK(r.points == 4);
  CHECK(r.done == 4);
  CHECK(r.invalid == 2);     // tp 3, both batches
  CHECK(r.simulated == 2);   // tp 8 at both batches
  CHECK(r.failed == 1);      // tp 8 at 10^6 sequences: every layout refused for memory
  std::vector<json> recs;
  std::istringstream in(read_text(fs::path(o.out_dir) / "points.jsonl"));
  std::string line;
  while (std::getline(in, line)) recs.push_back(json::parse(line));
  REQUIRE(recs.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(recs[i]["point"] == i);
  CHECK(recs[0]["status"] == "invalid");
  CHECK(recs[0]["errors"][0].get<std::string>().rfind("tests/t.json:/axes/0/values/0: ", 0) == 0);
  CHECK(recs[0]["errors"][0].get<std::string>().find("(sets /layouts/0/tp)") != std::string::npos);
  CHECK(recs[2]["status"] == "ok");
  CHECK(recs[2]["layouts"].size() == 4);
  CHECK(recs[3]["status"] == "failed");
  for (const json& l : recs[3]["layouts"]) {
    CHECK(l["status"] == "failed");
    CHECK(l["error"].get<std::string>().find("GiB") != std::string::npos);
  }
  // CSV: a header, one row per invalid point, one per layout of the others: 1 + 2 + 4 + 4.
  const std::string csv = read_text(fs::path(o.out_dir) / "points.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 11);
  CHECK(r.problems.size() >= 2);
  CHECK(r.problems[0].rfind("point 0 (tp=3, iterations=1, batch=384): tests/t.json:/axes/0/values/0: ", 0) == 0);
}

TEST_CASE("a point past the work limits is a refused row, not a run") {
  json axes = json::array({json{{"name", "iterations"}, {"pointer", "/workload/iterations"}, {"values", {1, 10000}}}});
  io::Diagnostics d;
  const auto s = parse(sweep_doc(axes), d);
  REQUIRE(s);
  sweep::SweepOptions o;
  o.out_dir = fresh("refused").string();
  o.limits.max_events = 1e6;  // 1 iteration of the seed study is ~1.5e4 events; 10,000 are ~1.5e8
  const sweep::SweepSummary r = sweep::run_sweep(*s, o, frontend::FileSource{});
  CHECK(r.simulated == 1);
  CHECK(r.refused == 1);
  REQUIRE(r.problems.size() >= 1);
  CAPTURE(r.problems[0]);
  CAPTURE(r.problems.back());
  // 10,000 routing samples: past the memory limit too (task programs of every sample)
  CHECK(r.problems[0].find("--max-memory") != std::string::npos);
  CHECK(r.problems.back().rfind("point 1 (iterations=10000): scenarios/paper/seed_study.json:/: expected a run within the work limit of 1e+06 events (--max-events)", 0) == 0);
}

TEST_CASE("outputs are byte-identical with 1 and 2 threads, and after an interruption and --resume") {
  io::Diagnostics d;
  const auto s = parse(sweep_doc(small_axes()), d);
  REQUIRE(s);
  auto run = [&](const std::string& name, int jobs, bool resume, std::size_t interrupt_after) {
    sweep::SweepOptions o;
    o.out_dir = resume ? (fs::temp_directory_path() / ("masim_sweep_test_" + std::to_string(::getpid())) / name).string()
                       : fresh(name).string();
    o.jobs = jobs;
    o.resume = resume;
    o.interrupt_after = interrupt_after;
    return std::make_pair(sweep::run_sweep(*s, o, frontend::FileSource{}), fs::path(o.out_dir));
  };
  const auto [r1, d1] = run("j1", 1, false, 0);
  const auto [r2, d2] = run("j2", 2, false, 0);
  CHECK(r1.simulated == 6);
  CHECK(r2.simulated == 6);
  for (const char* f : {"points.csv", "points.jsonl"}) {
    CAPTURE(f);
    CHECK(read_text(d1 / f) == read_text(d2 / f));
    CHECK(!read_text(d1 / f).empty());
  }
  CHECK_FALSE(fs::exists(d1 / "stream.csv"));  // removed once the final files are in place

  // Interrupted after 2 simulated points (SIGINT, as Ctrl-C): no final outputs, a journal of 2.
  const auto [ri, di] = run("resume", 1, false, 2);
  CHECK(ri.interrupted);
  CHECK(ri.simulated == 2);
  CHECK_FALSE(fs::exists(di / "points.csv"));
  const std::string journal = read_text(di / "journal.jsonl");
  CHECK(std::count(journal.begin(), journal.end(), '\n') == 2);
  CHECK(fs::exists(di / "stream.csv"));
  // Resumed: the 2 journaled points are not simulated again, the other 4 are.
  const auto [rr, dr] = run("resume", 2, true, 0);
  CHECK_FALSE(rr.interrupted);
  CHECK(rr.resumed == 2);
  CHECK(rr.simulated == 4);
  for (const char* f : {"points.csv", "points.jsonl"}) {
    CAPTURE(f);
    CHECK(read_text(d1 / f) == read_text(dr / f));
  }
  // Resumed again once finished: nothing left to simulate, same bytes.
  const auto [ra, da] = run("resume", 2, true, 0);
  CHECK(ra.simulated == 0);
  CHECK(ra.resumed == 6);
  CHECK(read_text(d1 / "points.csv") == read_text(da / "points.csv"));
}

TEST_CASE("a journal line cut short by a kill is skipped, and its point simulated again") {
  io::Diagnostics d;
  const auto s = parse(sweep_doc(json::array({json{{"name", "iterations"}, {"pointer", "/workload/iterations"}, {"values", {1, 2}}}})), d);
  REQUIRE(s);
  sweep::SweepOptions o;
  o.out_dir = fresh("cut").string();
  o.jobs = 1;
  (void)sweep::run_sweep(*s, o, frontend::FileSource{});
  const std::string full = read_text(fs::path(o.out_dir) / "points.csv");
  std::string journal = read_text(fs::path(o.out_dir) / "journal.jsonl");
  const std::size_t second = journal.find('\n') + 1;
  journal.resize(second + (journal.size() - second) / 2);  // the second line, half written
  std::ofstream(fs::path(o.out_dir) / "journal.jsonl", std::ios::binary | std::ios::trunc) << journal;
  o.resume = true;
  const sweep::SweepSummary r = sweep::run_sweep(*s, o, frontend::FileSource{});
  CHECK(r.resumed == 1);
  CHECK(r.simulated == 1);
  CHECK(read_text(fs::path(o.out_dir) / "points.csv") == full);
}

TEST_CASE("search: the winner meets the SLO, beats every other feasible configuration of its kind, and says why") {
  // TP over the seed study's 16 GPUs at 24 and 16,384 sequences per GPU, SLO 20 ms:
  // 16,384 per GPU do not fit: at TP=8 one KV head per GPU is 4 layers x 2 x 128 x 2 B = 2 KiB per token,
  // x 131,072 sequences per replica x 2048 tokens = 512 GiB.
  const fs::path dir = fresh("search");
  fs::create_directories(dir);
  const fs::path f = dir / "s.json";
  std::ofstream(f) << json{{"schema", 1}, {"name", "t"},
                           {"base", (fs::current_path() / "scenarios/paper/seed_study.json").string()},
                           {"slo", {{"tpot", "20 ms"}}}, {"price_per_gpu_hour", 2.0}, {"kinds", {"tp"}},
                           {"batch_per_gpu", {24, 16384}}}
                          .dump();
  io::Diagnostics d;
  const auto s = sweep::load_search(f.string(), d, frontend::FileSource{});
  REQUIRE_MESSAGE(s, d.format_lines());
  const sweep::SearchResult r = sweep::run_search(*s, 2, frontend::FileSource{}, "t");
  // TP 1, 2, 4, 8 (powers of two up to max_tp 8) x 2 loads
  REQUIRE(r.candidates.size() == 8);
  REQUIRE(r.kinds.size() == 1);
  const sweep::KindResult& k = r.kinds[0];
  REQUIRE(k.best);
  const sweep::Candidate& w = r.candidates[*k.best];
  CHECK(w.status == "feasible");
  CHECK(w.tpot_ms <= 20.0);
  CHECK(w.batch_per_gpu == 24);
  for (const sweep::Candidate& c : r.candidates) {
    if (c.status == "feasible") CHECK(c.tokens_per_s_per_gpu <= w.tokens_per_s_per_gpu);
    if (c.batch_per_gpu == 16384) CHECK(c.status == "memory");
  }
  // tokens per dollar = tokens/s per GPU x 3600 s / 2 dollars
  CHECK(w.tokens_per_dollar == doctest::Approx(w.tokens_per_s_per_gpu * 1800.0));
  REQUIRE(k.runner_up);
  CHECK(r.candidates[*k.runner_up].family != w.family);
  REQUIRE(k.next_load);
  CHECK(r.candidates[*k.next_load].status == "memory");
  const std::string text = sweep::format_search(*s, r);
  CAPTURE(text);
  CHECK(text.find("binding: ") != std::string::npos);
  CHECK(text.find("load: memory: 16384 sequences per GPU does not fit") != std::string::npos);
  CHECK(text.find("% behind") != std::string::npos);
}
