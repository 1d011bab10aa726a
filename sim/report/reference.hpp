// The seed study's figures (scenarios/paper/reference.json), typed. Used only
// for comparison in reports: no simulated number is ever computed from them.
//
// A table has columns (each naming the masim layout kind it belongs to: "tp",
// "pp", "tp_pp", "ma_separation") and rows (each naming the simulated metric the
// report puts beside it, e.g. "tpot_ms", "comm.tp_allreduce", "memory.total").
// A claim is one sentence of the study with its numbers under named keys
// ("ma_separation", "baseline", "half_width", ...).
//
//   Reference ref = load_reference("scenarios/paper/reference.json");
//   const RefTable& t = ref.table("performance");
//   double study_tpot_ma = t.value("tpot_ms", "ma_separation");   // 1.82
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace masim::report {

struct RefColumn {
  std::string label;    // as the study prints it ("TP=8, PP=2")
  std::string layout;   // masim layout kind ("tp_pp")
};

struct RefRow {
  std::string label;             // "TPOT (ms/token)"
  std::string metric;            // "tpot_ms"
  std::string unit;              // "ms", "%", "GB", "tokens/s"
  std::vector<double> values;    // one per column
  std::string improvement_text;  // the study's "Improvement" cell, if any
  std::optional<int> context_length;  // sequence-length table rows
};

struct RefTable {
  std::string id;
  std::string title;
  std::string section;
  std::vector<RefColumn> columns;
  std::vector<RefRow> rows;
  // The study's value for (metric, layout kind); nullopt if the table has none.
  std::optional<double> value(const std::string& metric, const std::string& layout) const;
  const RefRow* row(const std::string& metric) const;
  int column_of(const std::string& layout) const;   // -1 if absent
};

struct RefClaim {
  std::string id;
  std::string section;
  std::string text;
  std::string unit;
  std::map<std::string, double> values;  // every numeric key of the claim
  double at(const std::string& key) const; // asserts the key exists
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

struct Reference {
  std::string study;
  std::string source;
  std::map<std::string, std::string> setup;   // every setup key, numbers as written
  std::vector<RefTable> tables;
  std::vector<RefClaim> claims;
  const RefTable& table(const std::string& id) const;   // asserts it exists
  const RefClaim& claim(const std::string& id) const;   // asserts it exists
};

// Reads and checks reference.json strictly. Throws io::InputError with every
// problem (file and JSON Pointer), io::EnvironmentError if the file is missing.
Reference load_reference(const std::string& path);

}  // namespace masim::report
