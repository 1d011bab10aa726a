#include "sim/report/charts.hpp"

namespace masim::report {

using nlohmann::json;

namespace {

constexpr const char* kSchema = "https://vega.github.io/schema/vega-lite/v6.json";

json base_spec(json rows, int width, int height) {
  json s;
  s["$schema"] = kSchema;
  s["width"] = width;
  s["height"] = height;
  s["datasets"] = {{"table", std::move(rows)}};
  s["config"] = {{"font", "system-ui, sans-serif"}, {"legend", {{"orient", "right"}}}};
  return s;
}

json tooltip_list(const std::vector<std::string>& fields, const std::vector<const Field*>& main) {
  json t = json::array();
  for (const Field* f : main) {
    if (f != nullptr && !f->name.empty()) t.push_back({{"field", f->name}, {"title", f->title}});
  }
  for (const std::string& f : fields) t.push_back({{"field", f}});
  return t;
}

json quant(const Field& f, bool zero = true) {
  json e = {{"field", f.name}, {"type", "quantitative"}, {"title", f.title}};
  if (f.log) {
    e["scale"] = {{"type", "log"}};
  } else if (!zero) {
    e["scale"] = {{"zero", false}};
  }
  return e;
}

json rule_layer(const std::string& dataset, const std::string& channel) {
  json layer;
  layer["data"] = {{"name", dataset}};
  layer["mark"] = {{"type", "rule"}, {"strokeDash", {6, 4}}, {"color", "#6e7781"}};
  layer["encoding"] = {{channel, {{"field", "value"}, {"type", "quantitative"}}}};
  json text;
  text["data"] = {{"name", dataset}};
  text["mark"] = {{"type", "text"}, {"align", "left"}, {"dx", 4}, {"dy", -6}, {"color", "#57606a"}};
  text["encoding"] = {{channel, {{"field", "value"}, {"type", "quantitative"}}},
                      {"text", {{"field", "label"}}}};
  if (channel == "x") text["encoding"]["y"] = {{"value", 8}};
  if (channel == "y") text["encoding"]["x"] = {{"value", 4}};
  return json::array({layer, text});
}

}  // namespace

json make_line_chart(const LineChart& c, json rows) {
  json s = base_spec(std::move(rows), c.width, c.height);
  json line;
  line["data"] = {{"name", "table"}};
  line["mark"] = {{"type", "line"}, {"point", true}};
  json enc;
  if (c.x_ordinal) {
    enc["x"] = {{"field", c.x.name}, {"type", "ordinal"}, {"title", c.x.title}};
  } else {
    enc["x"] = quant(c.x, false);
  }
  enc["y"] = quant(c.y);
  enc["color"] = {{"field", c.color.name}, {"type", "nominal"}, {"title", c.color.title}};
  if (c.dash) {
    enc["strokeDash"] = {{"field", c.dash->name}, {"type", "nominal"}, {"title", c.dash->title}};
    enc["shape"] = {{"field", c.dash->name}, {"type", "nominal"}, {"title", c.dash->title}};
    enc["detail"] = {{"field", c.dash->name}};
  }
  if (c.order) enc["order"] = {{"field", c.order->name}, {"type", "quantitative"}};
  const Field* dash = c.dash ? &*c.dash : nullptr;
  enc["tooltip"] = tooltip_list(c.tooltip, {&c.color, dash, &c.x, &c.y});
  line["encoding"] = enc;
  json layers = json::array({line});
  if (c.x_rule) {
    s["datasets"]["x_rule"] = json::array({{{"value", c.x_rule->value}, {"label", c.x_rule->label}}});
    for (auto& l : rule_layer("x_rule", "x")) layers.push_back(l);
  }
  if (c.y_rule) {
    s["datasets"]["y_rule"] = json::array({{{"value", c.y_rule->value}, {"label", c.y_rule->label}}});
    for (auto& l : rule_layer("y_rule", "y")) layers.push_back(l);
  }
  s["layer"] = layers;
  return s;
}

json make_stacked_bar(const StackedBar& c, json rows) {
  json s = base_spec(std::move(rows), c.width, c.height);
  json bar;
  bar["data"] = {{"name", "table"}};
  bar["mark"] = {{"type", "bar"}};
  json enc;
  enc["x"] = {{"field", c.category.name}, {"type", "nominal"}, {"title", c.category.title},
              {"axis", {{"labelAngle", -20}, {"labelLimit", 260}}}};
  if (!c.category_order.empty()) enc["x"]["sort"] = c.category_order;
  enc["y"] = {{"field", c.value.name}, {"type", "quantitative"}, {"title", c.value.title},
              {"stack", "zero"}};
  enc["color"] = {{"field", c.part.name}, {"type", "nominal"}, {"title", c.part.title}};
  if (!c.part_order.empty()) {
    enc["color"]["sort"] = c.part_order;
    enc["color"]["scale"] = {{"domain", c.part_order}};
    // Stack in legend order: Vega-Lite stacks by the "order" channel.
    enc["order"] = {{"field", "part_index"}, {"type", "quantitative"}};
    for (auto& row : s["datasets"]["table"]) {
      const std::string part = row.value(c.part.name, "");
      int index = static_cast<int>(c.part_order.size());
      for (std::size_t i = 0; i < c.part_order.size(); ++i) {
        if (c.part_order[i] == part) index = static_cast<int>(i);
      }
      row["part_index"] = index;
    }
  }
  enc["tooltip"] = tooltip_list(c.tooltip, {&c.category, &c.part, &c.value});
  bar["encoding"] = enc;
  json layers = json::array({bar});
  if (c.value_rule) {
    s["datasets"]["y_rule"] =
        json::array({{{"value", c.value_rule->value}, {"label", c.value_rule->label}}});
    for (auto& l : rule_layer("y_rule", "y")) layers.push_back(l);
  }
  s["layer"] = layers;
  return s;
}

json make_gantt(const Gantt& c, json rows, std::size_t lanes) {
  const int height = static_cast<int>(lanes) * c.lane_height + 10;
  json s = base_spec(std::move(rows), c.width, height);
  s["data"] = {{"name", "table"}};
  s["mark"] = {{"type", "bar"}, {"height", {{"band", 0.85}}}};
  json enc;
  enc["y"] = {{"field", c.lane.name}, {"type", "ordinal"}, {"title", c.lane.title},
              {"axis", {{"labelFontSize", 9}}}};
  if (!c.lane_order.empty()) enc["y"]["sort"] = c.lane_order;
  enc["x"] = {{"field", c.start.name}, {"type", "quantitative"}, {"title", c.start.title}};
  enc["x2"] = {{"field", c.end.name}};
  enc["color"] = {{"field", c.color.name}, {"type", "nominal"}, {"title", c.color.title}};
  enc["tooltip"] = tooltip_list(c.tooltip, {&c.lane, &c.color, &c.start, &c.end});
  s["encoding"] = enc;
  return s;
}

json make_grouped_bar(const GroupedBar& c, json rows) {
  json s = base_spec(std::move(rows), c.width, c.height);
  s["data"] = {{"name", "table"}};
  s["mark"] = {{"type", "bar"}};
  json enc;
  enc["x"] = {{"field", c.category.name}, {"type", "nominal"}, {"title", c.category.title},
              {"axis", {{"labelAngle", 0}, {"labelLimit", 200}}}};
  if (!c.category_order.empty()) enc["x"]["sort"] = c.category_order;
  enc["xOffset"] = {{"field", c.series.name}, {"type", "nominal"}};
  if (!c.series_order.empty()) enc["xOffset"]["sort"] = c.series_order;
  enc["y"] = {{"field", c.value.name}, {"type", "quantitative"}, {"title", c.value.title}};
  enc["color"] = {{"field", c.series.name}, {"type", "nominal"}, {"title", c.series.title}};
  if (!c.series_order.empty()) enc["color"]["sort"] = c.series_order;
  enc["tooltip"] = tooltip_list(c.tooltip, {&c.category, &c.series, &c.value});
  s["encoding"] = enc;
  return s;
}

}  // namespace masim::report
