#include "runtime-hook/config_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = UBC_SOURCE_ROOT;

std::set<std::string> NamesIn(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(ReadConfigFileTest, ReadsTheBundleConfig) {
  const fs::path spec = kRoot / "tests/fixtures/hook/config/runc_spec.json";
  Result<std::string> r = ReadConfigFile(spec.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, ReadFileForTest(spec));
}

TEST(ReadConfigFileTest, MissingFileNamesThePath) {
  TempDir bundle("ubc-config-file");
  const std::string path = bundle.Path("config.json").string();
  Result<std::string> r = ReadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + path + ": No such file or directory");
}

TEST(ReadConfigFileTest, AtMostSixteenMebibytes) {
  TempDir bundle("ubc-config-file");
  const fs::path at_cap = bundle.Write("at.json", "");
  fs::resize_file(at_cap, kMaxOciConfigBytes);
  Result<std::string> ok = ReadConfigFile(at_cap.string());
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), kMaxOciConfigBytes);

  const fs::path over = bundle.Write("over.json", "");
  fs::resize_file(over, kMaxOciConfigBytes + 1);
  Result<std::string> r = ReadConfigFile(over.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + over.string() + ": larger than 16777216 bytes");
}

TEST(ReadConfigFileTest, OnlyARegularFile) {
  TempDir bundle("ubc-config-file");
  const fs::path fifo = bundle.Path("config.json");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // No writer: a blocking open would hang here.
  Result<std::string> r = ReadConfigFile(fifo.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + fifo.string() + ": not a regular file");
}

TEST(ReplaceConfigFileTest, ReplacesTheFileKeepingItsMode) {
  TempDir bundle("ubc-config-file");
  const fs::path path = bundle.Write("config.json", "{\"old\": true}");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  Status s = ReplaceConfigFile(path.string(), "{\"new\": true}\n");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFileForTest(path), "{\"new\": true}\n");
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_EQ(NamesIn(bundle.path()), (std::set<std::string>{"config.json"}));
}

TEST(ReplaceConfigFileTest, ASymlinkedConfigHasItsTargetReplaced) {
  TempDir bundle("ubc-config-file");
  const fs::path target = bundle.Write("real.json", "old");
  const fs::path link = bundle.Path("config.json");
  fs::create_symlink("real.json", link);
  ASSERT_TRUE(ReplaceConfigFile(link.string(), "new").ok());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(ReadFileForTest(target), "new");
  EXPECT_EQ(NamesIn(bundle.path()), (std::set<std::string>{"config.json", "real.json"}));
}

TEST(ReplaceConfigFileTest, AVanishedConfigIsCreatedWithRuncSpecsMode) {
  TempDir bundle("ubc-config-file");
  const fs::path path = bundle.Path("config.json");
  ASSERT_TRUE(ReplaceConfigFile(path.string(), "{}").ok());
  EXPECT_EQ(ReadFileForTest(path), "{}");
  EXPECT_EQ(ModeOf(path), 0644u);
}

TEST(ReplaceConfigFileTest, ErrorsLeaveTheBundleAsItWas) {
  TempDir bundle("ubc-config-file");
  fs::create_directory(bundle.Path("config.json"));
  Status s = ReplaceConfigFile(bundle.Path("config.json").string(), "{}");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("config.json: not a regular file"), std::string::npos) << s.message();
  EXPECT_TRUE(fs::is_directory(bundle.Path("config.json")));
  EXPECT_EQ(NamesIn(bundle.path()), (std::set<std::string>{"config.json"}));
}

}  // namespace
}  // namespace ubc
