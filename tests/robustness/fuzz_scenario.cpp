// libFuzzer target for the input front end: arbitrary bytes as an input file,
// checked through frontend::check_file (what `masim check` runs), with every
// shipped hardware file, model and topology available in memory to reference.
//
// The bytes' kind decides where they go: a scenario (or anything unrecognized)
// is checked as scenarios/paper/fuzz.json; hardware, a model (native or Hugging
// Face) or a topology replaces the shipped A100 / seed model / dgx-a100 file and is
// checked alone and through a small scenario that references it
// (tests/robustness/harness.hpp). The target aborts, so libFuzzer keeps the input,
// when an exception escapes, when ok disagrees with the diagnostics, or when a
// diagnostic is malformed (no file or message, or a JSON Pointer that does not
// resolve in the file it names).
//
// Build and run with clang and libFuzzer: scripts/fuzz.sh (docs/RELIABILITY.md);
// without libFuzzer, ctest's fuzz_replay_scenario replays corpus/scenario/, the
// shipped scenarios and the bad-input corpus through this entry point.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "tests/robustness/harness.hpp"

using namespace masim;
using namespace masim::robustness;

namespace {

Vfs& vfs() {
  static Vfs v = Vfs::shipped();
  return v;
}

void check_or_abort(const std::string& path, const std::string& text) {
  io::Diagnostics d;
  bool ok = false;
  try {
    ok = frontend::check_file(path, d, vfs().source()).ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_scenario: exception escaped check_file(%s): %s\n", path.c_str(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz_scenario: a non-standard exception escaped check_file(%s)\n", path.c_str());
    std::abort();
  }
  if (ok != d.empty()) {
    std::fprintf(stderr, "fuzz_scenario: ok = %d with %zu diagnostics\n", ok ? 1 : 0, d.size());
    std::abort();
  }
  const std::string bad = diagnostic_problems(d, vfs().source());
  if (!bad.empty()) {
    std::fprintf(stderr, "fuzz_scenario: malformed diagnostics checking %s (%zu bytes):\n%s", path.c_str(),
                 text.size(), bad.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vfs();  // read the shipped files once
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string replaced = "scenarios/paper/fuzz.json";
  std::string host;
  switch (doc.is_discarded() ? frontend::FileKind::kUnknown : frontend::detect_kind(doc)) {
    case frontend::FileKind::kHardware:
      replaced = "scenarios/hardware/a100-sxm4-80gb.json";
      host = "scenarios/robustness/host-a100-sxm4-80gb.json";
      break;
    case frontend::FileKind::kModel:
    case frontend::FileKind::kHfConfig:
      replaced = "scenarios/models/seed-moe-4l.json";
      host = "scenarios/robustness/host-seed-moe-4l.json";
      break;
    case frontend::FileKind::kTopology:
      replaced = "topologies/dgx-a100.json";
      host = "scenarios/robustness/host-dgx-a100.json";
      break;
    default: break;
  }
  const std::string vpath = Vfs::path(replaced);
  const bool existed = vfs().contains(vpath);
  const std::string original = existed ? vfs().text(vpath) : std::string();
  vfs().set(vpath, text);
  check_or_abort(vpath, text);
  if (!host.empty()) check_or_abort(Vfs::path(host), text);
  if (existed) {
    vfs().set(vpath, original);
  } else {
    vfs().erase(vpath);
  }
  return 0;
}
