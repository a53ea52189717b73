#include "core/container_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/units.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = UBC_SOURCE_ROOT;

TEST(ParseContainerConfigTest, AllFields) {
  auto c = ParseContainerConfig(
      R"({"match": {"ids": ["batch-*", "c1"], "names": ["web"]}, "privvmpages": "256M:272M",
          "profile": "openvz"})",
      "/etc/ubc/containers.d/10-a.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->source_path, "/etc/ubc/containers.d/10-a.json");
  EXPECT_EQ(c->id_patterns, (std::vector<std::string>{"batch-*", "c1"}));
  EXPECT_EQ(c->name_patterns, (std::vector<std::string>{"web"}));
  ASSERT_TRUE(c->privvmpages.has_value());
  EXPECT_EQ(*c->privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(c->profile, &OpenvzProfile());
}

TEST(ParseContainerConfigTest, UnsetFieldsStayUnset) {
  auto c = ParseContainerConfig(R"({"match": {"names": ["db*"]}})", "a.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->id_patterns.empty());
  EXPECT_EQ(c->name_patterns, (std::vector<std::string>{"db*"}));
  EXPECT_FALSE(c->privvmpages.has_value());
  EXPECT_EQ(c->profile, nullptr);
}

TEST(ParseContainerConfigTest, ShmpagesIsReadAndItsErrorsNamed) {
  auto c = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "shmpages": "8M:12M"})", "a.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->shmpages.has_value());
  EXPECT_EQ(*c->shmpages, (BarrierLimit{2048, 3072}));
  EXPECT_FALSE(c->privvmpages.has_value());
  auto bad = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "shmpages": "9Q"})", "b.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("b.json: /shmpages"), std::string::npos)
      << bad.status().message();
}

TEST(ParseContainerConfigTest, NumprocIsReadAsTasks) {
  auto c = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "numproc": "200:240"})", "a.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->numproc.has_value());
  EXPECT_EQ(*c->numproc, (BarrierLimit{200, 240}));  // tasks
  EXPECT_FALSE(c->privvmpages.has_value());
  EXPECT_FALSE(c->shmpages.has_value());
  auto single = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "numproc": " 64 "})", "a.json");
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ(*single->numproc, (BarrierLimit{64, 64}));
  auto open = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "numproc": "100:Unlimited"})", "a");
  ASSERT_TRUE(open.ok()) << open.status().message();
  EXPECT_EQ(*open->numproc, (BarrierLimit{100, kUnlimitedPages}));
  auto none = ParseContainerConfig(R"({"match": {"ids": ["*"]}})", "a.json");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->numproc.has_value());
}

TEST(ParseContainerConfigTest, NumprocRefusesSuffixesAndNumbers) {
  for (const char* body : {R"({"match": {"ids": ["*"]}, "numproc": "1K"})",
                           R"({"match": {"ids": ["*"]}, "numproc": "100:2M"})",
                           R"({"match": {"ids": ["*"]}, "numproc": "1.5"})",
                           R"({"match": {"ids": ["*"]}, "numproc": "-1"})",
                           R"({"match": {"ids": ["*"]}, "numproc": 100})"}) {
    auto bad = ParseContainerConfig(body, "b.json");
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_EQ(bad.status().message().rfind("b.json: /numproc (", 0), 0u)
        << body << ": " << bad.status().message();
  }
  auto k = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "numproc": "64K"})", "b.json");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(),
            "b.json: /numproc (\"64K\"): must be a number of tasks such as \"200:240\", \"512\" or "
            "\"unlimited\" (a count: no suffixes)");
}

TEST(ParseContainerConfigTest, UnlimitedAndSingleValue) {
  auto c = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "privvmpages": "unlimited"})", "a");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(*c->privvmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
}

TEST(ParseContainerConfigTest, BadValueNamesFileAndPointer) {
  auto c = ParseContainerConfig(R"({"match": {"ids": ["c1"]}, "privvmpages": "1:2:3"})",
                                "/etc/ubc/containers.d/a.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/etc/ubc/containers.d/a.json: /privvmpages (\"1:2:3\"): must be a vzctl value such "
            "as \"65536:69632\", \"256M:272M\", \"1.5G\" or \"unlimited\"");
}

TEST(ParseContainerConfigTest, MatchIsRequired) {
  auto c = ParseContainerConfig(R"({"privvmpages": "1024"})", "a.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "a.json: /: missing required property 'match'");
}

TEST(ParseContainerConfigTest, EmptyMatchIsAnError) {
  auto c = ParseContainerConfig(R"({"match": {}})", "a.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "a.json: /match: object should have no fewer than 1 properties");
  auto e = ParseContainerConfig(R"({"match": {"ids": []}})", "a.json");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "a.json: /match/ids: array should contain no fewer than 1 elements");
}

TEST(ParseContainerConfigTest, InvalidJson) {
  auto c = ParseContainerConfig("{\"match\": ", "a.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("a.json: invalid JSON: parse error at line 1, column 11", 0),
            0u)
      << c.status().message();
}

TEST(ParseContainerConfigTest, EveryFixtureBehaves) {
  const fs::path base = kRoot / "tests/fixtures/schemas/container-config";
  int valid = 0;
  int invalid = 0;
  for (const auto& entry : fs::directory_iterator(base / "valid")) {
    const std::string text = ReadFileForTest(entry.path());
    auto c = ParseContainerConfig(text, entry.path().string());
    EXPECT_TRUE(c.ok()) << c.status().message();
    ++valid;
  }
  for (const auto& entry : fs::directory_iterator(base / "invalid")) {
    if (entry.path().extension() != ".json") continue;
    const std::string text = ReadFileForTest(entry.path());
    auto c = ParseContainerConfig(text, entry.path().string());
    ASSERT_FALSE(c.ok()) << entry.path();
    EXPECT_EQ(c.status().message().rfind(entry.path().string() + ": /", 0), 0u)
        << c.status().message();
    ++invalid;
  }
  EXPECT_GE(valid, 3);
  EXPECT_GE(invalid, 5);
}

TEST(LoadContainerConfigDirTest, ShippedExamplesLoadInFileNameOrder) {
  const fs::path dir = kRoot / "examples/containers.d";
  auto r = LoadContainerConfigDir(dir.string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].source_path, (dir / "10-databases.json").string());
  EXPECT_EQ((*r)[1].source_path, (dir / "20-batch.json").string());
  EXPECT_EQ((*r)[2].source_path, (dir / "90-unlimited-tools.json").string());
  EXPECT_EQ((*r)[0].profile, &OpenvzProfile());
  EXPECT_EQ(*(*r)[0].privvmpages, (BarrierLimit{262144, 327680}));  // 1G:1.25G
}

TEST(LoadContainerConfigDirTest, MissingDirIsEmpty) {
  TempDir tmp("ubc-container-config");
  auto r = LoadContainerConfigDir((tmp.path() / "nope").string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->empty());
}

TEST(LoadContainerConfigDirTest, OnlyVisibleJsonFilesSortedByName) {
  TempDir tmp("ubc-container-config");
  tmp.Write("b.json", R"({"match": {"ids": ["b"]}})");
  tmp.Write("a.json", R"({"match": {"ids": ["a"]}})");
  tmp.Write("10.json", R"({"match": {"ids": ["10"]}})");
  tmp.Write(".hidden.json", "not json");
  tmp.Write("c.json~", "not json");
  tmp.Write("c.json.bak", "not json");
  tmp.Write("README", "not json");
  tmp.Write(".json", "not json");
  auto r = LoadContainerConfigDir(tmp.path().string());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].id_patterns[0], "10");
  EXPECT_EQ((*r)[1].id_patterns[0], "a");
  EXPECT_EQ((*r)[2].id_patterns[0], "b");
  EXPECT_EQ((*r)[1].source_path, (tmp.path() / "a.json").string());
}

TEST(LoadContainerConfigDirTest, TrailingSlashOnDirDoesNotDoubleIt) {
  TempDir tmp("ubc-container-config");
  tmp.Write("a.json", R"({"match": {"ids": ["a"]}})");
  auto r = LoadContainerConfigDir(tmp.path().string() + "/");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].source_path, (tmp.path() / "a.json").string());
}

TEST(LoadContainerConfigDirTest, OneBadFileFailsTheLoadAndIsNamed) {
  TempDir tmp("ubc-container-config");
  tmp.Write("a.json", R"({"match": {"ids": ["a"]}})");
  const fs::path bad = tmp.Write("b.json", R"({"match": {"ids": ["b"]}, "profile": "x"})");
  auto r = LoadContainerConfigDir(tmp.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            bad.string() + ": /profile (\"x\"): must be one of \"bc2006\", \"openvz\"");
}

TEST(LoadContainerConfigDirTest, DirectoryNamedJsonIsAnError) {
  TempDir tmp("ubc-container-config");
  fs::create_directory(tmp.path() / "d.json");
  auto r = LoadContainerConfigDir(tmp.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "reading " + (tmp.path() / "d.json").string() + ": not a regular file");
}

TEST(LoadContainerConfigDirTest, DirPathThatIsAFileIsAnError) {
  TempDir tmp("ubc-container-config");
  const fs::path file = tmp.Write("f", "");
  auto r = LoadContainerConfigDir(file.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "reading " + file.string() + ": Not a directory");
}

ContainerConfig Config(std::vector<std::string> ids, std::vector<std::string> names,
                       std::string source) {
  ContainerConfig c;
  c.id_patterns = std::move(ids);
  c.name_patterns = std::move(names);
  c.source_path = std::move(source);
  return c;
}

TEST(MatchContainerConfigTest, FirstMatchInOrderWins) {
  const std::vector<ContainerConfig> configs = {
      Config({"batch-*"}, {}, "1"),
      Config({}, {"web*"}, "2"),
      Config({"*"}, {}, "3"),
  };
  EXPECT_EQ(MatchContainerConfig(configs, "batch-7", "web")->source_path, "1");
  EXPECT_EQ(MatchContainerConfig(configs, "c1", "webserver")->source_path, "2");
  EXPECT_EQ(MatchContainerConfig(configs, "c1", "db")->source_path, "3");
  EXPECT_EQ(MatchContainerConfig(configs, "c1", "")->source_path, "3");
}

TEST(MatchContainerConfigTest, NoMatchIsNull) {
  const std::vector<ContainerConfig> configs = {Config({"batch-*"}, {"web"}, "1")};
  EXPECT_EQ(MatchContainerConfig(configs, "c1", "db"), nullptr);
  EXPECT_EQ(MatchContainerConfig({}, "c1", "db"), nullptr);
}

TEST(MatchContainerConfigTest, EmptyNameMatchesNoNameGlob) {
  const std::vector<ContainerConfig> configs = {Config({}, {"*"}, "1")};
  EXPECT_EQ(MatchContainerConfig(configs, "c1", ""), nullptr);
  EXPECT_NE(MatchContainerConfig(configs, "c1", "x"), nullptr);
}

TEST(MatchContainerConfigTest, GlobSyntax) {
  const std::vector<ContainerConfig> configs = {Config({"job-[0-9]?"}, {}, "1")};
  EXPECT_NE(MatchContainerConfig(configs, "job-1a", ""), nullptr);
  EXPECT_EQ(MatchContainerConfig(configs, "job-a1", ""), nullptr);
  EXPECT_EQ(MatchContainerConfig(configs, "job-1", ""), nullptr);
  EXPECT_EQ(MatchContainerConfig(configs, "xjob-12", ""), nullptr);  // anchored
}

TEST(ContainerNameFromAnnotationsTest, WellKnownKeysInOrder) {
  EXPECT_EQ(ContainerNameFromAnnotations({}), "");
  EXPECT_EQ(ContainerNameFromAnnotations({{"io.podman.annotations.name", "p"}}), "p");
  EXPECT_EQ(
      ContainerNameFromAnnotations({{"nerdctl/name", "n"}, {"io.podman.annotations.name", "p"}}),
      "n");
  EXPECT_EQ(
      ContainerNameFromAnnotations({{"io.kubernetes.container.name", "k"}, {"nerdctl/name", "n"}}),
      "k");
  EXPECT_EQ(ContainerNameFromAnnotations({{"io.kubernetes.cri.container-name", "cri"},
                                          {"io.kubernetes.container.name", "k"}}),
            "cri");
}

TEST(ContainerNameFromAnnotationsTest, EmptyValueFallsThroughAndUbcKeysAreIgnored) {
  EXPECT_EQ(ContainerNameFromAnnotations(
                {{"io.kubernetes.cri.container-name", ""}, {"nerdctl/name", "n"}}),
            "n");
  EXPECT_EQ(ContainerNameFromAnnotations({{"ubc.name", "u"}, {"name", "x"}}), "");
}

TEST(ContainerConfigTest, LockedpagesIsAVzSize) {
  auto c = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "lockedpages": "8M:16M"})", "a.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->lockedpages.has_value());
  EXPECT_EQ(*c->lockedpages, (BarrierLimit{2048, 4096}));
  auto none = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "privvmpages": "1G"})", "a.json");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->lockedpages.has_value());
  auto bad = ParseContainerConfig(R"({"match": {"ids": ["*"]}, "lockedpages": "1Q"})", "b.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("b.json: /lockedpages (", 0), 0u)
      << bad.status().message();
}

}  // namespace
}  // namespace ubc
