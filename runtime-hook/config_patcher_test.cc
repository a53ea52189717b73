#include "runtime-hook/config_patcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = UBC_SOURCE_ROOT;

// `runc spec` output: no annotations, so nobody opted in.
std::string RuncSpec() {
  return ReadFileForTest(kRoot / "tests/fixtures/hook/config/runc_spec.json");
}

std::string AnnotatedSpec() {
  json doc = json::parse(RuncSpec());
  doc["annotations"] = {{"ubc.privvmpages", "256M"}};
  return doc.dump(1, '\t');
}

// Settings whose containers.d is the test's own directory.
HookSettings SettingsWith(const TempDir& dir) {
  HookSettings settings;
  settings.listener_path = "/run/ubc-test/ubcd.sock";
  settings.containers_dir = dir.Path("containers.d").string();
  return settings;
}

struct stat StatOf(const fs::path& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

TEST(LoadFirstExistingSettingsTest, NoFileMeansTheBuiltInDefaults) {
  TempDir dir("ubc-config-patcher");
  Result<HookSettings> s =
      LoadFirstExistingSettings({dir.Path("a.json").string(), dir.Path("b.json").string()});
  ASSERT_TRUE(s.ok()) << s.status().message();
  const HookSettings defaults;
  EXPECT_EQ(s->listener_path, defaults.listener_path);
  EXPECT_EQ(s->containers_dir, defaults.containers_dir);
  EXPECT_EQ(s->runtime, defaults.runtime);

  Result<HookSettings> none = LoadFirstExistingSettings({});
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->listener_path, defaults.listener_path);
}

TEST(LoadFirstExistingSettingsTest, TheFirstFileThatExistsWins) {
  TempDir dir("ubc-config-patcher");
  dir.Write("b.json", R"({"listener_path": "/run/b.sock"})");
  dir.Write("c.json", R"({"listener_path": "/run/c.sock"})");
  Result<HookSettings> s = LoadFirstExistingSettings(
      {dir.Path("a.json").string(), dir.Path("b.json").string(), dir.Path("c.json").string()});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->listener_path, "/run/b.sock");
}

TEST(LoadFirstExistingSettingsTest, AnInvalidFileIsAnErrorNotASkip) {
  TempDir dir("ubc-config-patcher");
  const fs::path bad = dir.Write("a.json", R"({"opt_in": "sometimes"})");
  dir.Write("b.json", "{}");
  Result<HookSettings> s = LoadFirstExistingSettings({bad.string(), dir.Path("b.json").string()});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind(bad.string() + ": /opt_in", 0), 0u) << s.status().message();
}

TEST(PatchConfigTextTest, NotOptedInIsByteForByteUnchanged) {
  TempDir dir("ubc-config-patcher");
  const std::string spec = RuncSpec();
  Result<PatchOutcome> outcome = PatchConfigText(spec, SettingsWith(dir), "c1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_FALSE(outcome->patched);
  EXPECT_EQ(outcome->output_text, spec);
}

TEST(PatchConfigTextTest, AContainersDFileOptsTheContainerIn) {
  TempDir dir("ubc-config-patcher");
  fs::create_directory(dir.Path("containers.d"));
  const fs::path file =
      dir.Write("containers.d/10-c1.json", R"({"match": {"ids": ["c1"]}, "privvmpages": "64M"})");
  Result<PatchOutcome> outcome = PatchConfigText(RuncSpec(), SettingsWith(dir), "c1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_TRUE(outcome->patched);
  EXPECT_EQ(outcome->opted_in_by, "containers.d file " + file.string());
  const json doc = json::parse(outcome->output_text);
  EXPECT_EQ(doc["linux"]["seccomp"]["listenerPath"], "/run/ubc-test/ubcd.sock");

  // Another id does not match.
  Result<PatchOutcome> other = PatchConfigText(RuncSpec(), SettingsWith(dir), "c2");
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_FALSE(other->patched);
}

TEST(PatchConfigTextTest, UbcdsDefaultsGiveTheKernelBounds) {
  TempDir dir("ubc-config-patcher");
  const fs::path ubcd = dir.Write("ubcd.json", R"({"defaults": {"privvmpages": "100000:300000"}})");
  HookSettings settings = SettingsWith(dir);
  settings.opt_in = OptIn::kAll;
  settings.ubcd_config = ubcd.string();
  Result<PatchOutcome> outcome = PatchConfigText(RuncSpec(), settings, "c1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_EQ(outcome->bounds.data_bytes, 300000u * 4096);

  // A missing or broken ubcd config fails the container: its limits are unknown.
  settings.ubcd_config = dir.Path("missing.json").string();
  Result<PatchOutcome> missing = PatchConfigText(RuncSpec(), settings, "c1");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.json"), std::string::npos)
      << missing.status().message();
}

TEST(PatchConfigTextTest, ABrokenContainersDFileFailsTheContainer) {
  TempDir dir("ubc-config-patcher");
  fs::create_directory(dir.Path("containers.d"));
  const fs::path broken = dir.Write("containers.d/10-broken.json", "{not json");
  Result<PatchOutcome> outcome = PatchConfigText(AnnotatedSpec(), SettingsWith(dir), "c1");
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message().rfind(broken.string() + ": ", 0), 0u)
      << outcome.status().message();
}

TEST(PatchConfigFileInPlaceTest, AnOptedInConfigIsRewrittenKeepingItsMode) {
  TempDir dir("ubc-config-patcher");
  const fs::path path = dir.Write("config.json", AnnotatedSpec());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  Result<PatchOutcome> outcome = PatchConfigFileInPlace(path.string(), SettingsWith(dir), "c1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_TRUE(outcome->patched);
  EXPECT_EQ(outcome->opted_in_by, "annotation");
  EXPECT_EQ(ReadFileForTest(path), outcome->output_text);
  EXPECT_EQ(StatOf(path).st_mode & 07777, 0640u);
  EXPECT_EQ(json::parse(ReadFileForTest(path))["linux"]["seccomp"]["listenerPath"],
            "/run/ubc-test/ubcd.sock");
}

TEST(PatchConfigFileInPlaceTest, ANotOptedInConfigIsNotRewritten) {
  TempDir dir("ubc-config-patcher");
  const std::string spec = RuncSpec();
  const fs::path path = dir.Write("config.json", spec);
  const ino_t inode = StatOf(path).st_ino;
  Result<PatchOutcome> outcome = PatchConfigFileInPlace(path.string(), SettingsWith(dir), "c1");
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_FALSE(outcome->patched);
  // Not even replaced by an identical copy.
  EXPECT_EQ(StatOf(path).st_ino, inode);
  EXPECT_EQ(ReadFileForTest(path), spec);
}

TEST(PatchConfigFileInPlaceTest, ErrorsNameTheRealPathAndLeaveTheFile) {
  TempDir dir("ubc-config-patcher");
  const fs::path path = dir.Write("config.json", "{\"annotations\": ");
  Result<PatchOutcome> outcome = PatchConfigFileInPlace(path.string(), SettingsWith(dir), "c1");
  ASSERT_FALSE(outcome.ok());
  // Core says "config.json: ..."; the file's path replaces it, not precedes it.
  EXPECT_EQ(outcome.status().message().rfind(path.string() + ": invalid JSON at byte", 0), 0u)
      << outcome.status().message();
  EXPECT_EQ(ReadFileForTest(path), "{\"annotations\": ");

  const std::string missing = dir.Path("missing/config.json").string();
  Result<PatchOutcome> absent = PatchConfigFileInPlace(missing, SettingsWith(dir), "c1");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().message(), "reading " + missing + ": No such file or directory");
}

TEST(LiveProcViewDirTest, ADirectoryWithoutTheViewMountedIsNoView) {
  TempDir dir("ubc-config-patcher");
  fs::create_directories(dir.path() / "proc");
  EXPECT_EQ(LiveProcViewDir((dir.path() / "proc").string()), "");
  EXPECT_EQ(LiveProcViewDir((dir.path() / "missing").string()), "");
  EXPECT_EQ(LiveProcViewDir("/proc"), "");  // mounted, but not the view
}

TEST(ProcViewTokenTest, TheIdWhenItIsAUsableNameElseARandomOne) {
  EXPECT_EQ(ProcViewToken("ubct-1234-1-ab_c.d"), "ubct-1234-1-ab_c.d");
  const std::string a = ProcViewToken(""), b = ProcViewToken("");
  EXPECT_EQ(a.size(), 35u);
  EXPECT_EQ(a.rfind("ct-", 0), 0u);
  EXPECT_NE(a, b);
  EXPECT_NE(ProcViewToken("has/slash"), "has/slash");
  EXPECT_NE(ProcViewToken(".."), "..");
  EXPECT_NE(ProcViewToken(std::string(65, 'x')), std::string(65, 'x'));
}

}  // namespace
}  // namespace ubc
