#include "core/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <string>

#include "core/unique_fd.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

std::set<std::string> NamesIn(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

struct stat StatOf(const fs::path& path) {
  struct stat st = {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

// Sets the umask for one test and restores it.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(WriteFileAtomicallyTest, CreatesANewFileWithExactlyTheGivenMode) {
  TempDir dir("ubc-atomic-file");
  ScopedUmask umask(077);
  const fs::path state = dir.Path("state.json");
  ASSERT_TRUE(WriteFileAtomically(state.string(), "{}\n", 0600).ok());
  EXPECT_EQ(ReadFileForTest(state), "{}\n");
  EXPECT_EQ(StatOf(state).st_mode & 07777, 0600u);

  // The umask does not narrow it either.
  const fs::path shared = dir.Path("shared.json");
  ASSERT_TRUE(WriteFileAtomically(shared.string(), "x", 0644).ok());
  EXPECT_EQ(StatOf(shared).st_mode & 07777, 0644u);
  EXPECT_EQ(NamesIn(dir.path()), (std::set<std::string>{"state.json", "shared.json"}));
}

TEST(WriteFileAtomicallyTest, ReplacesAnExistingFileKeepingItsMode) {
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Write("config.json", "old contents, longer than the new");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  const ino_t old_inode = StatOf(path).st_ino;

  Status s = WriteFileAtomically(path.string(), "new", 0600);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFileForTest(path), "new");
  const struct stat st = StatOf(path);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // A new inode renamed over the old one, not the old one rewritten.
  EXPECT_NE(st.st_ino, old_inode);
  EXPECT_EQ(NamesIn(dir.path()), (std::set<std::string>{"config.json"}));
}

TEST(WriteFileAtomicallyTest, AReaderOfTheOldFileKeepsTheOldContents) {
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Write("config.json", "old");
  UniqueFd reader(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  ASSERT_TRUE(WriteFileAtomically(path.string(), "new", 0600).ok());
  char buffer[8] = {};
  ASSERT_EQ(::read(reader.get(), buffer, sizeof(buffer)), 3);
  EXPECT_EQ(std::string(buffer, 3), "old");
  EXPECT_EQ(ReadFileForTest(path), "new");
}

TEST(WriteFileAtomicallyTest, KeepsTheOwnerWhenPermitted) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Write("config.json", "old");
  ASSERT_EQ(::chown(path.c_str(), 12345, 23456), 0);
  ASSERT_EQ(::chmod(path.c_str(), 04755), 0);
  ASSERT_TRUE(WriteFileAtomically(path.string(), "new", 0600).ok());
  const struct stat st = StatOf(path);
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 23456u);
  // chown would clear the set-uid bit; the mode is applied after it.
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(ReadFileForTest(path), "new");
}

TEST(WriteFileAtomicallyTest, FollowsASymlinkToItsTarget) {
  TempDir dir("ubc-atomic-file");
  fs::create_directory(dir.Path("real"));
  const fs::path target = dir.Write("real/config.json", "old");
  ASSERT_EQ(::chmod(target.c_str(), 0604), 0);
  const fs::path link = dir.Path("config.json");
  fs::create_symlink("real/config.json", link);

  Status s = WriteFileAtomically(link.string(), "new", 0600);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "real/config.json");
  EXPECT_EQ(ReadFileForTest(target), "new");
  EXPECT_EQ(StatOf(target).st_mode & 07777, 0604u);
  // The temporary file was made beside the target, and is gone.
  EXPECT_EQ(NamesIn(dir.Path("real")), (std::set<std::string>{"config.json"}));
}

TEST(WriteFileAtomicallyTest, ADanglingSymlinkIsRefused) {
  TempDir dir("ubc-atomic-file");
  const fs::path link = dir.Path("config.json");
  fs::create_symlink("missing.json", link);
  Status s = WriteFileAtomically(link.string(), "new", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "resolving " + link.string() + ": No such file or directory");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(NamesIn(dir.path()), (std::set<std::string>{"config.json"}));
}

TEST(WriteFileAtomicallyTest, ADirectoryIsNotReplaced) {
  TempDir dir("ubc-atomic-file");
  fs::create_directory(dir.Path("config.json"));
  const std::string resolved = fs::canonical(dir.Path("config.json")).string();
  Status s = WriteFileAtomically(dir.Path("config.json").string(), "new", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing " + resolved + ": not a regular file");
  EXPECT_TRUE(fs::is_directory(dir.Path("config.json")));
}

TEST(WriteFileAtomicallyTest, AMissingDirectoryNamesIt) {
  TempDir dir("ubc-atomic-file");
  const fs::path missing = dir.Path("no-such-dir");
  Status s = WriteFileAtomically((missing / "state.json").string(), "x", 0600);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "creating a temporary file in " + missing.string() + ": No such file or directory");
  EXPECT_EQ(s.error_number(), ENOENT);
}

TEST(WriteFileAtomicallyTest, ARelativePathIsInTheWorkingDirectory) {
  TempDir dir("ubc-atomic-file");
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  Status s = WriteFileAtomically("state.json", "x", 0600);
  fs::current_path(cwd);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFileForTest(dir.Path("state.json")), "x");
  EXPECT_EQ(NamesIn(dir.path()), (std::set<std::string>{"state.json"}));
}

TEST(WriteFileAtomicallyTest, EmptyContentsAreAFile) {
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Write("config.json", "old");
  ASSERT_TRUE(WriteFileAtomically(path.string(), "", 0600).ok());
  EXPECT_EQ(fs::file_size(path), 0u);
}

// A write that fails halfway (here: the file size limit, EFBIG) leaves the
// original file as it was and no temporary file behind.
TEST(WriteFileAtomicallyTest, AFailedWriteLeavesTheOriginalUntouched) {
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Write("config.json", "original");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The limit and the ignored SIGXFSZ are the child's alone.
    struct rlimit limit = {16, 16};
    ::signal(SIGXFSZ, SIG_IGN);
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    Status s = WriteFileAtomically(path.string(), std::string(4096, 'n'), 0600);
    if (s.ok()) ::_exit(11);
    const std::string temp_prefix =
        "writing " + fs::canonical(dir.path()).string() + "/.config.json.ubc-";
    const bool names_temp = s.message().rfind(temp_prefix, 0) == 0;
    ::_exit(s.error_number() == EFBIG && names_temp ? 0 : 12);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "10: setrlimit, 11: write succeeded, 12: wrong error";
  EXPECT_EQ(ReadFileForTest(path), "original");
  EXPECT_EQ(NamesIn(dir.path()), (std::set<std::string>{"config.json"}));
}

TEST(WriteAllTest, WritesEverythingAndNamesWhatFailed) {
  TempDir dir("ubc-atomic-file");
  const fs::path path = dir.Path("out");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  const std::string text(300000, 'w');
  ASSERT_TRUE(WriteAll(fd.get(), text, path.string()).ok());
  EXPECT_EQ(ReadFileForTest(path), text);

  Status s = WriteAll(-1, "x", "the config to stdout");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "writing the config to stdout: Bad file descriptor");
  EXPECT_EQ(s.error_number(), EBADF);
  // Nothing to write is not a write.
  EXPECT_TRUE(WriteAll(-1, "", "nothing").ok());
}

}  // namespace
}  // namespace ubc
