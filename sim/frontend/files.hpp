// Reading input files: from disk, or from a table of files embedded in the
// binary at build time (the default scenario of `masim run`), and resolving the
// relative paths that input files use to name each other.
//
// A path inside a file is relative to the directory of that file. Paths are
// normalized lexically ("scenarios/paper/../hardware/x.json" becomes
// "scenarios/hardware/x.json"), so diagnostics name files the way a user would.
//
//   FileSource disk;                                   // disk only
//   FileSource with_default(embedded_files());         // disk first, then embedded
//   auto text = with_default.read("scenarios/paper/seed_study.json");
//   std::string p = resolve_reference("scenarios/paper/seed_study.json", "../models/m.json");
//   // p == "scenarios/models/m.json"
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace masim::frontend {

// One file embedded in the binary; `path` is relative to the repository root.
struct EmbeddedFile {
  std::string_view path;
  std::string_view data;
};

class FileSource {
 public:
  FileSource() = default;
  // Disk first; a path not on disk is looked up among `embedded` (by normalized path).
  explicit FileSource(std::span<const EmbeddedFile> embedded) : embedded_(embedded) {}

  // kUnreadable: exists but is not a regular file (a directory, a device, a FIFO,
  // a socket), is larger than io::kMaxInputBytes, or cannot be opened; `error`
  // says which ("expected a regular file, found a FIFO"). Never blocks
  // (io::read_regular_file).
  enum class Status { kOk, kNotFound, kUnreadable };
  struct ReadResult {
    Status status = Status::kNotFound;
    std::string text;
    std::string error;      // why kUnreadable
    bool embedded = false;  // came from the embedded table
  };
  ReadResult read(const std::string& path) const;

  // Every path read() finds on disk (readable or not) is appended to `*log`,
  // e.g. so that `masim run` can refuse to overwrite one of its inputs. `log`
  // must outlive the reads; nullptr stops logging.
  void log_reads_to(std::vector<std::string>* log) { read_log_ = log; }

 private:
  std::span<const EmbeddedFile> embedded_;
  std::vector<std::string>* read_log_ = nullptr;
};

// `ref` (as written in `referencing_file`) resolved against that file's directory
// and normalized lexically. An absolute `ref` is only normalized.
std::string resolve_reference(const std::string& referencing_file, const std::string& ref);
// Lexically normalized form of `path` ("a/./b/../c" -> "a/c").
std::string normalize_path(const std::string& path);
// File name without directory and extension: "scenarios/hardware/a100.json" -> "a100".
std::string file_stem(const std::string& path);

}  // namespace masim::frontend
