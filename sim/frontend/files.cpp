#include "sim/frontend/files.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

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
  std::error_code ec;
  const fs::path p(path);
  if (fs::exists(p, ec)) {
    // Regular files only: a directory, a device (/dev/zero never ends) or a FIFO
    // (blocks) is unreadable, not read.
    if (!fs::is_regular_file(p, ec)) {
      r.status = Status::kUnreadable;
      return r;
    }
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      r.status = Status::kUnreadable;
      return r;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    r.status = Status::kOk;
    r.text = ss.str();
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
