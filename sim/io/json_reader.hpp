// Strict reading of one JSON object with diagnostics instead of exceptions.
//
// Every getter marks its key as valid for this object; finish() then reports
// each key that no getter asked for as unknown, with the nearest valid key.
// Problems go to the shared Diagnostics with file and JSON Pointer; getters
// return std::nullopt (or the default) so parsing continues and every problem
// is found in one pass.
//
//   JsonReader r(doc, "gpu.json", "", diags);
//   auto name = r.string("name", Required::kYes);
//   auto bw   = r.quantity("hbm_bandwidth", Dimension::kBandwidth, Required::kYes, 1e9, 1e14);
//   int tp    = r.integer_or("tp", 1, 1, 1024);
//   r.finish();
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/io/diagnostics.hpp"
#include "sim/io/quantity.hpp"

namespace masim::io {

enum class Required { kNo, kYes };

// A short description of a JSON value for messages: `string "abc"`, `number 3`, `array`.
std::string describe(const nlohmann::json& v);

// Hard caps on one JSON document (docs/INPUTS.md, "Limits"), checked while it is
// parsed so that a hostile file is refused before its tree is built: no array
// longer than kMaxJsonArrayLength elements (the largest any format needs: a
// routing trace of 2^20 experts, the explicit links of the largest generated
// topology), no more than kMaxJsonValues values in all (with the 256 MiB file
// cap, io::kMaxInputBytes, a parsed document stays under about 2 GB).
inline constexpr std::size_t kMaxJsonArrayLength = std::size_t{1} << 22;  // 4,194,304
inline constexpr std::size_t kMaxJsonValues = std::size_t{1} << 25;       // 33,554,432

// Reads a file as JSON. Syntax errors become one diagnostic with line and column.
std::optional<nlohmann::json> load_json_file(const std::string& path, Diagnostics& diags);
std::optional<nlohmann::json> parse_json_text(const std::string& text, const std::string& file,
                                              Diagnostics& diags);

class JsonReader {
 public:
  // `node` must outlive the reader. If `node` is not an object, one diagnostic is
  // recorded and every getter returns nothing.
  JsonReader(const nlohmann::json& node, std::string file, std::string pointer, Diagnostics& diags);

  bool valid() const { return valid_; }
  bool has(const std::string& key) const;
  const std::string& file() const { return file_; }
  const std::string& pointer() const { return pointer_; }
  std::string pointer_of(const std::string& key) const { return pointer_join(pointer_, key); }
  Diagnostics& diagnostics() { return diags_; }

  std::optional<std::int64_t> integer(const std::string& key, Required req, std::int64_t min,
                                      std::int64_t max);
  std::int64_t integer_or(const std::string& key, std::int64_t def, std::int64_t min,
                          std::int64_t max);
  std::optional<double> number(const std::string& key, Required req, double min, double max);
  double number_or(const std::string& key, double def, double min, double max);
  std::optional<std::string> string(const std::string& key, Required req);
  std::string string_or(const std::string& key, const std::string& def);
  std::optional<bool> boolean(const std::string& key, Required req);
  bool boolean_or(const std::string& key, bool def);
  // A string from a closed set; an unknown value gets a "did you mean".
  std::optional<std::string> choice(const std::string& key, Required req,
                                    const std::vector<std::string>& allowed);
  std::string choice_or(const std::string& key, const std::string& def,
                        const std::vector<std::string>& allowed);
  // A quantity with a unit ("600 GB/s"), returned in base units; [min, max] in base units.
  std::optional<double> quantity(const std::string& key, Dimension dim, Required req, double min,
                                 double max);
  // The raw value (marks the key valid). nullptr when absent (a diagnostic if required).
  const nlohmann::json* raw(const std::string& key, Required req = Required::kNo);
  // Child object reader; invalid (and a diagnostic if required or not an object) otherwise.
  std::optional<JsonReader> object(const std::string& key, Required req);
  // Array value; nullptr (with a diagnostic) when present but not an array.
  const nlohmann::json* array(const std::string& key, Required req);

  // Records a problem at this object's `key` or at the object itself.
  void error(const std::string& key, const std::string& message);
  void error_here(const std::string& message);
  // Marks keys as valid without reading them (e.g. "$comment" documentation keys).
  void allow(const std::string& key);

  // Reports unknown keys. Keys starting with "_" or "$comment" are documentation and always allowed.
  void finish();

 private:
  const nlohmann::json* find(const std::string& key, Required req);

  const nlohmann::json& node_;
  std::string file_;
  std::string pointer_;
  Diagnostics& diags_;
  bool valid_ = true;
  std::vector<std::string> known_;
};

}  // namespace masim::io
