#include "sim/io/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "sim/io/diagnostics.hpp"

namespace masim::io {

namespace {

namespace fs = std::filesystem;

std::string errno_text(int e) { return std::strerror(e); }

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// "256 MiB" for whole MiB, else "N bytes".
std::string size_words(std::uint64_t bytes) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  return std::to_string(bytes) + " bytes";
}

std::string too_large(std::uint64_t size, std::uint64_t max_bytes, bool at_least) {
  return std::string("file is ") + (at_least ? "more than " : "") + std::to_string(size) +
         " bytes; masim reads input files of at most " + size_words(max_bytes);
}

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string special_file_kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return "";
  return kind_of(st.st_mode);
}

FileRead read_regular_file(const std::string& path, std::uint64_t max_bytes) {
  FileRead r;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    r.status = e == ENOENT || e == ENOTDIR ? ReadStatus::kNotFound : ReadStatus::kError;
    r.error = errno_text(e);
    return r;
  }
  // Checked before open(): opening a FIFO for reading blocks until a writer comes,
  // and opening some devices has effects.
  if (!S_ISREG(st.st_mode)) {
    r.status = ReadStatus::kNotRegular;
    r.error = "expected a regular file, found " + kind_of(st.st_mode);
    return r;
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    r.status = ReadStatus::kTooLarge;
    r.error = too_large(static_cast<std::uint64_t>(st.st_size), max_bytes, false);
    return r;
  }
  // O_NONBLOCK: if the path was replaced by a FIFO since stat(), open() returns
  // at once instead of waiting for a writer; fstat() below then refuses it.
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f.fd < 0) {
    const int e = errno;
    r.status = e == ENOENT ? ReadStatus::kNotFound : ReadStatus::kError;
    r.error = errno_text(e);
    return r;
  }
  if (::fstat(f.fd, &st) != 0) {
    r.status = ReadStatus::kError;
    r.error = errno_text(errno);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    r.status = ReadStatus::kNotRegular;
    r.error = "expected a regular file, found " + kind_of(st.st_mode);
    return r;
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    r.status = ReadStatus::kTooLarge;
    r.error = too_large(static_cast<std::uint64_t>(st.st_size), max_bytes, false);
    return r;
  }
  std::string text;
  text.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.status = ReadStatus::kError;
      r.error = errno_text(errno);
      return r;
    }
    if (n == 0) break;
    // A file that grows while it is read is still capped.
    if (text.size() + static_cast<std::size_t>(n) > max_bytes) {
      r.status = ReadStatus::kTooLarge;
      r.error = too_large(max_bytes, max_bytes, true);
      return r;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  r.status = ReadStatus::kOk;
  r.text = std::move(text);
  return r;
}

StagedFiles::~StagedFiles() { discard(); }

void StagedFiles::discard() noexcept {
  for (const Staged& s : staged_) ::unlink(s.temp.c_str());
  staged_.clear();
}

void StagedFiles::add(const std::string& path, const std::string& text) {
  const fs::path target(path);
  // rename() would replace a FIFO or a device node, and fails on a directory
  // with a less helpful message: refuse anything but a regular file (or nothing).
  if (const std::string kind = special_file_kind(path); !kind.empty()) {
    throw EnvironmentError("cannot write " + path + ": it is " + kind + ", not a regular file");
  }
  // A unique name beside the target (same file system, so rename() is atomic).
  // O_EXCL: never an existing file; mode 0666 minus the umask, as for any file.
  static std::atomic<unsigned> counter{0};
  const fs::path dir = target.parent_path();
  Fd f;
  std::string temp;
  for (int attempt = 0; attempt < 100 && f.fd < 0; ++attempt) {
    const std::string name = "." + target.filename().string() + "." + std::to_string(::getpid()) + "." +
                             std::to_string(counter.fetch_add(1)) + ".tmp";
    temp = (dir / name).string();
    f.fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f.fd < 0 && errno != EEXIST) break;
  }
  if (f.fd < 0) throw EnvironmentError("cannot write " + path + ": " + errno_text(errno));
  // From here on the temporary file exists: on failure it is removed.
  auto fail = [&](const std::string& what, int e) {
    ::close(f.fd);
    f.fd = -1;
    ::unlink(temp.c_str());
    throw EnvironmentError("cannot write " + path + ": " + what + errno_text(e));
  };
  if (!write_all(f.fd, text)) fail("", errno);
  if (::fsync(f.fd) != 0) fail("fsync: ", errno);
  const int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    throw EnvironmentError("cannot write " + path + ": " + errno_text(e));
  }
  staged_.push_back({path, temp});
}

std::vector<std::string> StagedFiles::commit() {
  std::vector<std::string> done;
  for (std::size_t i = 0; i < staged_.size(); ++i) {
    const Staged& s = staged_[i];
    if (::rename(s.temp.c_str(), s.target.c_str()) != 0) {
      const int e = errno;
      // The ones already renamed stay; this one and the rest are removed.
      for (std::size_t j = i; j < staged_.size(); ++j) ::unlink(staged_[j].temp.c_str());
      staged_.clear();
      throw EnvironmentError("cannot rename a temporary file to " + s.target + ": " + errno_text(e));
    }
    done.push_back(s.target);
  }
  staged_.clear();
  return done;
}

void write_file_atomically(const std::string& path, const std::string& text) {
  StagedFiles s;
  s.add(path, text);
  s.commit();
}

}  // namespace masim::io
