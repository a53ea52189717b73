#include "core/oci_config_patch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rule_profile.h"
#include "core/seccomp_profile_model.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = UBC_SOURCE_ROOT;

// `runc spec` of runc 1.1.5, tabs and all: no seccomp profile, no annotations.
std::string RuncSpec() {
  return ReadFileForTest(kRoot / "tests/fixtures/hook/config/runc_spec.json");
}

std::string WithAnnotations(const json& annotations) {
  json doc = json::parse(RuncSpec());
  doc["annotations"] = annotations;
  return doc.dump(1, '\t');
}

const SupervisorConfig& Ubcd() {
  static const SupervisorConfig config = *DefaultSupervisorConfig();
  return config;
}

HookSettings Settings() {
  HookSettings s;
  s.listener_path = "/run/ubc/test.sock";
  return s;
}

PatchOutcome MustPatch(std::string_view text, const HookSettings& settings = Settings(),
                       const std::vector<ContainerConfig>& configs = {}, std::string_view id = "") {
  Result<PatchOutcome> r = PatchOciConfig(text, settings, configs, Ubcd(), id);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : PatchOutcome{};
}

std::string PatchError(std::string_view text, const HookSettings& settings = Settings(),
                       const std::vector<ContainerConfig>& configs = {}) {
  Result<PatchOutcome> r = PatchOciConfig(text, settings, configs, Ubcd(), "");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

ContainerConfig FileMatching(std::vector<std::string> ids, std::vector<std::string> names) {
  ContainerConfig c;
  c.source_path = "/etc/ubc/containers.d/10-test.json";
  c.id_patterns = std::move(ids);
  c.name_patterns = std::move(names);
  return c;
}

TEST(OciConfigPatchTest, NotOptedInIsByteForByteUnchanged) {
  const std::string text = RuncSpec();
  PatchOutcome out = MustPatch(text);
  EXPECT_FALSE(out.patched);
  EXPECT_EQ(out.output_text, text);
  EXPECT_EQ(out.opted_in_by, "");

  const std::string odd = "  {\"ociVersion\":\"1.0.2\" ,\"annotations\":{\"x\":\"y\"}}\n\n";
  EXPECT_EQ(MustPatch(odd).output_text, odd);  // not opted in: no "linux" needed either
}

TEST(OciConfigPatchTest, AnnotatedContainerGetsNotifyRulesAndListener) {
  PatchOutcome out = MustPatch(WithAnnotations({{"ubc.privvmpages", "256M:272M"}}));
  ASSERT_TRUE(out.patched);
  EXPECT_EQ(out.opted_in_by, "annotation");
  json doc = json::parse(out.output_text);
  const json& seccomp = doc["linux"]["seccomp"];
  EXPECT_EQ(seccomp["listenerPath"], "/run/ubc/test.sock");
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ALLOW");
  Result<SeccompProfileModel> model = SeccompProfileModel::Create(seccomp);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->Evaluate("mmap", {0, 4096, 3, 0x22, ~0ull, 0}).action, "SCMP_ACT_NOTIFY");
  EXPECT_EQ(model->Evaluate("mmap", {0, 4096, 1, 0x02, 3, 0}).action, "SCMP_ACT_ALLOW");
  EXPECT_EQ(model->Evaluate("read", {}).action, "SCMP_ACT_ALLOW");
  // The kernel bounds come from the 272 MiB limit (kernel_bounds_test.cc has the rules).
  EXPECT_EQ(out.bounds.data_bytes, uint64_t{272} << 20);
  EXPECT_EQ(doc["process"]["rlimits"],
            json::parse(R"([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                            {"type": "RLIMIT_DATA", "hard": 285212672, "soft": 285212672},
                            {"type": "RLIMIT_STACK", "hard": 8388608, "soft": 8388608}])"));
  EXPECT_EQ(doc["linux"]["resources"]["memory"]["limit"], (uint64_t{2 * 272 + 64}) << 20);
  // Everything else is kept (runc's tmpfs mounts are 64 MiB, below the bound).
  json before = json::parse(WithAnnotations({{"ubc.privvmpages", "256M:272M"}}));
  doc["linux"].erase("seccomp");
  doc["linux"]["resources"].erase("memory");
  doc["process"]["rlimits"] = before["process"]["rlimits"];
  EXPECT_EQ(doc, before);
}

uint64_t DataRlimitOf(const PatchOutcome& out) {
  const json doc = json::parse(out.output_text);
  for (const json& r : doc["process"]["rlimits"]) {
    if (r["type"] == "RLIMIT_DATA") return r["hard"].get<uint64_t>();
  }
  return 0;
}

TEST(OciConfigPatchTest, KernelBoundsFollowTheLimitUbcdWillResolve) {
  // Annotation first, then the process environment, a containers.d file, ubcd's defaults.
  EXPECT_EQ(DataRlimitOf(MustPatch(WithAnnotations({{"ubc.privvmpages", "100000:200000"}}))),
            200000u * 4096);
  json env_doc = json::parse(RuncSpec());
  env_doc["process"]["env"].push_back("UBC_PRIVVMPAGES=300000:400000");
  EXPECT_EQ(DataRlimitOf(MustPatch(env_doc.dump())), 400000u * 4096);

  ContainerConfig file;
  file.source_path = "/etc/ubc/containers.d/web.json";
  file.id_patterns = {"web-1"};
  file.privvmpages = BarrierLimit{500000, 600000};
  EXPECT_EQ(DataRlimitOf(MustPatch(RuncSpec(), Settings(), {file}, "web-1")), 600000u * 4096);
  // The file's limit, though only the profile came from an annotation.
  EXPECT_EQ(DataRlimitOf(MustPatch(WithAnnotations({{"ubc.profile", "openvz"}}), Settings(), {file},
                                   "web-1")),
            600000u * 4096);

  HookSettings all = Settings();
  all.opt_in = OptIn::kAll;
  // (the default's limit, or the floor the runtime needs when that is higher)
  EXPECT_EQ(DataRlimitOf(MustPatch(RuncSpec(), all)),
            std::max(Ubcd().default_privvmpages.limit_pages * 4096, uint64_t{256} << 20));
}

TEST(OciConfigPatchTest, NoKernelBoundsWhenUnlimitedOrDisabled) {
  PatchOutcome unlimited = MustPatch(WithAnnotations({{"ubc.privvmpages", "unlimited"}}));
  ASSERT_TRUE(unlimited.patched);
  EXPECT_EQ(DataRlimitOf(unlimited), 0u);
  EXPECT_FALSE(json::parse(unlimited.output_text)["linux"]["resources"].contains("memory"));

  HookSettings off = Settings();
  off.kernel_bounds.enabled = false;
  PatchOutcome disabled = MustPatch(WithAnnotations({{"ubc.privvmpages", "1000:2000"}}), off);
  ASSERT_TRUE(disabled.patched);
  EXPECT_EQ(DataRlimitOf(disabled), 0u);
}

TEST(OciConfigPatchTest, MalformedRlimitsAreAnErrorNamingTheField) {
  json doc = json::parse(WithAnnotations({{"ubc.privvmpages", "1000:2000"}}));
  doc["process"]["rlimits"] =
      json::parse(R"([{"type": "RLIMIT_DATA", "hard": "lots", "soft": 1}])");
  EXPECT_EQ(PatchError(doc.dump()),
            "config.json: process.rlimits[0].hard: missing or not a non-negative integer");
  // Nobody opted in: not judged, returned as is.
  doc.erase("annotations");
  EXPECT_FALSE(MustPatch(doc.dump()).patched);
}

TEST(OciConfigPatchTest, ExistingProfileIsMerged) {
  json doc = json::parse(WithAnnotations({{"ubc.profile", "openvz"}}));
  doc["linux"]["seccomp"] =
      json::parse(ReadFileForTest(kRoot / "tests/fixtures/hook/seccomp/docker_style.json"));
  PatchOutcome out = MustPatch(doc.dump());
  ASSERT_TRUE(out.patched);
  const json patched = json::parse(out.output_text);
  const json& seccomp = patched["linux"]["seccomp"];
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
  Result<SeccompProfileModel> model = SeccompProfileModel::Create(seccomp);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->Evaluate("brk", {0x1000}).action, "SCMP_ACT_NOTIFY");
  EXPECT_EQ(model->Evaluate("brk", {0}).action, "SCMP_ACT_ALLOW");
  EXPECT_EQ(model->Evaluate("clone", {0x10000011}).action, "SCMP_ACT_ERRNO");  // CLONE_NEWUSER
  EXPECT_EQ(model->Evaluate("kexec_load", {}).action, "SCMP_ACT_ERRNO");
}

TEST(OciConfigPatchTest, PatchingAPatchedConfigChangesNothing) {
  json doc = json::parse(WithAnnotations({{"ubc.privvmpages", "1000"}}));
  doc["linux"]["seccomp"] =
      json::parse(ReadFileForTest(kRoot / "tests/fixtures/hook/seccomp/docker_style.json"));
  PatchOutcome once = MustPatch(doc.dump());
  PatchOutcome twice = MustPatch(once.output_text);
  EXPECT_TRUE(twice.patched);
  EXPECT_EQ(twice.output_text, once.output_text);
}

TEST(OciConfigPatchTest, MalformedJsonNamesTheByte) {
  EXPECT_EQ(PatchError("{\"ociVersion\": \"1.0\",, }"), "config.json: invalid JSON at byte 22");
  EXPECT_EQ(PatchError(""), "config.json: invalid JSON at byte 1");
  EXPECT_EQ(PatchError("[1, 2]"), "config.json: not a JSON object");
}

TEST(OciConfigPatchTest, OptedInConfigWithoutLinuxIsAnError) {
  EXPECT_EQ(PatchError(R"({"ociVersion": "1.0.2", "annotations": {"ubc.profile": "bc2006"}})"),
            "config.json: linux: missing (not a Linux container)");
  EXPECT_EQ(PatchError(R"({"linux": [], "annotations": {"ubc.profile": "bc2006"}})"),
            "config.json: linux: not an object");
}

TEST(OciConfigPatchTest, BadAnnotationsAreErrorsNamingThem) {
  EXPECT_EQ(PatchError(WithAnnotations({{"ubc.privvmpages", "12Q"}}))
                .rfind("config.json: annotation ubc.privvmpages=\"12Q\": ", 0),
            0u);
  EXPECT_EQ(PatchError(WithAnnotations({{"ubc.profile", "linux"}}))
                .rfind("config.json: annotation ubc.profile=\"linux\": unknown profile", 0),
            0u);
  EXPECT_EQ(PatchError(WithAnnotations({{"ubc.privvmpage", "1000"}}))
                .rfind("config.json: annotation ubc.privvmpage: unknown ubc annotation", 0),
            0u);
  EXPECT_EQ(PatchError(WithAnnotations({{"other", 5}})),
            "config.json: annotations[\"other\"]: not a string");
  EXPECT_EQ(PatchError(WithAnnotations(json::array())), "config.json: annotations: not an object");
}

TEST(OciConfigPatchTest, EnvironmentOptInBecomesAnnotations) {
  json doc = json::parse(RuncSpec());
  doc["process"]["env"].push_back("UBC_PRIVVMPAGES=65536:69632");
  doc["process"]["env"].push_back("UBC_PROFILE=openvz");
  doc["process"]["env"].push_back("UBC_PROFILE=bc2006");  // getenv(3) sees the first one
  PatchOutcome out = MustPatch(doc.dump());
  ASSERT_TRUE(out.patched);
  EXPECT_EQ(out.opted_in_by, "environment");
  json patched = json::parse(out.output_text);
  EXPECT_EQ(patched["annotations"],
            json({{"ubc.privvmpages", "65536:69632"}, {"ubc.profile", "openvz"}}));
  EXPECT_EQ(patched["process"]["env"], doc["process"]["env"]);  // env is left in place
  EXPECT_TRUE(patched["linux"]["seccomp"].is_object());
}

TEST(OciConfigPatchTest, ShmpagesFromTheEnvironmentBoundsTheMemoryCgroup) {
  // Docker passes no annotations: UBC_SHMPAGES is how its containers set shmpages.
  json doc = json::parse(RuncSpec());
  doc["process"]["env"].push_back("UBC_PRIVVMPAGES=64M:80M");
  doc["process"]["env"].push_back("UBC_SHMPAGES=16M");
  PatchOutcome out = MustPatch(doc.dump());
  ASSERT_TRUE(out.patched);
  json patched = json::parse(out.output_text);
  EXPECT_EQ(patched["annotations"],
            json({{"ubc.privvmpages", "64M:80M"}, {"ubc.shmpages", "16M"}}));
  EXPECT_EQ(patched["linux"]["resources"]["memory"]["limit"], (80 + 16 + 64) << 20);
  doc["process"]["env"].back() = "UBC_SHMPAGES=lots";
  EXPECT_EQ(PatchError(doc.dump()).rfind("config.json: process.env UBC_SHMPAGES=\"lots\": ", 0), 0u)
      << PatchError(doc.dump());
}

TEST(OciConfigPatchTest, ExplicitAnnotationsWinOverEnvironment) {
  json doc = json::parse(WithAnnotations({{"ubc.privvmpages", "1000:2000"}, {"a", "b"}}));
  doc["process"]["env"].push_back("UBC_PRIVVMPAGES=12Q");  // overridden, so never judged
  doc["process"]["env"].push_back("UBC_PROFILE=openvz");
  PatchOutcome out = MustPatch(doc.dump());
  ASSERT_TRUE(out.patched);
  EXPECT_EQ(json::parse(out.output_text)["annotations"],
            json({{"ubc.privvmpages", "1000:2000"}, {"ubc.profile", "openvz"}, {"a", "b"}}));
}

TEST(OciConfigPatchTest, BadEnvironmentValueIsAnErrorNamingTheVariable) {
  json doc = json::parse(RuncSpec());
  doc["process"]["env"].push_back("UBC_PRIVVMPAGES=12Q");
  EXPECT_EQ(PatchError(doc.dump()).rfind("config.json: process.env UBC_PRIVVMPAGES=\"12Q\": ", 0),
            0u)
      << PatchError(doc.dump());
  doc = json::parse(RuncSpec());
  doc["process"]["env"] = "PATH=/bin";
  EXPECT_EQ(PatchError(doc.dump()), "config.json: process.env: not an array");
}

TEST(OciConfigPatchTest, ContainersDirMatchByIdOrName) {
  const std::vector<ContainerConfig> by_id = {FileMatching({"batch-*"}, {})};
  PatchOutcome out = MustPatch(RuncSpec(), Settings(), by_id, "batch-7");
  EXPECT_TRUE(out.patched);
  EXPECT_EQ(out.opted_in_by, "containers.d file /etc/ubc/containers.d/10-test.json");
  // No ubc annotations are added: ubcd matches the same file by id.
  EXPECT_FALSE(json::parse(out.output_text).contains("annotations"));
  EXPECT_FALSE(MustPatch(RuncSpec(), Settings(), by_id, "web-1").patched);
  EXPECT_FALSE(MustPatch(RuncSpec(), Settings(), by_id, "").patched);  // precreate: no id

  const std::vector<ContainerConfig> by_name = {FileMatching({}, {"postgres*"})};
  EXPECT_TRUE(MustPatch(WithAnnotations({{"io.podman.annotations.name", "postgres-1"}}), Settings(),
                        by_name, "")
                  .patched);
  EXPECT_FALSE(
      MustPatch(WithAnnotations({{"io.podman.annotations.name", "redis"}}), Settings(), by_name, "")
          .patched);
}

TEST(OciConfigPatchTest, OptInAllPatchesEveryContainer) {
  HookSettings all = Settings();
  all.opt_in = OptIn::kAll;
  PatchOutcome out = MustPatch(RuncSpec(), all);
  EXPECT_TRUE(out.patched);
  EXPECT_EQ(out.opted_in_by, "opt_in all");
}

TEST(OciConfigPatchTest, ProfileErrorsNameConfigAndField) {
  json doc = json::parse(WithAnnotations({{"ubc.profile", "bc2006"}}));
  doc["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                             {"listenerPath", "/run/agent.sock"}};
  EXPECT_EQ(PatchError(doc.dump()).rfind("config.json: linux.seccomp.listenerPath: already set", 0),
            0u);
  doc["linux"]["seccomp"] = "unconfined";
  EXPECT_EQ(PatchError(doc.dump()), "config.json: linux.seccomp: not an object");
}

TEST(OciConfigPatchTest, NullSeccompMeansNoProfile) {
  json doc = json::parse(WithAnnotations({{"ubc.profile", "bc2006"}}));
  doc["linux"]["seccomp"] = nullptr;
  PatchOutcome out = MustPatch(doc.dump());
  EXPECT_EQ(json::parse(out.output_text)["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
}

TEST(OciConfigPatchTest, AFiniteNumprocTrapsEveryCloneAndVfork) {
  constexpr uint64_t kThreadFlags = 0x3d0f00;  // glibc's pthread_create: CLONE_VM and more
  const auto evaluate = [](const PatchOutcome& out, const char* name, uint64_t flags) {
    Result<SeccompProfileModel> model =
        SeccompProfileModel::Create(json::parse(out.output_text)["linux"]["seccomp"]);
    EXPECT_TRUE(model.ok()) << model.status().message();
    return model.ok() ? model->Evaluate(name, {flags, 0, 0, 0, 0, 0}).action : "";
  };
  PatchOutcome plain = MustPatch(WithAnnotations({{"ubc.privvmpages", "256M"}}));
  EXPECT_EQ(evaluate(plain, "clone", kThreadFlags), "SCMP_ACT_ALLOW");
  EXPECT_EQ(evaluate(plain, "vfork", 0), "SCMP_ACT_ALLOW");
  EXPECT_EQ(evaluate(plain, "clone", 0x11), "SCMP_ACT_NOTIFY");  // fork: privvmpages
  PatchOutcome counted = MustPatch(WithAnnotations({{"ubc.numproc", "64"}}));
  EXPECT_EQ(evaluate(counted, "clone", kThreadFlags), "SCMP_ACT_NOTIFY");
  EXPECT_EQ(evaluate(counted, "vfork", 0), "SCMP_ACT_NOTIFY");
  EXPECT_EQ(evaluate(counted, "clone", 0x11), "SCMP_ACT_NOTIFY");
  EXPECT_EQ(json::parse(counted.output_text)["linux"]["resources"]["pids"]["limit"], 64);
  PatchOutcome unlimited = MustPatch(WithAnnotations({{"ubc.numproc", "unlimited"}}));
  EXPECT_EQ(evaluate(unlimited, "clone", kThreadFlags), "SCMP_ACT_ALLOW");
}

TEST(OciConfigPatchTest, SysinfoIsTrappedUnlessMeminfoIsNone) {
  const auto sysinfo = [](const PatchOutcome& out) {
    Result<SeccompProfileModel> model =
        SeccompProfileModel::Create(json::parse(out.output_text)["linux"]["seccomp"]);
    EXPECT_TRUE(model.ok()) << model.status().message();
    return model.ok() ? model->Evaluate("sysinfo", {0x7fff0000, 0, 0, 0, 0, 0}).action : "";
  };
  EXPECT_EQ(sysinfo(MustPatch(WithAnnotations({{"ubc.privvmpages", "256M"}}))), "SCMP_ACT_NOTIFY");
  EXPECT_EQ(sysinfo(MustPatch(WithAnnotations({{"ubc.meminfo", "pages:1024"}}))),
            "SCMP_ACT_NOTIFY");
  EXPECT_EQ(
      sysinfo(MustPatch(WithAnnotations({{"ubc.privvmpages", "256M"}, {"ubc.meminfo", "none"}}))),
      "SCMP_ACT_ALLOW");
  EXPECT_NE(PatchError(WithAnnotations({{"ubc.meminfo", "swap:1"}})).find("ubc.meminfo"),
            std::string::npos);
}

std::vector<json> MountsTo(const PatchOutcome& out, const std::string& destination) {
  std::vector<json> found;
  const json doc = json::parse(out.output_text);
  for (const json& m : doc["mounts"]) {
    if (m.value("destination", "") == destination) found.push_back(m);
  }
  return found;
}

PatchOutcome PatchWithView(std::string_view text, std::string_view dir = "/run/ubc/proc") {
  Result<PatchOutcome> r = PatchOciConfig(text, Settings(), {}, Ubcd(), "", dir);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : PatchOutcome{};
}

TEST(OciConfigPatchTest, TheProcViewIsBoundReadOnlyAfterTheConfigsOwnMounts) {
  const PatchOutcome out = PatchWithView(WithAnnotations({{"ubc.privvmpages", "256M"}}));
  EXPECT_EQ(out.view_mounts, (std::vector<std::string>{"/proc/meminfo", "/dev/user_beancounters"}));
  const json mounts = json::parse(out.output_text)["mounts"];
  const json original = json::parse(RuncSpec())["mounts"];
  ASSERT_EQ(mounts.size(), original.size() + 2);
  EXPECT_EQ(mounts[original.size()], json::parse(R"({"destination": "/proc/meminfo", "type": "bind",
                "source": "/run/ubc/proc/meminfo",
                "options": ["bind", "ro", "nosuid", "nodev", "noexec"]})"));
  EXPECT_EQ(mounts[original.size() + 1]["source"], "/run/ubc/proc/user_beancounters");
  // Patching again adds nothing.
  EXPECT_EQ(PatchWithView(out.output_text).output_text, out.output_text);
}

TEST(OciConfigPatchTest, NoViewMountsWithoutAViewOrUnderMeminfoNone) {
  const std::string annotated = WithAnnotations({{"ubc.privvmpages", "256M"}});
  EXPECT_TRUE(MountsTo(MustPatch(annotated), "/proc/meminfo").empty());
  const PatchOutcome none =
      PatchWithView(WithAnnotations({{"ubc.privvmpages", "256M"}, {"ubc.meminfo", "none"}}));
  EXPECT_TRUE(none.view_mounts.empty());
  EXPECT_TRUE(MountsTo(none, "/proc/meminfo").empty());
  EXPECT_TRUE(MountsTo(none, "/dev/user_beancounters").empty());
  // Not opted in: byte for byte unchanged, view or not.
  EXPECT_EQ(PatchWithView(RuncSpec()).output_text, RuncSpec());
}

TEST(OciConfigPatchTest, AMeminfoMountTheConfigHasIsKept) {
  json doc = json::parse(WithAnnotations({{"ubc.privvmpages", "256M"}}));
  doc["mounts"].push_back({{"destination", "/proc/meminfo"},
                           {"type", "bind"},
                           {"source", "/var/lib/lxcfs/proc/meminfo"},
                           {"options", {"bind"}}});
  const PatchOutcome out = PatchWithView(doc.dump());
  EXPECT_EQ(out.view_mounts, (std::vector<std::string>{"/dev/user_beancounters"}))
      << out.output_text;
  const std::vector<json> meminfo = MountsTo(out, "/proc/meminfo");
  ASSERT_EQ(meminfo.size(), 1u);
  EXPECT_EQ(meminfo[0]["source"], "/var/lib/lxcfs/proc/meminfo");
}

TEST(OciConfigPatchTest, MalformedMountsAreAnErrorNamingTheField) {
  json doc = json::parse(WithAnnotations({{"ubc.privvmpages", "256M"}}));
  doc["mounts"] = "not a list";
  Result<PatchOutcome> r = PatchOciConfig(doc.dump(), Settings(), {}, Ubcd(), "", "/v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mounts: not an array"), std::string::npos)
      << r.status().message();
  doc["mounts"] = json::array({1});
  r = PatchOciConfig(doc.dump(), Settings(), {}, Ubcd(), "", "/v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mounts[0]: not an object"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace ubc
