#include "core/container_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

const fs::path kMessages = fs::path(UBC_SOURCE_ROOT) / "tests/fixtures/messages";

// A missing fixture is a failure naming it (ReadFileForTest).
std::string ReadFixture(const std::string& name) { return ReadFileForTest(kMessages / name); }

Result<ContainerProcessState> ParseFixture(const std::string& name) {
  return ParseContainerProcessState(ReadFixture(name));
}

TEST(ContainerStateTest, RuncCreate) {
  auto s = ParseFixture("runc_create.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->oci_version, "1.0.2-dev");
  EXPECT_EQ(s->fds, (std::vector<std::string>{"seccompFd"}));
  EXPECT_EQ(s->SeccompFdIndex(), 0u);
  EXPECT_EQ(s->pid, 4242);
  EXPECT_EQ(s->metadata, "");
  EXPECT_EQ(s->state_oci_version, "1.0.2-dev");
  EXPECT_EQ(s->id, "c1");
  EXPECT_EQ(s->status, "creating");
  EXPECT_EQ(s->state_pid, 4242);
  EXPECT_EQ(s->bundle, "/tmp/b");
  EXPECT_EQ(s->annotations, (std::map<std::string, std::string>{{"ubc.privvmpages", "1024:2048"}}));
}

TEST(ContainerStateTest, RuncExecCarriesExecPidAndInitPid) {
  auto s = ParseFixture("runc_exec.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->status, "running");
  EXPECT_EQ(s->pid, 5001);
  EXPECT_EQ(s->state_pid, 4242);
  EXPECT_EQ(s->id, "c1");
  EXPECT_EQ(s->metadata, "");  // absent
}

TEST(ContainerStateTest, CrunCreatePrettyPrinted) {
  auto s = ParseFixture("crun_create.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->oci_version, "0.2.0");
  EXPECT_EQ(s->id, "ubc-test-crun-1");
  EXPECT_EQ(s->status, "creating");
  EXPECT_EQ(s->pid, 31337);
  EXPECT_EQ(s->bundle, "/var/tmp/ubc-test/bundle");
  EXPECT_EQ(s->annotations.at("ubc.profile"), "openvz");
  EXPECT_EQ(s->annotations.size(), 2u);
}

TEST(ContainerStateTest, CrunExecHasZeroPidsAndDotBundle) {
  auto s = ParseFixture("crun_exec.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->pid, 0);
  EXPECT_EQ(s->state_pid, 0);
  EXPECT_EQ(s->bundle, ".");
  EXPECT_EQ(s->status, "running");
  EXPECT_TRUE(s->annotations.empty());
}

TEST(ContainerStateTest, PodmanAnnotations) {
  auto s = ParseFixture("podman_with_annotations.json");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->metadata, "ubc");
  EXPECT_EQ(s->id.size(), 64u);
  EXPECT_EQ(s->annotations.size(), 9u);
  EXPECT_EQ(s->annotations.at("io.podman.annotations.name"), "web-frontend");
  EXPECT_EQ(s->annotations.at("ubc.privvmpages"), "65536:69632");
}

TEST(ContainerStateTest, MinimalMessage) {
  auto s =
      ParseContainerProcessState(R"({"fds":["seccompFd"],"state":{"id":"x","status":"creating"}})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->oci_version, "");
  EXPECT_EQ(s->pid, 0);
  EXPECT_EQ(s->bundle, "");
}

TEST(ContainerStateTest, SeccompFdIndexAmongOtherFds) {
  auto s = ParseContainerProcessState(
      R"({"fds":["pidFd","seccompFd"],"state":{"id":"x","status":"creating"}})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->SeccompFdIndex(), 1u);
  ContainerProcessState empty;
  EXPECT_EQ(empty.SeccompFdIndex(), std::nullopt);
}

TEST(ContainerStateTest, UnknownFieldsAreIgnored) {
  auto s = ParseContainerProcessState(
      R"({"fds":["seccompFd"],"future":1,"state":{"id":"x","status":"creating","extra":[1]}})");
  EXPECT_TRUE(s.ok()) << s.status().message();
}

TEST(ContainerStateTest, NullAnnotationsAreNone) {
  auto s = ParseContainerProcessState(
      R"({"fds":["seccompFd"],"state":{"id":"x","status":"creating","annotations":null}})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->annotations.empty());
}

struct InvalidCase {
  const char* file;
  const char* message;
};

TEST(ContainerStateTest, InvalidFixtures) {
  const InvalidCase cases[] = {
      {"invalid/no_seccomp_fd.json",
       "container process state: fds: must name \"seccompFd\" exactly once, found 0"},
      {"invalid/two_seccomp_fds.json",
       "container process state: fds: must name \"seccompFd\" exactly once, found 2"},
      {"invalid/fds_not_array.json", "container process state: fds: must be an array of strings"},
      {"invalid/missing_id.json", "container process state: state.id: missing"},
      {"invalid/id_with_slash.json", "container process state: state.id: contains '/': \"../etc\""},
      {"invalid/annotation_number.json",
       "container process state: state.annotations[\"ubc.privvmpages\"]: must be a string"},
      {"invalid/missing_status.json", "container process state: state.status: missing"},
      {"invalid/missing_state.json", "container process state: state: missing"},
      {"invalid/negative_pid.json", "container process state: pid: out of range: -1"},
      {"invalid/json_array.json", "container process state: not a JSON object"},
  };
  for (const InvalidCase& c : cases) {
    auto s = ParseFixture(c.file);
    ASSERT_FALSE(s.ok()) << c.file;
    EXPECT_EQ(s.status().message(), c.message) << c.file;
  }
}

TEST(ContainerStateTest, NotJson) {
  auto s = ParseFixture("invalid/not_json.txt");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(
      s.status().message().rfind("container process state: invalid JSON: parse error at line 1", 0),
      0u)
      << s.status().message();
  auto t = ParseFixture("invalid/truncated.json");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message().rfind("container process state: invalid JSON: ", 0), 0u);
  auto e = ParseContainerProcessState("");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message().rfind("container process state: invalid JSON: ", 0), 0u);
}

Result<ContainerProcessState> WithState(const std::string& state_members) {
  return ParseContainerProcessState(R"({"fds":["seccompFd"],"state":{)" + state_members + "}}");
}

TEST(ContainerStateTest, IdChecks) {
  EXPECT_EQ(WithState(R"("id":"","status":"creating")").status().message(),
            "container process state: state.id: must not be empty");
  EXPECT_EQ(WithState(R"("id":5,"status":"creating")").status().message(),
            "container process state: state.id: must be a string");
  EXPECT_EQ(WithState(R"("id":"a\nb","status":"creating")").status().message(),
            "container process state: state.id: contains a control character: \"a\\nb\"");
  EXPECT_EQ(WithState(R"("id":"a\u007fb","status":"creating")").status().message(),
            "container process state: state.id: contains a control character: \"a\u007fb\"");
  EXPECT_EQ(WithState(R"("id":"..","status":"creating")").status().message(),
            "container process state: state.id: invalid id \"..\"");
  EXPECT_EQ(WithState(R"("id":".","status":"creating")").status().message(),
            "container process state: state.id: invalid id \".\"");
  EXPECT_EQ(WithState(R"("id":")" + std::string(1025, 'a') + R"(","status":"creating")")
                .status()
                .message(),
            "container process state: state.id: longer than 1024 bytes");
  auto ok = WithState(R"("id":")" + std::string(1024, 'a') + R"(","status":"creating")");
  EXPECT_TRUE(ok.ok()) << ok.status().message();
  auto dots = WithState(R"("id":"a..b","status":"creating")");
  EXPECT_TRUE(dots.ok()) << dots.status().message();
}

TEST(ContainerStateTest, TypeChecks) {
  EXPECT_EQ(WithState(R"("id":"x","status":1)").status().message(),
            "container process state: state.status: must be a string");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","pid":"1")").status().message(),
            "container process state: state.pid: must be an integer");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","pid":1.5)").status().message(),
            "container process state: state.pid: must be an integer");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","pid":4294967296)").status().message(),
            "container process state: state.pid: out of range: 4294967296");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","bundle":null)").status().message(),
            "container process state: state.bundle: must be a string");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","annotations":["a"])").status().message(),
            "container process state: state.annotations: must be an object of strings");
  EXPECT_EQ(WithState(R"("id":"x","status":"creating","ociVersion":1)").status().message(),
            "container process state: state.ociVersion: must be a string");
  EXPECT_EQ(ParseContainerProcessState(
                R"({"fds":["seccompFd"],"metadata":{},"state":{"id":"x","status":"s"}})")
                .status()
                .message(),
            "container process state: metadata: must be a string");
  EXPECT_EQ(
      ParseContainerProcessState(R"({"fds":["seccompFd", 3],"state":{"id":"x","status":"s"}})")
          .status()
          .message(),
      "container process state: fds: must be an array of strings");
  EXPECT_EQ(ParseContainerProcessState(R"({"fds":["seccompFd"],"state":"x"})").status().message(),
            "container process state: state: must be an object");
  EXPECT_EQ(ParseContainerProcessState(R"({"state":{"id":"x","status":"s"}})").status().message(),
            "container process state: fds: missing");
  auto max_pid = WithState(R"("id":"x","status":"creating","pid":2147483647)");
  ASSERT_TRUE(max_pid.ok());
  EXPECT_EQ(max_pid->state_pid, 2147483647);
}

}  // namespace
}  // namespace ubc
