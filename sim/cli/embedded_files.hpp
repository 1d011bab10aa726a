// The files of the default scenario (the seed study), embedded in the masim
// binary at build time by embed_files.cmake from the explicit list in
// sim/cli/CMakeLists.txt. Paths are relative to the repository root.
//
//   frontend::FileSource files(embedded_files());   // disk first, then these
#pragma once

#include <span>

#include "sim/frontend/files.hpp"

namespace masim::cli {

std::span<const frontend::EmbeddedFile> embedded_files();

// The scenario `masim run` simulates when given none.
inline constexpr const char* kDefaultScenario = "scenarios/paper/seed_study.json";

}  // namespace masim::cli
