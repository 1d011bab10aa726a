// Diagnostics: every problem with user input, collected so all can be reported
// at once, each with its file and JSON Pointer (RFC 6901).
//
//   Diagnostics d;
//   d.error("s.json", "/layouts/1/tp", "3 does not divide model.num_heads = 32");
//   if (!d.empty()) { std::cerr << d.format(); return 2; }
//
// Printed form (one line each, then a summary):
//   s.json:/layouts/1/tp: 3 does not divide model.num_heads = 32
//   1 problem; nothing was simulated.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace masim::io {

// At most this many problems are kept and listed; the rest are counted
// (size() includes them) and summarized in one line. A file of a million wrong
// values must not cost a million messages of memory and output.
inline constexpr std::size_t kMaxDiagnostics = 1000;

struct Diagnostic {
  std::string file;
  std::string pointer;  // JSON Pointer; empty for the whole document
  std::string message;
  int line = 0;         // > 0: a line of a text file (CSV), printed instead of the pointer
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

class Diagnostics {
 public:
  void error(std::string file, std::string pointer, std::string message);
  // A problem on line `line` (1-based) of a text file: "file:LINE: message".
  void error_at_line(std::string file, int line, std::string message);
  void append(const Diagnostics& other);
  bool empty() const { return total_ == 0; }
  // Every problem recorded, listed or not.
  std::size_t size() const { return total_; }
  // The first kMaxDiagnostics problems, in the order found.
  const std::vector<Diagnostic>& items() const { return items_; }
  // Problems counted but not kept (past kMaxDiagnostics).
  std::size_t not_listed() const { return total_ - items_.size(); }
  // "... and N more problems not listed" when some were not kept, else "".
  std::string not_listed_line() const;
  // "file:/pointer: message" per line, in the order found (then not_listed_line()).
  std::string format_lines() const;
  // format_lines() plus "N problem(s); nothing was simulated."
  std::string format(const std::string& what_was_skipped = "nothing was simulated") const;

 private:
  std::vector<Diagnostic> items_;
  std::size_t total_ = 0;
};

// Thrown by a stage that found bad input; carries every diagnostic. Caught in main (exit 2).
class InputError : public std::runtime_error {
 public:
  explicit InputError(Diagnostics d) : std::runtime_error(d.format_lines()), diagnostics_(std::move(d)) {}
  const Diagnostics& diagnostics() const { return diagnostics_; }

 private:
  Diagnostics diagnostics_;
};

// Environment problem (missing file, CUDA failure): exit 3.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Appends one reference token to a JSON Pointer, escaping '~' and '/'.
std::string pointer_join(const std::string& base, const std::string& token);
std::string pointer_join(const std::string& base, std::size_t index);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate nearest to `word`, if it is close enough to be a plausible typo.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace masim::io
