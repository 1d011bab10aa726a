// Test harness for the robustness tests: the shipped input files held in memory
// (a virtual file tree that frontend::FileSource reads through its embedded-file
// table, so a mutated copy never touches the disk), a host scenario for every
// file that is not itself a scenario, and the checks every diagnostic must pass.
//
// Paths: every shipped file keeps its repository path under the virtual root
// kVfsRoot ("scenarios/hardware/a100-sxm4-80gb.json" is
// "masim-robustness-vfs/scenarios/hardware/a100-sxm4-80gb.json"), so the relative
// references inside the files resolve exactly as on disk.
//
//   Vfs vfs = Vfs::shipped();
//   io::Diagnostics d;
//   frontend::check_file(vfs.path("scenarios/paper/seed_study.json"), d, vfs.source());
//   std::string why = diagnostic_problems(d, vfs);   // "" when every diagnostic is well-formed
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"
#include "tests/robustness/mutate.hpp"

namespace masim::robustness {

inline constexpr const char* kVfsRoot = "masim-robustness-vfs";

// One shipped input file: its repository path, its kind, and (when it is not a
// scenario) the virtual path of a scenario that references it.
struct CorpusFile {
  std::string repo_path;  // "topologies/dgx-a100-x2.json"
  DocKind kind = DocKind::kScenario;
  std::string host;       // virtual path of a scenario naming it; empty for scenarios
};

class Vfs {
 public:
  // Every shipped scenario (scenarios/paper, except reference.json), hardware
  // file, model (native and Hugging Face) and topology, read from the source
  // tree, plus one generated host scenario per non-scenario file.
  static Vfs shipped();

  const std::vector<CorpusFile>& corpus() const { return corpus_; }
  // The virtual path of a repository path.
  static std::string path(const std::string& repo_path) { return std::string(kVfsRoot) + "/" + repo_path; }
  // A FileSource over the current contents (valid until the next set()).
  frontend::FileSource source();
  const std::string& text(const std::string& vpath) const;
  bool contains(const std::string& vpath) const { return files_.count(vpath) != 0; }
  void set(const std::string& vpath, std::string text);
  void erase(const std::string& vpath);
  const std::map<std::string, std::string>& files() const { return files_; }
  // Writes every file under `dir` (dir/masim-robustness-vfs/...).
  void write_to(const std::string& dir) const;

 private:
  std::map<std::string, std::string> files_;
  std::vector<CorpusFile> corpus_;
  std::vector<frontend::EmbeddedFile> table_;
  bool table_stale_ = true;
};

// Empty when every diagnostic of `d` has a non-empty file and message and a
// JSON Pointer that resolves in that file as the FileSource sees it (or names
// a key missing from an object there; "" / "/" for a file that is not JSON).
// Otherwise one line per bad diagnostic, saying what is wrong.
std::string diagnostic_problems(const io::Diagnostics& d, const frontend::FileSource& files);

// Repository root (MASIM_SOURCE_DIR) joined with `rel`.
std::string source_path(const std::string& rel);
std::string read_text(const std::string& path);

}  // namespace masim::robustness
