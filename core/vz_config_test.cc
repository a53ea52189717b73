#include "core/vz_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/container_config.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = UBC_SOURCE_ROOT;

std::vector<VzParameter> MustParse(std::string_view text) {
  Result<std::vector<VzParameter>> p = ParseVzConfig(text);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : std::vector<VzParameter>{};
}

TEST(ParseVzConfig, ShellSyntaxAsVzctlWritesIt) {
  const auto p = MustParse(
      "# comment\n"
      "\n"
      "  PRIVVMPAGES=\"65536:69632\"\n"
      "SHMPAGES='21504:21504'  # trailing comment\n"
      "NUMPROC=240:240\n"
      "NAME=\"my \\\"web\\\" #1\"\r\n"
      "EMPTY=\n"
      "PRIVVMPAGES=\"1G\"\n");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].name, "PRIVVMPAGES");
  EXPECT_EQ(p[0].value, "1G");  // the later assignment wins
  EXPECT_EQ(p[0].line, 3);
  EXPECT_EQ(p[1].value, "21504:21504");
  EXPECT_EQ(p[2].value, "240:240");
  EXPECT_EQ(p[3].value, "my \"web\" #1");
  EXPECT_EQ(p[4].name, "EMPTY");
  EXPECT_EQ(p[4].value, "");
}

TEST(ParseVzConfig, ErrorsNameTheLine) {
  const struct {
    const char* text;
    const char* want;
  } cases[] = {
      {"A=1\nno equals here\n", "line 2: no '=' after no"},
      {"A=\"open\n", "line 1: A: unterminated quote"},
      {"A=two words\n", "line 1: A: unquoted blank in the value"},
      {"=1\n", "line 1: expected NAME=value"},
      {"9A=1\n", "line 1: expected NAME=value"},
  };
  for (const auto& c : cases) {
    Result<std::vector<VzParameter>> p = ParseVzConfig(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.status().message().rfind(c.want, 0), 0u) << p.status().message();
  }
}

TEST(ConvertVzConfig, TheBasicSampleBecomesAValidContainersDFile) {
  const auto params = MustParse(ReadFileForTest(kRoot / "tests/fixtures/vz/ve-basic.conf"));
  Result<VzConversion> out = ConvertVzConfig(params, "101");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->mapped,
            (std::vector<std::string>{"NUMPROC", "PRIVVMPAGES", "LOCKEDPAGES", "SHMPAGES"}));
  // Every other parameter is reported, with why.
  EXPECT_EQ(out->not_mapped.size(), params.size() - 4 - 1);  // NAME matches
  EXPECT_NE(std::find_if(out->not_mapped.begin(), out->not_mapped.end(),
                         [](const std::string& s) { return s.rfind("KMEMSIZE: ", 0) == 0; }),
            out->not_mapped.end());
  Result<ContainerConfig> cfg = ParseContainerConfig(out->json_text, "vz-101.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message() << "\n" << out->json_text;
  EXPECT_EQ(cfg->id_patterns, std::vector<std::string>{"101"});
  EXPECT_EQ(cfg->name_patterns, std::vector<std::string>{"web1"});
  EXPECT_EQ(cfg->privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(cfg->shmpages, (BarrierLimit{21504, 21504}));
  EXPECT_EQ(cfg->lockedpages, (BarrierLimit{256, 256}));
  EXPECT_EQ(cfg->numproc, (BarrierLimit{240, 240}));
}

TEST(ConvertVzConfig, SuffixesUnlimitedAndMeminfo) {
  const auto params = MustParse(ReadFileForTest(kRoot / "tests/fixtures/vz/ve-light.conf"));
  Result<VzConversion> out = ConvertVzConfig(params, "202");
  ASSERT_TRUE(out.ok()) << out.status().message();
  Result<ContainerConfig> cfg = ParseContainerConfig(out->json_text, "vz-202.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message() << "\n" << out->json_text;
  EXPECT_EQ(cfg->privvmpages, (BarrierLimit{6144, 7168}));  // 24M:28M
  EXPECT_EQ(cfg->shmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_EQ(cfg->numproc, (BarrierLimit{64, 64}));
  ASSERT_TRUE(cfg->meminfo.has_value());
  EXPECT_EQ(*cfg->meminfo, (MeminfoMode{MeminfoMode::Kind::kPages, 32768}));
  EXPECT_EQ(cfg->name_patterns, std::vector<std::string>{"light-1"});
}

TEST(ConvertVzConfig, VswapSamplesCarryOnlyUnlimitedCountersAndSaySo) {
  const auto params = MustParse(ReadFileForTest(kRoot / "tests/fixtures/vz/ve-vswap-256m.conf"));
  Result<VzConversion> out = ConvertVzConfig(params, "303");
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_NE(std::find_if(out->not_mapped.begin(), out->not_mapped.end(),
                         [](const std::string& s) { return s.rfind("PHYSPAGES: ", 0) == 0; }),
            out->not_mapped.end());
  EXPECT_NE(std::find_if(out->not_mapped.begin(), out->not_mapped.end(),
                         [](const std::string& s) { return s.rfind("SWAPPAGES: ", 0) == 0; }),
            out->not_mapped.end());
  Result<ContainerConfig> cfg = ParseContainerConfig(out->json_text, "vz-303.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->privvmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_TRUE(cfg->name_patterns.empty());
}

TEST(ConvertVzConfig, BadValuesAndNothingToMapAreErrors) {
  Result<VzConversion> bad = ConvertVzConfig(MustParse("PRIVVMPAGES=\"12Q\"\n"), "1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("PRIVVMPAGES (line 1): ", 0), 0u)
      << bad.status().message();
  Result<VzConversion> count = ConvertVzConfig(MustParse("NUMPROC=\"1K\"\n"), "1");
  ASSERT_FALSE(count.ok());
  Result<VzConversion> nothing = ConvertVzConfig(MustParse("DISKSPACE=\"1G\"\n"), "1");
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.status().message().find("nothing to write"), std::string::npos);
}

}  // namespace
}  // namespace ubc
