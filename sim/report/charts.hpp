// Vega-Lite chart specifications for the report, built from rows of plain data.
//
// Every chart keeps its data inline under "datasets": {"table": rows, ...} so the
// HTML page renders offline and the browser test can count the rows it shows
// (view.data("table")). Sizes are fixed (no "container" width) so a headless
// browser renders the same picture every time.
//
//   LineChart c{.x = {"gpus", "GPUs"}, .y = {"tokens_per_s", "tokens/s"}, .color = {"layout", "Layout"}};
//   nlohmann::json spec = make_line_chart(c, rows);   // rows: [{"gpus": 4, "tokens_per_s": 1e4, "layout": "TP=8"}, ...]
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace masim::report {

struct Field {
  std::string name;    // key in each data row
  std::string title;   // axis or legend title
  bool log = false;    // log scale (quantitative axes)
};

struct Rule {
  double value = 0.0;
  std::string label;
};

// Lines with points, one line per `color` value; `dash` (optional) draws a
// second line style per value (e.g. "simulated" / "study"); `order` (optional)
// is the field that orders points along a line (default: x).
struct LineChart {
  Field x;
  Field y;
  Field color;
  std::optional<Field> dash;
  std::optional<Field> order;
  std::vector<std::string> tooltip;    // extra fields shown on hover
  std::optional<Rule> x_rule;          // vertical rule (e.g. an SLO on TPOT)
  std::optional<Rule> y_rule;
  bool x_ordinal = false;              // x as evenly spaced categories
  int width = 640;
  int height = 320;
};
nlohmann::json make_line_chart(const LineChart& c, nlohmann::json rows);

// Stacked bars: one bar per `category`, stacked by `part`.
struct StackedBar {
  Field category;
  Field part;
  Field value;
  std::vector<std::string> part_order;   // stack and legend order (empty: as found)
  std::vector<std::string> category_order;
  std::optional<Rule> value_rule;         // horizontal rule (e.g. 80 GiB capacity)
  std::vector<std::string> tooltip;
  int width = 560;
  int height = 320;
};
nlohmann::json make_stacked_bar(const StackedBar& c, nlohmann::json rows);

// Gantt timeline: one lane per `lane` value, bars from `start` to `end` coloured by `color`.
struct Gantt {
  Field lane;
  Field start;
  Field end;
  Field color;
  std::vector<std::string> lane_order;
  std::vector<std::string> tooltip;
  int width = 900;
  int lane_height = 12;
};
nlohmann::json make_gantt(const Gantt& c, nlohmann::json rows, std::size_t lanes);

// Grouped bars: one group per `category`, one bar per `series`.
struct GroupedBar {
  Field category;
  Field series;
  Field value;
  std::vector<std::string> category_order;
  std::vector<std::string> series_order;
  std::vector<std::string> tooltip;
  int width = 640;
  int height = 300;
};
nlohmann::json make_grouped_bar(const GroupedBar& c, nlohmann::json rows);

}  // namespace masim::report
