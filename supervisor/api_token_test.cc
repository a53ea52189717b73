#include "supervisor/api_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

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

// A token file as an operator would write one, with the given mode.
fs::path WriteToken(const TempDir& dir, const std::string& text, mode_t mode) {
  const fs::path path = dir.Write("api-token", text);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

TEST(ApiTokenTest, AMissingFileIsCreatedRootOnlyWithAFreshToken) {
  TempDir dir("ubc-api-token");
  ScopedUmask umask(0);  // the modes are exact whatever the umask
  const fs::path path = dir.Path("etc/ubc/api-token");
  Result<std::string> token = LoadOrCreateApiToken(path.string());
  ASSERT_TRUE(token.ok()) << token.status().message();
  ASSERT_EQ(token->size(), 64u);
  EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos) << *token;
  EXPECT_EQ(ReadFileForTest(path), *token + "\n");

  const struct stat st = StatOf(path);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  // Missing parents are made like /etc.
  EXPECT_EQ(StatOf(dir.Path("etc")).st_mode & 07777, 0755u);
  EXPECT_EQ(StatOf(dir.Path("etc/ubc")).st_mode & 07777, 0755u);
}

TEST(ApiTokenTest, TheCreatedTokenIsReadBackAndEachFileHasItsOwn) {
  TempDir dir("ubc-api-token");
  Result<std::string> first = LoadOrCreateApiToken(dir.Path("a").string());
  ASSERT_TRUE(first.ok()) << first.status().message();
  Result<std::string> again = LoadOrCreateApiToken(dir.Path("a").string());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *first);

  Result<std::string> other = LoadOrCreateApiToken(dir.Path("b").string());
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_NE(*other, *first);
}

TEST(ApiTokenTest, AnOperatorsTokenIsTrimmed) {
  TempDir dir("ubc-api-token");
  const fs::path path = WriteToken(dir, "  \tS3cret-token_1\r\n\n", 0600);
  Result<std::string> token = LoadOrCreateApiToken(path.string());
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, "S3cret-token_1");
}

TEST(ApiTokenTest, AFileGroupOrOthersCanReadIsRefused) {
  TempDir dir("ubc-api-token");
  for (mode_t mode : {0640, 0604, 0660, 0644, 0610}) {
    const fs::path path = WriteToken(dir, "sekrit\n", mode);
    Result<std::string> token = LoadOrCreateApiToken(path.string());
    ASSERT_FALSE(token.ok()) << std::oct << mode;
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(token.status().message(), "token file " + path.string() + ": mode " + octal +
                                            " lets group or others read it; chmod 600 it");
  }
  // Owner-only modes other than 0600 are fine.
  const fs::path read_only = WriteToken(dir, "sekrit\n", 0400);
  EXPECT_TRUE(LoadOrCreateApiToken(read_only.string()).ok());
}

TEST(ApiTokenTest, AFileOwnedByAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another uid needs root";
  TempDir dir("ubc-api-token");
  const fs::path path = WriteToken(dir, "sekrit\n", 0600);
  ASSERT_EQ(::chown(path.c_str(), 12345, 12345), 0);
  Result<std::string> token = LoadOrCreateApiToken(path.string());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().message(),
            "token file " + path.string() + ": owned by uid 12345, not by ubcd's uid 0");
}

TEST(ApiTokenTest, ASymlinkIsRefusedEvenToAGoodFile) {
  TempDir dir("ubc-api-token");
  const fs::path real = WriteToken(dir, "sekrit\n", 0600);
  const fs::path link = dir.Path("link");
  fs::create_symlink(real, link);
  Result<std::string> token = LoadOrCreateApiToken(link.string());
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().message(),
            "reading token file " + link.string() + ": Too many levels of symbolic links");
}

TEST(ApiTokenTest, OnlyARegularFileIsAToken) {
  TempDir dir("ubc-api-token");
  const fs::path sub = dir.Path("dir");
  fs::create_directory(sub);
  ASSERT_EQ(::chmod(sub.c_str(), 0700), 0);
  Result<std::string> on_dir = LoadOrCreateApiToken(sub.string());
  ASSERT_FALSE(on_dir.ok());
  EXPECT_EQ(on_dir.status().message(),
            "reading token file " + sub.string() + ": not a regular file");

  // A FIFO nobody writes to is refused at once, not waited on.
  const fs::path fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<std::string> on_fifo = LoadOrCreateApiToken(fifo.string());
  ASSERT_FALSE(on_fifo.ok());
  EXPECT_EQ(on_fifo.status().message(),
            "reading token file " + fifo.string() + ": not a regular file");
}

TEST(ApiTokenTest, EmptyOversizedAndUnsendableTokensAreRefused) {
  TempDir dir("ubc-api-token");
  const fs::path empty = WriteToken(dir, " \n\t\n", 0600);
  Result<std::string> blank = LoadOrCreateApiToken(empty.string());
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.status().message(), "token file " + empty.string() + ": empty");

  const fs::path big = WriteToken(dir, std::string(4097, 'a'), 0600);
  Result<std::string> large = LoadOrCreateApiToken(big.string());
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.status().message(),
            "reading token file " + big.string() + ": larger than 4096 bytes");
  const fs::path at_cap = WriteToken(dir, std::string(4096, 'a'), 0600);
  EXPECT_TRUE(LoadOrCreateApiToken(at_cap.string()).ok());

  // It travels in an HTTP header: visible ASCII only.
  for (const std::string& text :
       {std::string("two words\n"), std::string("caf\xc3\xa9\n"), std::string("nul\0x", 5)}) {
    const fs::path path = WriteToken(dir, text, 0600);
    Result<std::string> token = LoadOrCreateApiToken(path.string());
    ASSERT_FALSE(token.ok()) << text;
    EXPECT_EQ(token.status().message(),
              "token file " + path.string() + ": token has blanks or non-ASCII bytes");
  }
}

}  // namespace
}  // namespace ubc
