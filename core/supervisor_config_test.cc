#include "core/supervisor_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/embedded_schemas.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = UBC_SOURCE_ROOT;

void ExpectIsBuiltInDefault(const SupervisorConfig& c) {
  EXPECT_EQ(c.listener_path, "/run/ubc/ubcd.sock");
  EXPECT_EQ(c.status_path, "/run/ubc/status.sock");
  EXPECT_EQ(c.state_dir, "/run/ubc");
  EXPECT_EQ(c.proc_dir, "/run/ubc/proc");
  EXPECT_EQ(c.containers_dir, "/etc/ubc/containers.d");
  EXPECT_EQ(c.default_privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(c.default_profile, &Bc2006Profile());
  EXPECT_EQ(c.retire_after_seconds, 300u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_TRUE(c.rest.enabled);
  EXPECT_EQ(c.rest.address, "127.0.0.1");
  EXPECT_EQ(c.rest.port, 8765);
  EXPECT_EQ(c.rest.token_file, "/etc/ubc/api-token");
}

TEST(SupervisorConfigTest, DefaultIsTheEmbeddedExample) {
  auto c = DefaultSupervisorConfig();
  ASSERT_TRUE(c.ok()) << c.status().message();
  ExpectIsBuiltInDefault(*c);
  // The compiled-in copy is the file in the repository, byte for byte.
  EXPECT_EQ(EmbeddedFile("ubcd.default.json"),
            ReadFileForTest(kRoot / "examples/ubcd.default.json"));
}

TEST(SupervisorConfigTest, EmptyObjectIsTheDefault) {
  auto c = ParseSupervisorConfig("{}", "/etc/ubc/ubcd.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ExpectIsBuiltInDefault(*c);
}

TEST(SupervisorConfigTest, FullConfigOverridesEverything) {
  auto c = ParseSupervisorConfig(R"({
      "listener_path": "/var/run/ubc/l.sock", "status_path": "/var/run/ubc/s.sock",
      "state_dir": "/var/lib/ubc", "containers_dir": "/srv/ubc.d",
      "defaults": {"privvmpages": "1G:unlimited", "profile": "openvz"},
      "retire_after_seconds": 0, "log_level": "debug"})",
                                 "/etc/ubc/ubcd.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listener_path, "/var/run/ubc/l.sock");
  EXPECT_EQ(c->status_path, "/var/run/ubc/s.sock");
  EXPECT_EQ(c->state_dir, "/var/lib/ubc");
  EXPECT_EQ(c->proc_dir, "/var/lib/ubc/proc");  // follows state_dir
  EXPECT_EQ(c->containers_dir, "/srv/ubc.d");
  EXPECT_EQ(c->default_privvmpages, (BarrierLimit{262144, kUnlimitedPages}));
  EXPECT_EQ(c->default_profile, &OpenvzProfile());
  EXPECT_EQ(c->retire_after_seconds, 0u);
  EXPECT_EQ(c->log_level, "debug");
}

TEST(SupervisorConfigTest, ProcDirCanBeSetApartFromStateDir) {
  auto c = ParseSupervisorConfig(R"({"state_dir": "/var/lib/ubc", "proc_dir": "/run/ubc-view"})",
                                 "/etc/ubc/ubcd.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->proc_dir, "/run/ubc-view");
  auto relative = ParseSupervisorConfig(R"({"proc_dir": "view"})", "/etc/ubc/ubcd.json");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("/proc_dir"), std::string::npos)
      << relative.status().message();
}

TEST(SupervisorConfigTest, PartialDefaultsKeepTheOtherDefault) {
  auto c = ParseSupervisorConfig(R"({"defaults": {"profile": "openvz"}})", "u.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->default_profile, &OpenvzProfile());
  EXPECT_EQ(c->default_privvmpages, (BarrierLimit{65536, 69632}));

  auto p = ParseSupervisorConfig(R"({"defaults": {"privvmpages": "2048"}})", "u.json");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->default_privvmpages, (BarrierLimit{2048, 2048}));
  EXPECT_EQ(p->default_profile, &Bc2006Profile());
}

TEST(SupervisorConfigTest, ShmpagesDefaultIsUnlimitedUnlessSet) {
  auto none = ParseSupervisorConfig(R"({"defaults": {"privvmpages": "2048"}})", "u.json");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->default_shmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  auto set = ParseSupervisorConfig(R"({"defaults": {"shmpages": "64M:80M"}})", "u.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->default_shmpages, (BarrierLimit{16384, 20480}));
  auto bad = ParseSupervisorConfig(R"({"defaults": {"shmpages": "x"}})", "u.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/defaults/shmpages"), std::string::npos)
      << bad.status().message();
}

TEST(SupervisorConfigTest, NumprocDefaultIsUnlimitedUnlessSet) {
  auto builtin = DefaultSupervisorConfig();
  ASSERT_TRUE(builtin.ok()) << builtin.status().message();
  EXPECT_EQ(builtin->default_numproc, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  auto none = ParseSupervisorConfig(R"({"defaults": {"privvmpages": "2048"}})", "u.json");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->default_numproc, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  auto set = ParseSupervisorConfig(R"({"defaults": {"numproc": "200:240"}})", "u.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->default_numproc, (BarrierLimit{200, 240}));  // tasks
  EXPECT_EQ(set->default_shmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  auto single = ParseSupervisorConfig(R"({"defaults": {"numproc": "512"}})", "u.json");
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ(single->default_numproc, (BarrierLimit{512, 512}));
  for (const char* body :
       {R"({"defaults": {"numproc": "1K"}})", R"({"defaults": {"numproc": "100:1M"}})",
        R"({"defaults": {"numproc": 100}})", R"({"defaults": {"numproc": "x"}})"}) {
    auto bad = ParseSupervisorConfig(body, "u.json");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_EQ(bad.status().message().rfind("u.json: /defaults/numproc (", 0), 0u)
        << body << ": " << bad.status().message();
  }
}

TEST(SupervisorConfigTest, RestFieldsOverrideOneByOne) {
  auto c = ParseSupervisorConfig(R"({"rest": {"port": 18080, "token_file": "/tmp/t"}})", "u.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->rest.enabled);
  EXPECT_EQ(c->rest.address, "127.0.0.1");
  EXPECT_EQ(c->rest.port, 18080);
  EXPECT_EQ(c->rest.token_file, "/tmp/t");

  auto off = ParseSupervisorConfig(R"({"rest": {"enabled": false, "address": "::1"}})", "u.json");
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_FALSE(off->rest.enabled);
  EXPECT_EQ(off->rest.address, "::1");
  EXPECT_EQ(off->rest.port, 8765);
}

TEST(SupervisorConfigTest, RestErrorsNameTheField) {
  for (const auto& [text, pointer] : std::vector<std::pair<std::string, std::string>>{
           {R"({"rest": {"port": 0}})", "/rest/port"},
           {R"({"rest": {"port": 70000}})", "/rest/port"},
           {R"({"rest": {"port": "80"}})", "/rest/port"},
           {R"({"rest": {"token_file": "api-token"}})", "/rest/token_file"},
           {R"({"rest": {"address": "a b"}})", "/rest/address"},
           {R"({"rest": {"enabled": "yes"}})", "/rest/enabled"},
           {R"({"rest": {"tls": true}})", "/rest/tls"},
       }) {
    auto c = ParseSupervisorConfig(text, "u.json");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(pointer), std::string::npos)
        << text << ": " << c.status().message();
  }
}

TEST(SupervisorConfigTest, CommentIsAccepted) {
  auto c = ParseSupervisorConfig(R"({"$comment": "x", "log_level": "error"})", "u.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->log_level, "error");
}

TEST(SupervisorConfigTest, InvalidJsonNamesSourceAndPosition) {
  auto c = ParseSupervisorConfig("{\n  \"log_level\": \"info\",\n}", "/etc/ubc/ubcd.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/etc/ubc/ubcd.json: invalid JSON: parse error at line 3, column 1: syntax error "
            "while parsing object key - unexpected '}'; expected string literal");
}

TEST(SupervisorConfigTest, SchemaErrorNamesSourceAndField) {
  auto c = ParseSupervisorConfig(R"({"defaults": {"privvmpages": "12Q"}})", "/etc/ubc/ubcd.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/etc/ubc/ubcd.json: /defaults/privvmpages (\"12Q\"): must be a vzctl value such as "
            "\"65536:69632\", \"256M:272M\", \"1.5G\" or \"unlimited\"");
}

TEST(SupervisorConfigTest, UnknownFieldIsAnError) {
  auto c = ParseSupervisorConfig(R"({"log-level": "info"})", "u.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("u.json: /log-level (\"info\"): unknown property", 0), 0u)
      << c.status().message();
}

TEST(SupervisorConfigTest, SameSocketForListenerAndStatusIsAnError) {
  auto c = ParseSupervisorConfig(R"({"status_path": "/run/ubc/ubcd.sock"})", "u.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "u.json: /status_path: must differ from listener_path \"/run/ubc/ubcd.sock\"");
}

TEST(SupervisorConfigTest, ShippedExampleParses) {
  const fs::path path = kRoot / "examples/ubcd.json";
  auto c = LoadSupervisorConfigFile(path.string());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listener_path, "/run/ubc/ubcd.sock");
  EXPECT_EQ(c->default_privvmpages, (BarrierLimit{65536, 69632}));  // "256M:272M"
  EXPECT_EQ(c->retire_after_seconds, 600u);
  EXPECT_EQ(c->log_level, "warning");
}

TEST(SupervisorConfigTest, EveryFixtureBehaves) {
  const fs::path base = kRoot / "tests/fixtures/schemas/ubcd-config";
  int valid = 0;
  int invalid = 0;
  for (const auto& entry : fs::directory_iterator(base / "valid")) {
    auto c = LoadSupervisorConfigFile(entry.path().string());
    EXPECT_TRUE(c.ok()) << c.status().message();
    ++valid;
  }
  for (const auto& entry : fs::directory_iterator(base / "invalid")) {
    if (entry.path().extension() != ".json") continue;
    auto c = LoadSupervisorConfigFile(entry.path().string());
    ASSERT_FALSE(c.ok()) << entry.path();
    EXPECT_EQ(c.status().message().rfind(entry.path().string() + ": /", 0), 0u)
        << c.status().message();
    ++invalid;
  }
  EXPECT_GE(valid, 3);
  EXPECT_GE(invalid, 5);
}

TEST(SupervisorConfigTest, LoadMissingFileNamesPath) {
  TempDir dir("ubc-supervisor-config");
  const std::string path = (dir.path() / "missing.json").string();
  auto c = LoadSupervisorConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "reading " + path + ": No such file or directory");
}

TEST(SupervisorConfigTest, LoadDirectoryIsRefused) {
  TempDir dir("ubc-supervisor-config");
  auto c = LoadSupervisorConfigFile(dir.path().string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "reading " + dir.path().string() + ": not a regular file");
}

TEST(SupervisorConfigTest, LoadRefusesFilesOverOneMebibyte) {
  TempDir dir("ubc-supervisor-config");
  // Valid JSON, only too large: whitespace padding.
  const fs::path big = dir.Write("big.json", "{}" + std::string(kMaxConfigFileBytes - 1, ' '));
  auto c = LoadSupervisorConfigFile(big.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "reading " + big.string() + ": larger than 1048576 bytes");

  const fs::path at_bound = dir.Write("ok.json", "{}" + std::string(kMaxConfigFileBytes - 2, ' '));
  auto ok = LoadSupervisorConfigFile(at_bound.string());
  EXPECT_TRUE(ok.ok()) << ok.status().message();
}

TEST(SupervisorConfigTest, LoadErrorsNameThePath) {
  TempDir dir("ubc-supervisor-config");
  const fs::path path = dir.Write("ubcd.json", R"({"log_level": "loud"})");
  auto c = LoadSupervisorConfigFile(path.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path.string() +
                                      ": /log_level (\"loud\"): must be one of \"error\", "
                                      "\"warning\", \"info\", \"debug\"");
}

TEST(ReadConfigFileTextTest, ReadsWholeFile) {
  TempDir dir("ubc-supervisor-config");
  const std::string text = "{\"a\": \"" + std::string(100000, 'x') + "\"}";
  const fs::path path = dir.Write("a.json", text);
  auto r = ReadConfigFileText(path.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, text);
}

TEST(SupervisorConfigTest, LockedpagesDefaultIsUnlimitedUnlessSet) {
  auto builtin = DefaultSupervisorConfig();
  ASSERT_TRUE(builtin.ok()) << builtin.status().message();
  EXPECT_EQ(builtin->default_lockedpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  auto set = ParseSupervisorConfig(R"({"defaults": {"lockedpages": "64M"}})", "u.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->default_lockedpages, (BarrierLimit{16384, 16384}));
  auto bad = ParseSupervisorConfig(R"({"defaults": {"lockedpages": "x"}})", "u.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("u.json: /defaults/lockedpages (", 0), 0u)
      << bad.status().message();
}

}  // namespace
}  // namespace ubc
