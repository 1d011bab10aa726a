// Command-line parsing shared by masim, masim-calibrate and masim-profile.
// CLI11 prints the problem (or the help); a bad argument is bad input, which
// every masim tool reports with exit code 2. Header-only: the tools link CLI11.
//
//   if (auto code = io::parse_args(app, argc, argv)) return *code;
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

namespace masim::io {

// nullopt: parsed, go on; otherwise the exit code (0 after --help or --version, 2 on a bad argument).
inline std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace masim::io
