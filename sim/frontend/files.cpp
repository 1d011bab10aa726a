#include "sim/frontend/files.hpp"

#include <filesystem>

#include "sim/io/file_io.hpp"

namespace masim::frontend {

namespace fs = std::filesystem;

std::string normalize_path(const std::string& path) {
  std::string out = fs::path(path).lexically_normal().generic_string();
  return out.empty() ? std::string(".") : out;
}

std::string resolve_reference(const std::string& referencing_file, const std::string& ref) {
  const fs::path r(ref);
  if (r.is_absolute()) return normalize_path(ref);
  return normalize_path((fs::path(referencing_file).parent_path() / r).generic_string());
}

std::string file_stem(const std::string& path) {
  std::string stem = fs::path(path).filename().generic_string();
  // "mixtral-8x7b.config.json" -> "mixtral-8x7b.config"; only the last extension goes.
  const auto dot = stem.rfind('.');
  if (dot != std::string::npos && dot > 0) stem.resize(dot);
  return stem;
}

FileSource::ReadResult FileSource::read(const std::string& path) const {
  ReadResult r;
  // Regular files only, never blocking: a directory, a device (/dev/zero never
  // ends), a FIFO (blocks) or a socket is unreadable, not read.
  io::FileRead disk = io::read_regular_file(path);
  if (disk.status != io::ReadStatus::kNotFound) {
    if (read_log_ != nullptr) read_log_->push_back(path);
    if (!disk.ok()) {
      r.status = Status::kUnreadable;
      r.error = std::move(disk.error);
      return r;
    }
    r.status = Status::kOk;
    r.text = std::move(disk.text);
    return r;
  }
  const std::string norm = normalize_path(path);
  for (const EmbeddedFile& f : embedded_) {
    if (f.path == norm) {
      r.status = Status::kOk;
      r.text = std::string(f.data);
      r.embedded = true;
      return r;
    }
  }
  r.status = Status::kNotFound;
  return r;
}

}  // namespace masim::frontend
