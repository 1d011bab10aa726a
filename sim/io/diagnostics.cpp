#include "sim/io/diagnostics.hpp"

#include <algorithm>

namespace masim::io {

void Diagnostics::error(std::string file, std::string pointer, std::string message) {
  ++total_;
  if (items_.size() < kMaxDiagnostics) items_.push_back({std::move(file), std::move(pointer), std::move(message)});
}

void Diagnostics::error_at_line(std::string file, int line, std::string message) {
  ++total_;
  if (items_.size() < kMaxDiagnostics) items_.push_back({std::move(file), "", std::move(message), line});
}

void Diagnostics::append(const Diagnostics& other) {
  for (const Diagnostic& d : other.items_) {
    ++total_;
    if (items_.size() < kMaxDiagnostics) items_.push_back(d);
  }
  total_ += other.not_listed();
}

std::string Diagnostics::not_listed_line() const {
  if (not_listed() == 0) return "";
  return "... and " + std::to_string(not_listed()) + (not_listed() == 1 ? " more problem" : " more problems") +
         " not listed (masim lists the first " + std::to_string(kMaxDiagnostics) + ")\n";
}

std::string Diagnostics::format_lines() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.file;
    out += ':';
    out += d.line > 0 ? std::to_string(d.line) : d.pointer.empty() ? "/" : d.pointer;
    out += ": ";
    out += d.message;
    out += '\n';
  }
  out += not_listed_line();
  return out;
}

std::string Diagnostics::format(const std::string& what_was_skipped) const {
  std::string out = format_lines();
  out += std::to_string(total_);
  out += total_ == 1 ? " problem; " : " problems; ";
  out += what_was_skipped;
  out += ".\n";
  return out;
}

std::string pointer_join(const std::string& base, const std::string& token) {
  std::string out = base;
  out += '/';
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string pointer_join(const std::string& base, std::size_t index) {
  return base + "/" + std::to_string(index);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = static_cast<std::size_t>(-1);
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d || (d == best_d && c < best)) {
      best_d = d;
      best = c;
    }
  }
  // A plausible typo: at most a third of the word changed (and at least 1 edit allowed).
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string{};
}

}  // namespace masim::io
