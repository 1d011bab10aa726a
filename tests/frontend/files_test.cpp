// FileSource: why a file is unreadable, and the log of the files a load read
// (what `masim run` checks its outputs against).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/frontend/files.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/io/diagnostics.hpp"

using namespace masim;

TEST_CASE("FileSource says why a file is unreadable") {
  const frontend::FileSource files;
  auto r = files.read("topologies");
  CHECK(r.status == frontend::FileSource::Status::kUnreadable);
  CHECK(r.error == "expected a regular file, found a directory");
  r = files.read("/dev/null");
  CHECK(r.status == frontend::FileSource::Status::kUnreadable);
  CHECK(r.error == "expected a regular file, found a character device");
  CHECK(files.read("no/such/file.json").status == frontend::FileSource::Status::kNotFound);
}

TEST_CASE("FileSource logs every file on disk a scenario load read, and nothing else") {
  const std::string hw = "{}";
  const frontend::EmbeddedFile table[] = {{"nowhere/x.json", hw}};
  frontend::FileSource files(table);
  std::vector<std::string> log;
  files.log_reads_to(&log);
  io::Diagnostics d;
  REQUIRE(frontend::load_scenario("scenarios/paper/seed_study.json", d, files));
  std::sort(log.begin(), log.end());
  // The scenario and the four files it names (hardware, topology, model, the derived A100 profile).
  CHECK(log == std::vector<std::string>{"calibrate/profiles/a100-sxm4-80gb.derived.json",
                                        "scenarios/hardware/a100-sxm4-80gb.json", "scenarios/models/seed-moe-4l.json",
                                        "scenarios/paper/seed_study.json", "topologies/dgx-a100-x2.json"});
  // Embedded and missing files are not on disk: not logged.
  log.clear();
  CHECK(files.read("nowhere/x.json").status == frontend::FileSource::Status::kOk);
  CHECK(files.read("nowhere/y.json").status == frontend::FileSource::Status::kNotFound);
  CHECK(log.empty());
}
