#include "core/hook_settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/schema_validator.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = UBC_SOURCE_ROOT;

std::vector<fs::path> JsonFilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(HookSettingsTest, EmptyObjectGivesDefaults) {
  Result<HookSettings> s = ParseHookSettings("{}", "test");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->listener_path, "/run/ubc/ubcd.sock");
  EXPECT_EQ(s->containers_dir, "/etc/ubc/containers.d");
  EXPECT_EQ(s->opt_in, OptIn::kAnnotated);
  EXPECT_EQ(s->runtime, "runc");
  EXPECT_TRUE(s->runtime_args.empty());
}

TEST(HookSettingsTest, EveryFieldIsRead) {
  Result<HookSettings> s = ParseHookSettings(
      R"({"listener_path": "/x/l.sock", "containers_dir": "/x/c.d", "opt_in": "all",
          "runtime": "/usr/bin/crun", "runtime_args": ["--cgroup-manager=disabled", "-v"]})",
      "test");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->listener_path, "/x/l.sock");
  EXPECT_EQ(s->containers_dir, "/x/c.d");
  EXPECT_EQ(s->opt_in, OptIn::kAll);
  EXPECT_EQ(s->runtime, "/usr/bin/crun");
  EXPECT_EQ(s->runtime_args, (std::vector<std::string>{"--cgroup-manager=disabled", "-v"}));
}

TEST(HookSettingsTest, KernelBoundsAndUbcdConfigAreRead) {
  Result<HookSettings> defaults = ParseHookSettings("{}", "test");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_TRUE(defaults->ubcd_config.empty());
  EXPECT_TRUE(defaults->kernel_bounds.enabled);
  EXPECT_EQ(defaults->kernel_bounds.stack_bytes, uint64_t{8} << 20);
  EXPECT_EQ(defaults->kernel_bounds.memory_margin_bytes, uint64_t{64} << 20);
  EXPECT_EQ(defaults->kernel_bounds.data_floor_bytes, uint64_t{256} << 20);
  EXPECT_TRUE(defaults->kernel_bounds.memory_cgroup);

  Result<HookSettings> s = ParseHookSettings(
      R"({"ubcd_config": "/etc/ubc/ubcd.json",
          "kernel_bounds": {"enabled": false, "stack_bytes": 16777216, "memory_margin_bytes": 0,
                            "data_floor_bytes": 0, "memory_cgroup": false}})",
      "test");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->ubcd_config, "/etc/ubc/ubcd.json");
  EXPECT_FALSE(s->kernel_bounds.enabled);
  EXPECT_EQ(s->kernel_bounds.stack_bytes, uint64_t{16} << 20);
  EXPECT_EQ(s->kernel_bounds.memory_margin_bytes, 0u);
  EXPECT_EQ(s->kernel_bounds.data_floor_bytes, 0u);
  EXPECT_FALSE(s->kernel_bounds.memory_cgroup);

  // A stack bound too small to start a program, an unknown field: the schema says no.
  EXPECT_FALSE(ParseHookSettings(R"({"kernel_bounds": {"stack_bytes": 4096}})", "t").ok());
  EXPECT_FALSE(ParseHookSettings(R"({"kernel_bounds": {"rlimit_as": 1}})", "t").ok());
  EXPECT_FALSE(ParseHookSettings(R"({"ubcd_config": "relative.json"})", "t").ok());
}

TEST(HookSettingsTest, PartialFileKeepsOtherDefaults) {
  Result<HookSettings> s = ParseHookSettings(R"({"opt_in": "all"})", "test");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->opt_in, OptIn::kAll);
  EXPECT_EQ(s->listener_path, "/run/ubc/ubcd.sock");
}

TEST(HookSettingsTest, InvalidJsonNamesTheSource) {
  Result<HookSettings> s = ParseHookSettings("{\"opt_in\": ", "/etc/ubc/hook.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "/etc/ubc/hook.json: invalid JSON");
}

TEST(HookSettingsTest, SchemaErrorNamesSourceAndField) {
  Result<HookSettings> s = ParseHookSettings(R"({"opt_in": "everything"})", "/etc/ubc/hook.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("/etc/ubc/hook.json: /opt_in", 0), 0u)
      << s.status().message();
}

TEST(HookSettingsTest, LoadMissingFileIsAnErrorNamingIt) {
  Result<HookSettings> s = LoadHookSettings("/nonexistent/ubc/hook.json");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/ubc/hook.json"), std::string::npos)
      << s.status().message();
}

TEST(HookSettingsTest, LoadReadsTheFile) {
  TempDir dir("ubc-hook-settings");
  const fs::path path = dir.Write("hook.json", R"({"listener_path": "/tmp/x.sock"})");
  Result<HookSettings> s = LoadHookSettings(path.string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->listener_path, "/tmp/x.sock");
}

TEST(HookSettingsTest, ShippedExamplesParse) {
  for (const char* name : {"examples/hook.json", "examples/ubc-runtime.json"}) {
    Result<HookSettings> s = LoadHookSettings((kRoot / name).string());
    EXPECT_TRUE(s.ok()) << name << ": " << s.status().message();
  }
  Result<HookSettings> runtime = LoadHookSettings((kRoot / "examples/ubc-runtime.json").string());
  ASSERT_TRUE(runtime.ok());
  EXPECT_EQ(runtime->runtime, "/usr/sbin/runc");  // where Debian's runc package puts it
}

// podman's hooks.d format (oci-hooks(5), version 1.0.0): the shipped file must
// run ubc-hook in precreate mode at the precreate stage.
TEST(HookSettingsTest, ShippedHooksDFileIsAPrecreateHook) {
  const json hook =
      json::parse(ReadFileForTest(kRoot / "examples/hooks.d/ubc-hook.json"), nullptr, false);
  ASSERT_TRUE(hook.is_object());
  EXPECT_EQ(hook.value("version", ""), "1.0.0");
  EXPECT_EQ(hook["stages"], json::array({"precreate"}));
  ASSERT_TRUE(hook["hook"].is_object());
  EXPECT_EQ(hook["hook"].value("path", "").front(), '/');
  EXPECT_EQ(hook["hook"]["args"], json::array({"ubc-hook", "precreate"}));
  EXPECT_TRUE(hook["when"].is_object());
}

// Fixture layout as for the other schemas: valid/*.json pass, invalid/X.json
// fail naming the JSON pointer stored in X.json.pointer.
TEST(HookSettingsTest, SchemaFixtures) {
  const fs::path base = kRoot / "tests/fixtures/hook/settings";
  const auto valid = JsonFilesIn(base / "valid");
  const auto invalid = JsonFilesIn(base / "invalid");
  EXPECT_GE(valid.size(), 3u);
  EXPECT_GE(invalid.size(), 5u);
  for (const fs::path& path : valid) {
    Result<HookSettings> s = LoadHookSettings(path.string());
    EXPECT_TRUE(s.ok()) << s.status().message();
  }
  for (const fs::path& path : invalid) {
    fs::path pointer_file = path;
    pointer_file += ".pointer";
    ASSERT_TRUE(fs::exists(pointer_file)) << pointer_file;
    std::string pointer = ReadFileForTest(pointer_file);
    while (!pointer.empty() && (pointer.back() == '\n' || pointer.back() == ' '))
      pointer.pop_back();
    Result<HookSettings> s = LoadHookSettings(path.string());
    ASSERT_FALSE(s.ok()) << path;
    const std::string& m = s.status().message();
    EXPECT_EQ(m.rfind(path.string() + ": ", 0), 0u) << m;
    EXPECT_TRUE(m.find(": " + pointer + ": ") != std::string::npos ||
                m.find(": " + pointer + " (") != std::string::npos)
        << path << " wants " << pointer << ", got: " << m;
  }
}

}  // namespace
}  // namespace ubc
