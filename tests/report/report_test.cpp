// Unit tests of the report renderers on small hand-written inputs.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/report/charts.hpp"
#include "sim/report/document.hpp"
#include "sim/report/format.hpp"
#include "sim/report/reference.hpp"
#include "sim/report/trace.hpp"

using namespace masim::report;
using nlohmann::json;

TEST_CASE("number formatting is fixed, grouped and signed as documented") {
  CHECK(format_fixed(2.8412, 2) == "2.84");
  CHECK(format_fixed(-0.0001, 2) == "0.00");  // no "-0.00"
  CHECK(format_grouped(135200.4) == "135,200");
  CHECK(format_grouped(-1234567.0) == "-1,234,567");
  CHECK(format_grouped(999.0) == "999");
  CHECK(format_sig(0.000123456, 3) == "0.000123");
  CHECK(format_sig(12.3456, 3) == "12.3");
  CHECK(format_auto(212624.2) == "212,624");
  CHECK(format_auto(2.76) == "2.76");
  CHECK(format_auto(0.0082) == "0.00820");
  // (2.91 - 2.84) / 2.84 = +2.46% -> "+2.5%"
  CHECK(format_delta_pct(2.91, 2.84) == "+2.5%");
  // (1.82 - 2.76) / 2.76 = -34.06% -> "-34.1%"
  CHECK(format_delta_pct(1.82, 2.76) == "-34.1%");
  CHECK(format_delta_pct(1.0, 0.0) == "n/a");
  CHECK(format_delta_pp(71.2, 68.4) == "+2.8 pp");
}

namespace {
Document small_document() {
  Document d("Tiny | report");
  d.heading(2, "Section **one**");
  d.paragraph("Text with `code`, **bold** and [a link](https://example.org/?a=1&b=2) <b>.");
  Table& t = d.table("perf", "Performance", {"Metric", "TP=8", "MA"});
  t.add_row({Cell::text("TPOT (ms)"), Cell::number(2.8412, "2.84"), Cell::number(1.82, "1.82")});
  t.add_row({Cell::text("a, \"quoted\" | cell"), Cell::text("n/a"), Cell::number(1e6, "1,000,000")});
  t.note = "Note with `x`.";
  d.list({"one", "two"});
  Chart c;
  c.id = "lines";
  c.title = "Lines";
  c.caption = "caption </script> here";
  LineChart lc{.x = {"x", "X"}, .y = {"y", "Y"}, .color = {"s", "Series"}};
  c.spec = make_line_chart(lc, json::array({{{"x", 1}, {"y", 2}, {"s", "a"}}}));
  d.chart(c);
  return d;
}
}  // namespace

TEST_CASE("markdown renders headings, escaped table cells, notes, lists and chart pointers") {
  const std::string md = render_markdown(small_document(), "report.html");
  CHECK(md.rfind("# Tiny | report\n", 0) == 0);
  CHECK(md.find("## Section **one**\n") != std::string::npos);
  CHECK(md.find("| Metric | TP=8 | MA |\n|---|---:|---:|\n") != std::string::npos);
  // The pipe inside a cell is escaped so the row keeps three columns.
  CHECK(md.find("| a, \"quoted\" \\| cell | n/a | 1,000,000 |") != std::string::npos);
  CHECK(md.find("\nNote with `x`.\n") != std::string::npos);
  CHECK(md.find("- one\n- two\n") != std::string::npos);
  CHECK(md.find("*Chart: Lines* (interactive in `report.html`)") != std::string::npos);
}

TEST_CASE("csv writes numbers at full precision and quotes text per RFC 4180") {
  const Document d = small_document();
  const std::string csv = render_csv(d.tables().front());
  CHECK(csv ==
        "Metric,TP=8,MA\n"
        "TPOT (ms),2.8412,1.82\n"
        "\"a, \"\"quoted\"\" | cell\",n/a,1000000\n");
}

TEST_CASE("inline markdown becomes escaped HTML") {
  CHECK(inline_html("a <b> & `x<y>` **bold**") ==
        "a &lt;b&gt; &amp; <code>x&lt;y&gt;</code> <strong>bold</strong>");
  CHECK(inline_html("[l](http://x/?a=1&b=2)") == "<a href=\"http://x/?a=1&amp;b=2\">l</a>");
  CHECK(inline_html("unclosed **bold") == "unclosed <strong>bold</strong>");
}

TEST_CASE("html page inlines the libraries, embeds each chart spec safely and is deterministic") {
  WebAssets a{"/*vega*/", "/*vl*/", "/*embed*/", "vega 1, vega-lite 2, vega-embed 3"};
  const Document d = small_document();
  const std::string html = render_html(d, a);
  CHECK(html.find("<script>\n/*vega*/\n</script>") != std::string::npos);
  CHECK(html.find("<script>\n/*embed*/\n</script>") != std::string::npos);
  CHECK(html.find("id=\"chart-lines\"") != std::string::npos);
  CHECK(html.find("<script type=\"application/json\" id=\"spec-lines\">") != std::string::npos);
  // The spec's JSON never contains a raw '<' (so no "</script>" can close the element early).
  const std::size_t start = html.find("id=\"spec-lines\">") + 16;
  const std::size_t end = html.find("</script>", start);
  const std::string spec_text = html.substr(start, end - start);
  CHECK(spec_text.find('<') == std::string::npos);
  CHECK(json::parse(spec_text)["datasets"]["table"].size() == 1);
  CHECK(html.find("caption &lt;/script&gt; here") != std::string::npos);
  CHECK(html == render_html(d, a));
}

TEST_CASE("missing web assets give an environment error naming the install command") {
  try {
    load_web_assets("/nonexistent/node_modules");
    FAIL("expected an error");
  } catch (const masim::io::EnvironmentError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("/nonexistent/node_modules/vega/build/vega.min.js") != std::string::npos);
    CHECK(msg.find("npm ci --prefix tools/web") != std::string::npos);
  }
}

TEST_CASE("stacked bars stack in the given part order and carry a capacity rule") {
  StackedBar sb{.category = {"layout", "Layout"}, .part = {"component", "Component"},
                .value = {"gib", "GiB"}, .part_order = {"parameters", "kv_cache"},
                .value_rule = Rule{80.0, "capacity"}};
  const json rows = json::array({{{"layout", "TP=8"}, {"component", "kv_cache"}, {"gib", 3.0}},
                                 {{"layout", "TP=8"}, {"component", "parameters"}, {"gib", 5.0}}});
  const json s = make_stacked_bar(sb, rows);
  CHECK(s["datasets"]["table"][0]["part_index"] == 1);
  CHECK(s["datasets"]["table"][1]["part_index"] == 0);
  CHECK(s["datasets"]["y_rule"][0]["value"] == 80.0);
  CHECK(s["layer"].size() == 3);  // bars + rule + its label
}

TEST_CASE("chrome trace has one process per layout and one thread per GPU stream") {
  const json results = {
      {"masim_version", "0.1.0"},
      {"scenario_name", "t"},
      {"layouts",
       json::array({{{"name", "MA"},
                     {"timeline", json::array({{{"gpu", 1}, {"stream", "comm"}, {"name", "ma_dispatch"},
                                                {"cat", "comm"}, {"layer", 0}, {"micro_batch", 1},
                                                {"start_us", 5.5}, {"dur_us", 2.0}},
                                               {{"gpu", 0}, {"stream", "compute"}, {"name", "qkv"},
                                                {"cat", "attention"}, {"layer", 0}, {"micro_batch", 0},
                                                {"start_us", 0.0}, {"dur_us", 5.0}}})}},
                    {{"name", "TP"}}})}};
  const json t = chrome_trace(results);
  int x = 0, threads = 0, processes = 0;
  for (const json& e : t["traceEvents"]) {
    if (e["ph"] == "X") {
      ++x;
      if (e["name"] == "ma_dispatch") {
        CHECK(e["tid"] == 3);  // 2 * gpu 1 + 1 (comm stream)
        CHECK(e["ts"] == 5.5);
        CHECK(e["dur"] == 2.0);
        CHECK(e["args"]["micro_batch"] == 1);
      }
    }
    if (e["name"] == "thread_name") ++threads;
    if (e["name"] == "process_name") ++processes;
  }
  CHECK(x == 2);
  CHECK(threads == 2);
  CHECK(processes == 2);
}

TEST_CASE("the shipped reference file loads and holds the study's figures") {
  const Reference ref = load_reference(std::string(MASIM_SOURCE_DIR) + "/scenarios/paper/reference.json");
  const RefTable& perf = ref.table("performance");
  CHECK(perf.value("tpot_ms", "ma_separation") == doctest::Approx(1.82));
  CHECK(perf.value("tokens_per_s", "tp_pp") == doctest::Approx(139136));
  CHECK(!perf.value("tpot_ms", "ep").has_value());
  // The study's own sums: each memory column's components add up to its total.
  const RefTable& mem = ref.table("memory");
  for (const RefColumn& c : mem.columns) {
    double sum = 0;
    for (const char* m : {"memory.parameters", "memory.activations", "memory.gradients",
                          "memory.optimizer_states", "memory.comm_buffers"}) {
      sum += *mem.value(m, c.layout);
    }
    CHECK(sum == doctest::Approx(*mem.value("memory.total", c.layout)).epsilon(1e-9));
  }
  CHECK(ref.claim("energy.per_token").at("ma_separation") == doctest::Approx(0.82));
  CHECK(ref.table("sequence_length").rows.size() == 4);
}

TEST_CASE("a reference file with a typo and a short row reports both problems") {
  const auto dir = std::filesystem::temp_directory_path() / "masim_report_test_ref";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "bad.json").string();
  std::ofstream(path) << R"({"schema": 1, "kind": "reference", "study": "s", "source": "x", "setup": {},
    "tables": [{"id": "t", "title": "T", "section": "S", "columns": [{"label": "A", "layout": "tp"}],
                "rows": [{"label": "r", "metric": "m", "unit": "ms", "values": [], "improvment_text": "x"}]}],
    "claims": []})";
  try {
    load_reference(path);
    FAIL("expected an error");
  } catch (const masim::io::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("/tables/0/rows/0/values: expected 1 values") != std::string::npos);
    CHECK(msg.find("improvment_text") != std::string::npos);
    CHECK(msg.find("improvement_text") != std::string::npos);  // did-you-mean
  }
}

#include "sim/report/report.hpp"
#include "sim/report/results_view.hpp"

TEST_CASE("results views: overlap from the timeline, memory per MA group, MoE exchange share") {
  const json r = load_results(std::string(MASIM_SOURCE_DIR) + "/tests/report/data/tiny_results.json");
  const json* tp = find_layout_by_kind(r, "tp");
  const json* ma = find_layout_by_kind(r, "ma_separation");
  REQUIRE(tp != nullptr);
  REQUIRE(ma != nullptr);
  // TP: compute [0,300] and [500,1500], comm [300,500] on each GPU: no overlap.
  CHECK(timeline_overlap_fraction(*tp) == doctest::Approx(0.0));
  // MA: GPU 0 computes [0,800] and sends [400,500] and [800,900]: 100 us overlap;
  // GPU 1 computes [500,1300] and sends [900,1000] and [1300,1400]: 100 us.
  // Iteration span [0,1400]: 100/1400 = 0.0714 per GPU, mean 0.0714.
  CHECK(timeline_overlap_fraction(*ma) == doctest::Approx(100.0 / 1400.0));
  // MA: attention_gpus = 1 and gpu_ranks [0, 1] -> GPU 0 attention, GPU 1 experts.
  const auto profiles = memory_profiles(*ma);
  REQUIRE(profiles.size() == 2);
  CHECK(profiles[0].role == "attention GPU");
  CHECK(profiles[0].gpu == 0);
  CHECK(profiles[1].role == "expert GPU");
  CHECK(profiles[1].total_gib == doctest::Approx(21.75));  // 19 + 0 + 0.5 + 0.25 + 2
  // dispatch 0.05 + combine 0.04 (+ EP 0) = 0.09
  CHECK(moe_exchange_share(*ma) == doctest::Approx(0.09));
  CHECK(moe_exchange_share(*tp) == doctest::Approx(0.0));
  // A layout without a timeline gets no chart.
  CHECK(!timeline_chart(json::object(), "x", "t", "c").has_value());
}

TEST_CASE("a results file without layouts is a diagnostic") {
  const auto dir = std::filesystem::temp_directory_path() / "masim_report_test_results";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "r.json").string();
  std::ofstream(path) << R"({"schema": 1})";
  CHECK_THROWS_AS(load_results(path), masim::io::InputError);
  CHECK_THROWS_AS(load_results((dir / "missing.json").string()), masim::io::EnvironmentError);
}
