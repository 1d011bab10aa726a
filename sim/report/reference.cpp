#include "sim/report/reference.hpp"

#include <nlohmann/json.hpp>

#include "sim/common/assert.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::report {

using io::Required;
using nlohmann::json;

std::optional<double> RefTable::value(const std::string& metric, const std::string& layout) const {
  const int c = column_of(layout);
  const RefRow* r = row(metric);
  if (c < 0 || r == nullptr) return std::nullopt;
  return r->values[static_cast<std::size_t>(c)];
}

const RefRow* RefTable::row(const std::string& metric) const {
  for (const RefRow& r : rows) {
    if (r.metric == metric) return &r;
  }
  return nullptr;
}

int RefTable::column_of(const std::string& layout) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].layout == layout) return static_cast<int>(i);
  }
  return -1;
}

double RefClaim::at(const std::string& key) const {
  const auto it = values.find(key);
  MASIM_ASSERT(it != values.end(), "reference claim lacks a value the report uses");
  return it->second;
}

const RefTable& Reference::table(const std::string& id) const {
  for (const RefTable& t : tables) {
    if (t.id == id) return t;
  }
  MASIM_ASSERT(false, "reference table missing");
  return tables.front();
}

const RefClaim& Reference::claim(const std::string& id) const {
  for (const RefClaim& c : claims) {
    if (c.id == id) return c;
  }
  MASIM_ASSERT(false, "reference claim missing");
  return claims.front();
}

namespace {

const std::vector<std::string> kLayoutKinds = {"tp", "pp", "tp_pp", "ep", "ma_separation"};

RefTable parse_table(const json& node, const std::string& file, const std::string& ptr,
                     io::Diagnostics& d) {
  RefTable t;
  io::JsonReader r(node, file, ptr, d);
  if (!r.valid()) return t;
  t.id = r.string("id", Required::kYes).value_or("");
  t.title = r.string("title", Required::kYes).value_or("");
  t.section = r.string("section", Required::kYes).value_or("");
  if (const json* cols = r.array("columns", Required::kYes)) {
    for (std::size_t i = 0; i < cols->size(); ++i) {
      io::JsonReader c((*cols)[i], file, io::pointer_join(r.pointer_of("columns"), i), d);
      if (!c.valid()) continue;
      RefColumn col;
      col.label = c.string("label", Required::kYes).value_or("");
      col.layout = c.choice("layout", Required::kYes, kLayoutKinds).value_or("");
      c.finish();
      t.columns.push_back(col);
    }
  }
  if (const json* rows = r.array("rows", Required::kYes)) {
    for (std::size_t i = 0; i < rows->size(); ++i) {
      const std::string rp = io::pointer_join(r.pointer_of("rows"), i);
      io::JsonReader rr((*rows)[i], file, rp, d);
      if (!rr.valid()) continue;
      RefRow row;
      row.label = rr.string("label", Required::kYes).value_or("");
      row.metric = rr.string("metric", Required::kYes).value_or("");
      row.unit = rr.string("unit", Required::kYes).value_or("");
      row.improvement_text = rr.string_or("improvement_text", "");
      if (rr.has("context_length")) {
        row.context_length = static_cast<int>(rr.integer("context_length", Required::kYes, 1, 1 << 22).value_or(0));
      }
      if (const json* vals = rr.array("values", Required::kYes)) {
        for (std::size_t k = 0; k < vals->size(); ++k) {
          if (!(*vals)[k].is_number()) {
            d.error(file, io::pointer_join(rr.pointer_of("values"), k),
                    "expected a number, found " + io::describe((*vals)[k]));
            continue;
          }
          row.values.push_back((*vals)[k].get<double>());
        }
        if (row.values.size() != t.columns.size()) {
          rr.error("values", "expected " + std::to_string(t.columns.size()) +
                                 " values (one per column), found " + std::to_string(vals->size()));
        }
      }
      rr.finish();
      t.rows.push_back(row);
    }
  }
  r.finish();
  return t;
}

}  // namespace

Reference load_reference(const std::string& path) {
  io::Diagnostics d;
  const auto doc = io::load_json_file(path, d);
  if (!doc) {
    // A missing file is the environment's problem; a syntax error is the input's.
    if (!d.empty() && d.items().front().message.find("cannot") != std::string::npos) {
      throw io::EnvironmentError(d.format_lines());
    }
    throw io::InputError(d);
  }
  Reference ref;
  io::JsonReader r(*doc, path, "", d);
  if (!r.valid()) throw io::InputError(d);
  if (r.integer("schema", Required::kYes, 1, 1).value_or(0) != 1) {
    // the reader recorded the problem
  }
  r.choice("kind", Required::kYes, {"reference"});
  ref.study = r.string("study", Required::kYes).value_or("");
  ref.source = r.string("source", Required::kYes).value_or("");
  if (const json* setup = r.raw("setup", Required::kYes); setup != nullptr && setup->is_object()) {
    for (const auto& [k, v] : setup->items()) ref.setup[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  if (const json* tables = r.array("tables", Required::kYes)) {
    for (std::size_t i = 0; i < tables->size(); ++i) {
      ref.tables.push_back(parse_table((*tables)[i], path, io::pointer_join("/tables", i), d));
    }
  }
  if (const json* claims = r.array("claims", Required::kYes)) {
    for (std::size_t i = 0; i < claims->size(); ++i) {
      const json& c = (*claims)[i];
      const std::string cp = io::pointer_join("/claims", i);
      if (!c.is_object()) {
        d.error(path, cp, "expected an object, found " + io::describe(c));
        continue;
      }
      RefClaim claim;
      for (const auto& [k, v] : c.items()) {
        if (k == "id" || k == "section" || k == "text" || k == "unit") {
          if (!v.is_string()) {
            d.error(path, io::pointer_join(cp, k), "expected a string, found " + io::describe(v));
            continue;
          }
          const std::string s = v.get<std::string>();
          if (k == "id") claim.id = s;
          if (k == "section") claim.section = s;
          if (k == "text") claim.text = s;
          if (k == "unit") claim.unit = s;
        } else if (v.is_number()) {
          claim.values[k] = v.get<double>();
        } else {
          d.error(path, io::pointer_join(cp, k),
                  "expected a number (claim values are numbers), found " + io::describe(v));
        }
      }
      if (claim.id.empty()) d.error(path, cp, "missing required key \"id\"");
      if (claim.text.empty()) d.error(path, cp, "missing required key \"text\"");
      ref.claims.push_back(claim);
    }
  }
  r.finish();
  if (!d.empty()) throw io::InputError(d);
  return ref;
}

}  // namespace masim::report
