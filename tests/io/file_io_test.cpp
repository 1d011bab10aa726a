// io::read_regular_file refuses special files without blocking and caps sizes;
// io::StagedFiles writes all-or-nothing; parse_json_text refuses duplicate keys
// and NUL bytes.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/io/diagnostics.hpp"
#include "sim/io/file_io.hpp"
#include "sim/io/json_reader.hpp"

using namespace masim::io;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("masim_file_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("read_regular_file reads a regular file whole, NUL bytes included") {
  TempDir t;
  const std::string text("{\"a\": 1}\0tail", 13);
  std::ofstream(t / "f.json", std::ios::binary) << text;
  const FileRead f = read_regular_file(t / "f.json");
  CHECK(f.ok());
  CHECK(f.text == text);
  const FileRead missing = read_regular_file(t / "missing.json");
  CHECK(missing.status == ReadStatus::kNotFound);
  CHECK(read_regular_file(t / "f.json/x").status == ReadStatus::kNotFound);  // ENOTDIR
}

TEST_CASE("read_regular_file refuses a FIFO at once instead of blocking") {
  TempDir t;
  REQUIRE(::mkfifo((t / "fifo").c_str(), 0600) == 0);
  // No writer ever opens the FIFO: opening it for reading without O_NONBLOCK
  // would wait forever (ctest's timeout would end this test).
  const FileRead f = read_regular_file(t / "fifo");
  CHECK(f.status == ReadStatus::kNotRegular);
  CHECK(f.error == "expected a regular file, found a FIFO");
  CHECK(special_file_kind(t / "fifo") == "a FIFO");
}

TEST_CASE("read_regular_file refuses a directory, a device and a socket") {
  TempDir t;
  FileRead f = read_regular_file(t.path.string());
  CHECK(f.status == ReadStatus::kNotRegular);
  CHECK(f.error == "expected a regular file, found a directory");
  f = read_regular_file("/dev/zero");  // never ends if read
  CHECK(f.status == ReadStatus::kNotRegular);
  CHECK(f.error == "expected a regular file, found a character device");

  const std::string sock_path = t / "s.sock";
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  REQUIRE(::bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  f = read_regular_file(sock_path);
  ::close(s);
  CHECK(f.status == ReadStatus::kNotRegular);
  CHECK(f.error == "expected a regular file, found a socket");
}

TEST_CASE("read_regular_file caps the size and says the cap") {
  TempDir t;
  std::ofstream(t / "big.json") << std::string(100, ' ');
  FileRead f = read_regular_file(t / "big.json", 64);
  CHECK(f.status == ReadStatus::kTooLarge);
  CHECK(f.error == "file is 100 bytes; masim reads input files of at most 64 bytes");
  CHECK(read_regular_file(t / "big.json", 100).ok());  // the cap itself is allowed
  // The default cap: 256 MiB = 268435456 bytes.
  CHECK(kMaxInputBytes == 268435456u);
  REQUIRE(::truncate((t / "big.json").c_str(), static_cast<off_t>(kMaxInputBytes) + 1) == 0);  // sparse
  f = read_regular_file(t / "big.json");
  CHECK(f.status == ReadStatus::kTooLarge);
  CHECK(f.error == "file is 268435457 bytes; masim reads input files of at most 256 MiB");
}

TEST_CASE("load_json_file reports a FIFO as a diagnostic of the file") {
  TempDir t;
  REQUIRE(::mkfifo((t / "in.json").c_str(), 0600) == 0);
  Diagnostics d;
  CHECK_FALSE(load_json_file(t / "in.json", d).has_value());
  REQUIRE(d.size() == 1);
  CHECK(d.items()[0].file == t / "in.json");
  CHECK(d.items()[0].message == "cannot read file: expected a regular file, found a FIFO");
}

TEST_CASE("StagedFiles: nothing is in place until commit, then everything is") {
  TempDir t;
  std::ofstream(t / "a.json") << "old";
  {
    StagedFiles s;
    s.add(t / "a.json", "new a");
    s.add(t / "b.json", "new b");
    CHECK(slurp(t / "a.json") == "old");  // the target is untouched before commit
    CHECK_FALSE(fs::exists(t / "b.json"));
    CHECK(entries(t.path) == 3);  // a.json and two temporary files
    const auto done = s.commit();
    CHECK(done == std::vector<std::string>{t / "a.json", t / "b.json"});
  }
  CHECK(slurp(t / "a.json") == "new a");
  CHECK(slurp(t / "b.json") == "new b");
  CHECK(entries(t.path) == 2);  // no temporary file left
}

TEST_CASE("StagedFiles: a failed or abandoned set leaves no file behind") {
  TempDir t;
  {
    StagedFiles s;
    s.add(t / "a.json", "a");
    // The second target's directory does not exist: the add throws.
    CHECK_THROWS_AS(s.add(t / "no/such/dir/b.json", "b"), EnvironmentError);
  }  // destroyed without commit: a.json's temporary file is removed
  CHECK(entries(t.path) == 0);
  // A FIFO (or a directory) in the way is refused, not replaced.
  REQUIRE(::mkfifo((t / "fifo").c_str(), 0600) == 0);
  fs::create_directories(t.path / "d");
  try {
    write_file_atomically(t / "fifo", "x");
    FAIL("no exception");
  } catch (const EnvironmentError& e) {
    CHECK(std::string(e.what()) == "cannot write " + (t / "fifo") + ": it is a FIFO, not a regular file");
  }
  CHECK_THROWS_AS(write_file_atomically(t / "d", "x"), EnvironmentError);
  CHECK(special_file_kind(t / "fifo") == "a FIFO");
  CHECK(entries(t.path) == 2);
}

TEST_CASE("write_file_atomically replaces a file and honours the umask") {
  TempDir t;
  write_file_atomically(t / "r.json", "1");
  write_file_atomically(t / "r.json", "22");
  CHECK(slurp(t / "r.json") == "22");
  struct stat st {};
  REQUIRE(::stat((t / "r.json").c_str(), &st) == 0);
  const mode_t mask = ::umask(022);
  ::umask(mask);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("duplicate keys are errors with the pointer of the key and of its object") {
  Diagnostics d;
  auto j = parse_json_text(R"({"workload": {"batch": 1, "context": 2, "batch": 3}})", "s.json", d);
  CHECK_FALSE(j.has_value());
  REQUIRE(d.size() == 1);
  CHECK(d.format_lines() ==
        "s.json:/workload/batch: duplicate key \"batch\" in /workload (JSON keeps only one of them; remove the other)\n");

  // Inside arrays (after scalars, objects and arrays), at the top level, and all at once.
  Diagnostics d2;
  j = parse_json_text(R"({"a": 1, "x": [1, [2, {"k": 0}], {"q": {}}, {"k": 0, "k": 1}], "a": 2,
                          "layouts": [{"tp": 1}, {"tp": 2, "tp": 3}]})",
                      "s.json", d2);
  CHECK_FALSE(j.has_value());
  REQUIRE(d2.size() == 3);
  CHECK(d2.items()[0].pointer == "/x/3/k");
  CHECK(d2.items()[0].message.rfind("duplicate key \"k\" in /x/3 ", 0) == 0);
  CHECK(d2.items()[1].pointer == "/a");
  CHECK(d2.items()[1].message.rfind("duplicate key \"a\" in / ", 0) == 0);
  CHECK(d2.items()[2].pointer == "/layouts/1/tp");

  // Equal keys in different objects are fine; escaping in the pointer.
  Diagnostics d3;
  j = parse_json_text(R"({"a": {"k": 1}, "b": {"k": 2}, "c/d": {"~": 1, "~": 2}})", "s.json", d3);
  CHECK_FALSE(j.has_value());
  REQUIRE(d3.size() == 1);
  CHECK(d3.items()[0].pointer == "/c~1d/~0");
  Diagnostics d4;
  j = parse_json_text(R"({"a": {"k": 1}, "b": {"k": 2}})", "s.json", d4);
  CHECK(j.has_value());
  CHECK(d4.empty());
  CHECK((*j)["b"]["k"] == 2);
}

TEST_CASE("a NUL byte is invalid JSON, reported with its line") {
  Diagnostics d;
  const std::string text("{\n  \"a\": 1\n}\0{\"a\": 2}", 21);
  CHECK_FALSE(parse_json_text(text, "n.json", d).has_value());
  REQUIRE(d.size() == 1);
  CHECK(d.format_lines() == "n.json:/: invalid JSON: NUL byte at line 3, column 2\n");
  Diagnostics d2;
  CHECK_FALSE(parse_json_text(std::string("{\"a\0\": \"\0\"}", 11), "n.json", d2).has_value());
  REQUIRE(d2.size() == 1);
  CHECK(d2.items()[0].message == "invalid JSON: NUL byte at line 1, column 4 (2 NUL bytes in all)");
}
