#include "core/limits_resolver.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

SupervisorConfig Supervisor() {
  SupervisorConfig s;
  s.default_privvmpages = {65536, 69632};
  s.default_profile = &Bc2006Profile();
  return s;
}

ContainerConfig File(std::optional<BarrierLimit> privvmpages, const RuleProfile* profile) {
  ContainerConfig c;
  c.source_path = "/etc/ubc/containers.d/10-a.json";
  c.id_patterns = {"*"};
  c.privvmpages = privvmpages;
  c.profile = profile;
  return c;
}

TEST(LimitsSourceNameTest, Names) {
  EXPECT_STREQ(LimitsSourceName(LimitsSource::kAnnotation), "annotation");
  EXPECT_STREQ(LimitsSourceName(LimitsSource::kConfigFile), "config-file");
  EXPECT_STREQ(LimitsSourceName(LimitsSource::kDefault), "default");
}

TEST(ResolveLimitsTest, NothingSetUsesSupervisorDefaults) {
  ResolvedLimits r = ResolveLimits(UbcAnnotations{}, nullptr, Supervisor());
  EXPECT_EQ(r.privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(r.profile, &Bc2006Profile());
  EXPECT_EQ(r.privvmpages_source, LimitsSource::kDefault);
  EXPECT_EQ(r.privvmpages_source_detail, "default");
  EXPECT_EQ(r.profile_source, LimitsSource::kDefault);
  EXPECT_EQ(r.profile_source_detail, "default");
}

TEST(ResolveLimitsTest, FileBeatsDefault) {
  const ContainerConfig file = File(BarrierLimit{100, 200}, &OpenvzProfile());
  ResolvedLimits r = ResolveLimits(UbcAnnotations{}, &file, Supervisor());
  EXPECT_EQ(r.privvmpages, (BarrierLimit{100, 200}));
  EXPECT_EQ(r.privvmpages_source, LimitsSource::kConfigFile);
  EXPECT_EQ(r.privvmpages_source_detail, "/etc/ubc/containers.d/10-a.json");
  EXPECT_EQ(r.profile, &OpenvzProfile());
  EXPECT_EQ(r.profile_source, LimitsSource::kConfigFile);
  EXPECT_EQ(r.profile_source_detail, "/etc/ubc/containers.d/10-a.json");
}

TEST(ResolveLimitsTest, AnnotationBeatsFile) {
  const ContainerConfig file = File(BarrierLimit{100, 200}, &OpenvzProfile());
  UbcAnnotations a;
  a.privvmpages = BarrierLimit{1, 2};
  a.profile = &Bc2006Profile();
  ResolvedLimits r = ResolveLimits(a, &file, Supervisor());
  EXPECT_EQ(r.privvmpages, (BarrierLimit{1, 2}));
  EXPECT_EQ(r.privvmpages_source, LimitsSource::kAnnotation);
  EXPECT_EQ(r.privvmpages_source_detail, "ubc.privvmpages");
  EXPECT_EQ(r.profile, &Bc2006Profile());
  EXPECT_EQ(r.profile_source, LimitsSource::kAnnotation);
  EXPECT_EQ(r.profile_source_detail, "ubc.profile");
}

TEST(ResolveLimitsTest, EachFieldResolvesOnItsOwn) {
  // The file sets only the profile; the annotation only privvmpages.
  const ContainerConfig file = File(std::nullopt, &OpenvzProfile());
  UbcAnnotations a;
  a.privvmpages = BarrierLimit{5, 6};
  ResolvedLimits r = ResolveLimits(a, &file, Supervisor());
  EXPECT_EQ(r.privvmpages, (BarrierLimit{5, 6}));
  EXPECT_EQ(r.privvmpages_source, LimitsSource::kAnnotation);
  EXPECT_EQ(r.profile, &OpenvzProfile());
  EXPECT_EQ(r.profile_source, LimitsSource::kConfigFile);

  // A file with only privvmpages leaves the profile to the default.
  const ContainerConfig limits_only = File(BarrierLimit{7, 8}, nullptr);
  ResolvedLimits d = ResolveLimits(UbcAnnotations{}, &limits_only, Supervisor());
  EXPECT_EQ(d.privvmpages_source, LimitsSource::kConfigFile);
  EXPECT_EQ(d.profile, &Bc2006Profile());
  EXPECT_EQ(d.profile_source, LimitsSource::kDefault);
}

TEST(ResolveLimitsTest, ShmpagesResolvesOnItsOwn) {
  ResolvedLimits none = ResolveLimits(UbcAnnotations{}, nullptr, Supervisor());
  EXPECT_EQ(none.shmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_EQ(none.shmpages_source, LimitsSource::kDefault);
  EXPECT_EQ(none.shmpages_source_detail, "default");

  SupervisorConfig sup = Supervisor();
  sup.default_shmpages = {10, 20};
  ContainerConfig file = File(BarrierLimit{100, 200}, nullptr);
  file.shmpages = BarrierLimit{30, 40};
  ResolvedLimits from_file = ResolveLimits(UbcAnnotations{}, &file, sup);
  EXPECT_EQ(from_file.shmpages, (BarrierLimit{30, 40}));
  EXPECT_EQ(from_file.shmpages_source, LimitsSource::kConfigFile);
  EXPECT_EQ(from_file.shmpages_source_detail, "/etc/ubc/containers.d/10-a.json");

  UbcAnnotations a;
  a.shmpages = BarrierLimit{1, 2};
  ResolvedLimits from_annotation = ResolveLimits(a, &file, sup);
  EXPECT_EQ(from_annotation.shmpages, (BarrierLimit{1, 2}));
  EXPECT_EQ(from_annotation.shmpages_source, LimitsSource::kAnnotation);
  EXPECT_EQ(from_annotation.shmpages_source_detail, "ubc.shmpages");
  // The file's privvmpages still applies: each field resolves on its own.
  EXPECT_EQ(from_annotation.privvmpages, (BarrierLimit{100, 200}));

  ContainerConfig file_without = File(std::nullopt, nullptr);
  ResolvedLimits from_default = ResolveLimits(UbcAnnotations{}, &file_without, sup);
  EXPECT_EQ(from_default.shmpages, (BarrierLimit{10, 20}));
  EXPECT_EQ(from_default.shmpages_source, LimitsSource::kDefault);
}

TEST(ResolveLimitsTest, NumprocResolvesOnItsOwn) {
  ResolvedLimits none = ResolveLimits(UbcAnnotations{}, nullptr, Supervisor());
  EXPECT_EQ(none.numproc, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_EQ(none.numproc_source, LimitsSource::kDefault);
  EXPECT_EQ(none.numproc_source_detail, "default");
  EXPECT_EQ(ResolvedLimits{}.numproc, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_EQ(ResolvedLimits{}.numproc_source_detail, "default");

  SupervisorConfig sup = Supervisor();
  sup.default_numproc = {100, 120};  // tasks
  ContainerConfig file = File(BarrierLimit{100, 200}, nullptr);
  file.numproc = BarrierLimit{30, 40};
  ResolvedLimits from_file = ResolveLimits(UbcAnnotations{}, &file, sup);
  EXPECT_EQ(from_file.numproc, (BarrierLimit{30, 40}));
  EXPECT_EQ(from_file.numproc_source, LimitsSource::kConfigFile);
  EXPECT_EQ(from_file.numproc_source_detail, "/etc/ubc/containers.d/10-a.json");
  EXPECT_EQ(from_file.shmpages_source, LimitsSource::kDefault);

  UbcAnnotations a;
  a.numproc = BarrierLimit{1, 2};
  ResolvedLimits from_annotation = ResolveLimits(a, &file, sup);
  EXPECT_EQ(from_annotation.numproc, (BarrierLimit{1, 2}));
  EXPECT_EQ(from_annotation.numproc_source, LimitsSource::kAnnotation);
  EXPECT_EQ(from_annotation.numproc_source_detail, "ubc.numproc");
  // The file's privvmpages still applies: each field resolves on its own.
  EXPECT_EQ(from_annotation.privvmpages, (BarrierLimit{100, 200}));
  EXPECT_EQ(from_annotation.privvmpages_source, LimitsSource::kConfigFile);

  ContainerConfig file_without = File(std::nullopt, nullptr);
  ResolvedLimits from_default = ResolveLimits(UbcAnnotations{}, &file_without, sup);
  EXPECT_EQ(from_default.numproc, (BarrierLimit{100, 120}));
  EXPECT_EQ(from_default.numproc_source, LimitsSource::kDefault);
  EXPECT_EQ(from_default.numproc_source_detail, "default");
}

TEST(ResolveLimitsTest, NumprocFromParsedInputs) {
  auto annotations = ParseUbcAnnotations({{"ubc.numproc", "64"}});
  auto file = ParseContainerConfig(R"({"match": {"ids": ["c*"]}, "numproc": "10:20"})", "f.json");
  auto supervisor = ParseSupervisorConfig(R"({"defaults": {"numproc": "500"}})", "u.json");
  ASSERT_TRUE(annotations.ok() && file.ok() && supervisor.ok());
  EXPECT_EQ(ResolveLimits(*annotations, &*file, *supervisor).numproc, (BarrierLimit{64, 64}));
  ResolvedLimits r = ResolveLimits(UbcAnnotations{}, &*file, *supervisor);
  EXPECT_EQ(r.numproc, (BarrierLimit{10, 20}));
  EXPECT_EQ(r.numproc_source_detail, "f.json");
  EXPECT_EQ(ResolveLimits(UbcAnnotations{}, nullptr, *supervisor).numproc,
            (BarrierLimit{500, 500}));
}

TEST(LimitsChangeTest, AnyIncludesNumproc) {
  LimitsChange change;
  EXPECT_FALSE(change.any());
  change.numproc = BarrierLimit{10, 20};
  EXPECT_TRUE(change.any());
  EXPECT_FALSE(change.privvmpages.has_value());
  EXPECT_FALSE(change.shmpages.has_value());
}

TEST(ResolveLimitsTest, AnnotationProfileWithDefaultLimits) {
  UbcAnnotations a;
  a.profile = &OpenvzProfile();
  ResolvedLimits r = ResolveLimits(a, nullptr, Supervisor());
  EXPECT_EQ(r.privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(r.privvmpages_source, LimitsSource::kDefault);
  EXPECT_EQ(r.profile, &OpenvzProfile());
  EXPECT_EQ(r.profile_source, LimitsSource::kAnnotation);
}

TEST(ResolveLimitsTest, SupervisorWithoutProfileFallsBackToBuiltInDefault) {
  SupervisorConfig s = Supervisor();
  s.default_profile = nullptr;
  ResolvedLimits r = ResolveLimits(UbcAnnotations{}, nullptr, s);
  EXPECT_EQ(r.profile, &DefaultRuleProfile());
  EXPECT_EQ(r.profile_source, LimitsSource::kDefault);
}

TEST(ResolveLimitsTest, ParsedInputsEndToEnd) {
  auto annotations = ParseUbcAnnotations({{"ubc.profile", "openvz"}});
  auto file = ParseContainerConfig(R"({"match": {"ids": ["c*"]}, "privvmpages": "1G"})", "f.json");
  auto supervisor = DefaultSupervisorConfig();
  ASSERT_TRUE(annotations.ok() && file.ok() && supervisor.ok());
  ResolvedLimits r = ResolveLimits(*annotations, &*file, *supervisor);
  EXPECT_EQ(r.privvmpages, (BarrierLimit{262144, 262144}));
  EXPECT_EQ(r.privvmpages_source_detail, "f.json");
  EXPECT_EQ(r.profile, &OpenvzProfile());
  EXPECT_EQ(r.profile_source_detail, "ubc.profile");
}

TEST(ResolveLimitsTest, LockedpagesResolvesOnItsOwn) {
  ResolvedLimits none = ResolveLimits(UbcAnnotations{}, nullptr, Supervisor());
  EXPECT_EQ(none.lockedpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_EQ(none.lockedpages_source, LimitsSource::kDefault);
  EXPECT_EQ(none.lockedpages_source_detail, "default");

  SupervisorConfig sup = Supervisor();
  sup.default_lockedpages = {100, 120};
  ContainerConfig file = File(BarrierLimit{100, 200}, nullptr);
  file.lockedpages = BarrierLimit{30, 40};
  ResolvedLimits from_file = ResolveLimits(UbcAnnotations{}, &file, sup);
  EXPECT_EQ(from_file.lockedpages, (BarrierLimit{30, 40}));
  EXPECT_EQ(from_file.lockedpages_source, LimitsSource::kConfigFile);
  EXPECT_EQ(from_file.lockedpages_source_detail, "/etc/ubc/containers.d/10-a.json");

  UbcAnnotations a;
  a.lockedpages = BarrierLimit{1, 2};
  ResolvedLimits from_annotation = ResolveLimits(a, &file, sup);
  EXPECT_EQ(from_annotation.lockedpages, (BarrierLimit{1, 2}));
  EXPECT_EQ(from_annotation.lockedpages_source, LimitsSource::kAnnotation);
  EXPECT_EQ(from_annotation.lockedpages_source_detail, "ubc.lockedpages");
  EXPECT_EQ(from_annotation.privvmpages_source, LimitsSource::kConfigFile);

  ContainerConfig file_without = File(std::nullopt, nullptr);
  EXPECT_EQ(ResolveLimits(UbcAnnotations{}, &file_without, sup).lockedpages,
            (BarrierLimit{100, 120}));
  LimitsChange change;
  EXPECT_FALSE(change.any());
  change.lockedpages = BarrierLimit{1, 1};
  EXPECT_TRUE(change.any());
}

TEST(ResolveLimitsTest, MeminfoFromParsedInputs) {
  auto annotations = ParseUbcAnnotations({{"ubc.meminfo", "none"}});
  auto file =
      ParseContainerConfig(R"({"match": {"ids": ["c*"]}, "meminfo": "pages:1024"})", "f.json");
  auto supervisor =
      ParseSupervisorConfig(R"({"defaults": {"meminfo": "privvmpages:2"}})", "u.json");
  ASSERT_TRUE(annotations.ok() && file.ok() && supervisor.ok());
  ResolvedLimits a = ResolveLimits(*annotations, &*file, *supervisor);
  EXPECT_EQ(a.meminfo.kind, MeminfoMode::Kind::kNone);
  EXPECT_EQ(a.meminfo_source_detail, "ubc.meminfo");
  ResolvedLimits f = ResolveLimits(UbcAnnotations{}, &*file, *supervisor);
  EXPECT_EQ(f.meminfo, (MeminfoMode{MeminfoMode::Kind::kPages, 1024}));
  EXPECT_EQ(f.meminfo_source, LimitsSource::kConfigFile);
  ResolvedLimits d = ResolveLimits(UbcAnnotations{}, nullptr, *supervisor);
  EXPECT_EQ(d.meminfo, (MeminfoMode{MeminfoMode::Kind::kPrivvmpages, 2}));
  // Built in: privvmpages:1.
  EXPECT_EQ(ResolveLimits(UbcAnnotations{}, nullptr, *DefaultSupervisorConfig()).meminfo,
            MeminfoMode{});
  auto bad = ParseUbcAnnotations({{"ubc.meminfo", "privvmpages:0"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("annotation ubc.meminfo=\"privvmpages:0\": ", 0), 0u)
      << bad.status().message();
  auto bad_file = ParseContainerConfig(R"({"match": {"ids": ["c*"]}, "meminfo": "x"})", "f.json");
  ASSERT_FALSE(bad_file.ok());
  EXPECT_NE(bad_file.status().message().find("f.json: /meminfo"), std::string::npos)
      << bad_file.status().message();
}

}  // namespace
}  // namespace ubc
