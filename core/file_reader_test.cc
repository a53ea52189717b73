#include "core/file_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/unique_fd.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

TEST(ReadFileBoundedTest, ReadsTheWholeFileByteForByte) {
  TempDir dir("ubc-file-reader");
  // Larger than one read, with NULs and no final newline.
  std::string text(100000, 'x');
  text[10] = '\0';
  text += "end";
  const fs::path path = dir.Write("a.bin", text);
  Result<std::string> r = ReadFileBounded(path.string(), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, text);
}

TEST(ReadFileBoundedTest, EmptyFileIsEmptyText) {
  TempDir dir("ubc-file-reader");
  const fs::path path = dir.Write("empty", "");
  Result<std::string> r = ReadFileBounded(path.string(), 0);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "");
}

TEST(ReadFileBoundedTest, MissingFileNamesThePathAndKeepsTheErrno) {
  TempDir dir("ubc-file-reader");
  const std::string path = dir.Path("missing.json").string();
  Result<std::string> r = ReadFileBounded(path, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + path + ": No such file or directory");
  EXPECT_EQ(r.status().error_number(), ENOENT);
}

TEST(ReadFileBoundedTest, WhatNamesTheFileBeforeItsPath) {
  TempDir dir("ubc-file-reader");
  const std::string path = dir.Path("api-token").string();
  Result<std::string> r = ReadFileBounded(path, 100, {.what = "token file"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading token file " + path + ": No such file or directory");
}

TEST(ReadFileBoundedTest, TheCapIsInclusiveAndOneByteMoreIsRefused) {
  TempDir dir("ubc-file-reader");
  const fs::path at_cap = dir.Write("at", std::string(1000, 'a'));
  Result<std::string> ok = ReadFileBounded(at_cap.string(), 1000);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), 1000u);

  const fs::path over = dir.Write("over", std::string(1001, 'a'));
  Result<std::string> r = ReadFileBounded(over.string(), 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + over.string() + ": larger than 1000 bytes");
  EXPECT_EQ(r.status().error_number(), 0);
}

TEST(ReadFileBoundedTest, ZeroCapReadsOnlyEmptyFiles) {
  TempDir dir("ubc-file-reader");
  const fs::path one = dir.Write("one", "x");
  Result<std::string> r = ReadFileBounded(one.string(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + one.string() + ": larger than 0 bytes");
}

TEST(ReadFileBoundedTest, DirectoryIsNotARegularFile) {
  TempDir dir("ubc-file-reader");
  Result<std::string> r = ReadFileBounded(dir.path().string(), 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + dir.path().string() + ": not a regular file");
}

TEST(ReadFileBoundedTest, FifoWithoutWriterIsRefusedWithoutBlocking) {
  TempDir dir("ubc-file-reader");
  const fs::path fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Nobody ever opens the other end: a blocking open would hang the test.
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> r = ReadFileBounded(fifo.string(), 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + fifo.string() + ": not a regular file");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ReadFileBoundedTest, FifoIsReadToTheEndWhenNotRegularOnly) {
  TempDir dir("ubc-file-reader");
  const fs::path fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Like a shell's <(...): the writer writes in pieces and closes.
  std::thread writer([&fifo] {
    UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return;
    for (int i = 0; i < 3; ++i) {
      if (::write(fd.get(), "abc\n", 4) != 4) return;
    }
  });
  Result<std::string> r = ReadFileBounded(fifo.string(), 100, {.regular_file_only = false});
  writer.join();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "abc\nabc\nabc\n");
}

TEST(ReadFileBoundedTest, EndlessDeviceStopsAtTheCap) {
  Result<std::string> r = ReadFileBounded("/dev/zero", 100000, {.regular_file_only = false});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading /dev/zero: larger than 100000 bytes");

  Result<std::string> refused = ReadFileBounded("/dev/zero", 100000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "reading /dev/zero: not a regular file");
}

TEST(ReadFileBoundedTest, SymlinkIsFollowedUnlessRefused) {
  TempDir dir("ubc-file-reader");
  const fs::path target = dir.Write("target", "secret\n");
  const fs::path link = dir.Path("link");
  fs::create_symlink(target, link);

  Result<std::string> followed = ReadFileBounded(link.string(), 100);
  ASSERT_TRUE(followed.ok()) << followed.status().message();
  EXPECT_EQ(*followed, "secret\n");

  Result<std::string> refused = ReadFileBounded(link.string(), 100, {.follow_symlink = false});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().error_number(), ELOOP);
  EXPECT_EQ(refused.status().message().rfind("reading " + link.string() + ": ", 0), 0u)
      << refused.status().message();

  // Only the last component: a symlinked directory above is fine.
  const fs::path dir_link = dir.Path("dir-link");
  fs::create_directory_symlink(dir.path(), dir_link);
  Result<std::string> through =
      ReadFileBounded((dir_link / "target").string(), 100, {.follow_symlink = false});
  ASSERT_TRUE(through.ok()) << through.status().message();
  EXPECT_EQ(*through, "secret\n");
}

TEST(ReadFileBoundedTest, CheckSeesTheStatOfTheFileItReads) {
  TempDir dir("ubc-file-reader");
  const fs::path path = dir.Write("token", "abc\n");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  struct stat expected = {};
  ASSERT_EQ(::stat(path.c_str(), &expected), 0);

  int calls = 0;
  Result<std::string> r = ReadFileBounded(path.string(), 100, {.check = [&](const struct stat& st) {
                                            ++calls;
                                            EXPECT_EQ(st.st_ino, expected.st_ino);
                                            EXPECT_EQ(st.st_dev, expected.st_dev);
                                            EXPECT_EQ(st.st_mode & 07777, 0640u);
                                            EXPECT_EQ(st.st_size, 4);
                                            return Status::Ok();
                                          }});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "abc\n");
  EXPECT_EQ(calls, 1);
}

TEST(ReadFileBoundedTest, FailedCheckIsReturnedAsIs) {
  TempDir dir("ubc-file-reader");
  const fs::path path = dir.Write("token", "abc\n");
  Result<std::string> r = ReadFileBounded(
      path.string(), 100, {.check = [](const struct stat&) { return Status::Error("mode 0644"); }});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "mode 0644");
}

TEST(ReadFileBoundedTest, CheckRunsOnlyOnARegularFileAndBeforeTheSizeCap) {
  TempDir dir("ubc-file-reader");
  int calls = 0;
  auto counting = [&calls](const struct stat&) {
    ++calls;
    return Status::Error("checked");
  };
  Result<std::string> on_dir = ReadFileBounded(dir.path().string(), 100, {.check = counting});
  ASSERT_FALSE(on_dir.ok());
  EXPECT_EQ(on_dir.status().message(), "reading " + dir.path().string() + ": not a regular file");
  EXPECT_EQ(calls, 0);

  // The check decides first: an owner/mode refusal wins over a size refusal.
  const fs::path big = dir.Write("big", std::string(200, 'x'));
  Result<std::string> on_big = ReadFileBounded(big.string(), 100, {.check = counting});
  ASSERT_FALSE(on_big.ok());
  EXPECT_EQ(on_big.status().message(), "checked");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ubc
