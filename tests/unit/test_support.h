// Test support (tests only, header-only): the small helpers the unit tests
// share instead of each keeping a copy.
//
// ReadFileForTest / WriteFileForTest read and write whole files with the
// standard library, independently of the code under test (core/file_reader.h,
// core/atomic_file.h); a file that cannot be read or written is a test
// failure naming it. TempDir owns a fresh directory under the temp directory
// ($TMPDIR, else /tmp) and removes it, with everything in it, when destroyed,
// whether the test passed or not. One test's own objects: not thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

namespace ubc {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && ::strcasecmp(ci, "true") == 0;
}

#define UBC_REQUIRE(cond, why)                             \
  do {                                                     \
    if (!(cond)) {                                         \
      if (InCi()) FAIL() << "cannot run in CI: " << (why); \
      GTEST_SKIP() << (why);                               \
    }                                                      \
  } while (0)

#define UBC_REQUIRE_ROOT() UBC_REQUIRE(::geteuid() == 0, "needs root")

// The whole file ("" and a failure when it cannot be opened).
inline std::string ReadFileForTest(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return "";
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Creates or truncates `path` and writes `text` to it.
inline void WriteFileForTest(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

class TempDir {
 public:
  // A new directory named PREFIX-XXXXXX; name the prefix after the test.
  explicit TempDir(const std::string& prefix = "ubc-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, not created.
  std::filesystem::path Path(const std::string& name) const { return path_ / name; }
  // Writes `text` to path() / name and returns that path.
  std::filesystem::path Write(const std::string& name, std::string_view text) const {
    WriteFileForTest(path_ / name, text);
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace ubc
