// Reading and writing the files masim touches, safely.
//
// Reading: every input masim reads (scenarios and the files they name, profiles,
// results.json, topologies) goes through read_regular_file. It accepts regular
// files only: a FIFO would block forever, /dev/zero never ends, a directory or a
// socket is no input. The path is stat()ed first, then opened with O_NONBLOCK
// (so opening a FIFO that appeared in between cannot block) and fstat()ed again
// on the open descriptor, so what is read is what was checked. Files larger than
// a cap (kMaxInputBytes, 256 MiB; masim's largest shipped input is well under
// 1 MiB) are refused rather than read into memory.
//
// Writing: every file masim writes goes through StagedFiles (or its one-file
// form write_file_atomically): the text goes to a temporary file in the target's
// directory, is fsync()ed, and only then renamed over the target, so a reader
// (or a crash) never sees a half-written file. A set of files staged together is
// renamed together only once every one of them has been written; if any write
// fails, no target is touched and every temporary file is removed.
//
//   io::FileRead f = io::read_regular_file("scenarios/paper/seed_study.json");
//   if (!f.ok()) diags.error(path, "", f.error);  // "expected a regular file, found a FIFO"
//
//   io::StagedFiles out;
//   out.add("out/results.json", results_text);
//   out.add("out/trace.json", trace_text);        // throws io::EnvironmentError on failure
//   out.commit();                                 // both renamed into place
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace masim::io {

// The largest input file masim reads: 256 MiB.
inline constexpr std::uint64_t kMaxInputBytes = std::uint64_t{256} * 1024 * 1024;

enum class ReadStatus {
  kOk,
  kNotFound,    // no such file (or a component of the path is not a directory)
  kNotRegular,  // a directory, FIFO, device or socket
  kTooLarge,    // larger than the cap
  kError,       // exists but cannot be opened or read (permissions, I/O error)
};

struct FileRead {
  ReadStatus status = ReadStatus::kNotFound;
  std::string text;   // the contents when ok()
  std::string error;  // why not, in words: "expected a regular file, found a FIFO"
  bool ok() const { return status == ReadStatus::kOk; }
};

// Reads the regular file at `path` (symbolic links followed) without ever blocking.
FileRead read_regular_file(const std::string& path, std::uint64_t max_bytes = kMaxInputBytes);

// "a directory", "a FIFO", "a character device", ... for the file at `path`;
// empty when it does not exist or is a regular file.
std::string special_file_kind(const std::string& path);

// Files written together: each add() writes a temporary file beside its target
// and fsyncs it; commit() renames them all into place, in the order added. The
// destructor removes every temporary file not committed. Failures throw
// io::EnvironmentError naming the file and the system's message.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  void add(const std::string& path, const std::string& text);
  // The targets, in the order added. After commit() the set is empty.
  std::vector<std::string> commit();
  bool empty() const { return staged_.empty(); }

 private:
  struct Staged {
    std::string target;
    std::string temp;
  };
  void discard() noexcept;
  std::vector<Staged> staged_;
};

// One file, atomically (a StagedFiles of one).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace masim::io
