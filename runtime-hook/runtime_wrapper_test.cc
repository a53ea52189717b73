#include "runtime-hook/runtime_wrapper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = UBC_SOURCE_ROOT;
constexpr char kListener[] = "/run/ubc-test/ubcd.sock";
// What the fake runtime exits with, so a test knows the exec happened.
constexpr int kFakeRuntimeExit = 42;

std::string AnnotatedSpec() {
  json doc = json::parse(ReadFileForTest(kRoot / "tests/fixtures/hook/config/runc_spec.json"));
  doc["annotations"] = {{"ubc.privvmpages", "256M"}};
  return doc.dump(1, '\t');
}

std::string Lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// One wrapper installation: DIR/ubc-runtime (argv[0]; the binary itself need
// not exist) with DIR/ubc-runtime.json beside it, a fake runtime that records
// its arguments in DIR/args and exits kFakeRuntimeExit, and a bundle DIR/bundle.
class RuntimeWrapperTest : public ::testing::Test {
 protected:
  RuntimeWrapperTest() : dir_("ubc-runtime-wrapper") {
    fake_runtime_ = dir_.Write("fake-runc",
                               "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; "
                               "done > '" +
                                   dir_.Path("args").string() + "'\nexit " +
                                   std::to_string(kFakeRuntimeExit) + "\n");
    EXPECT_EQ(::chmod(fake_runtime_.c_str(), 0755), 0);
    fs::create_directory(dir_.Path("bundle"));
    WriteSettings({{"runtime", fake_runtime_.string()}});
  }

  // ubc-runtime.json: `fields` plus the test's listener and containers.d.
  void WriteSettings(json fields) {
    fields["listener_path"] = kListener;
    fields["containers_dir"] = dir_.Path("containers.d").string();
    dir_.Write("ubc-runtime.json", fields.dump());
  }

  struct Run {
    int exit_code = -1;
    std::string stderr_text;
  };

  // RunRuntimeWrapper in a child process (on success it execs), with stderr
  // in a file and `cwd` as the working directory.
  Run RunWrapper(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    const fs::path err = dir_.Path("stderr");
    const std::string argv0 = dir_.Path("ubc-runtime").string();
    const pid_t child = ::fork();
    if (child < 0) {
      ADD_FAILURE() << "fork failed";
      return {};
    }
    if (child == 0) {
      const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0) ::_exit(100);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(101);
      ::_exit(RunRuntimeWrapper(argv0, args));
    }
    int wstatus = 0;
    Run run;
    if (::waitpid(child, &wstatus, 0) != child || !WIFEXITED(wstatus)) {
      ADD_FAILURE() << "the wrapper's child did not exit normally";
      return run;
    }
    run.exit_code = WEXITSTATUS(wstatus);
    run.stderr_text = ReadFileForTest(err);
    return run;
  }

  bool RuntimeRan() const { return fs::exists(dir_.Path("args")); }
  std::string RuntimeArgs() const { return ReadFileForTest(dir_.Path("args")); }
  fs::path Bundle() const { return dir_.Path("bundle"); }

  TempDir dir_;
  fs::path fake_runtime_;
};

TEST_F(RuntimeWrapperTest, OtherSubcommandsArePassedThroughUntouched) {
  WriteSettings({{"runtime", fake_runtime_.string()}, {"runtime_args", {"--root", "/run/x"}}});
  const Run run = RunWrapper({"--log", "/l.json", "state", "c1"});
  EXPECT_EQ(run.exit_code, kFakeRuntimeExit) << run.stderr_text;
  EXPECT_EQ(RuntimeArgs(), Lines({"--root", "/run/x", "--log", "/l.json", "state", "c1"}));
  EXPECT_EQ(run.stderr_text, "");
}

TEST_F(RuntimeWrapperTest, CreatePatchesTheBundleThenExecsTheRuntime) {
  const fs::path config = dir_.Write("bundle/config.json", AnnotatedSpec());
  const std::vector<std::string> args = {"create",     "--bundle", Bundle().string(),
                                         "--pid-file", "/p",       "c1"};
  const Run run = RunWrapper(args);
  EXPECT_EQ(run.exit_code, kFakeRuntimeExit) << run.stderr_text;
  EXPECT_EQ(RuntimeArgs(), Lines(args));
  const json patched = json::parse(ReadFileForTest(config));
  EXPECT_EQ(patched["linux"]["seccomp"]["listenerPath"], kListener);
}

TEST_F(RuntimeWrapperTest, WithoutBundleTheWorkingDirectoryIsTheBundle) {
  const fs::path config = dir_.Write("bundle/config.json", AnnotatedSpec());
  const Run run = RunWrapper({"run", "-d", "c1"}, Bundle());
  EXPECT_EQ(run.exit_code, kFakeRuntimeExit) << run.stderr_text;
  EXPECT_EQ(json::parse(ReadFileForTest(config))["linux"]["seccomp"]["listenerPath"], kListener);
}

TEST_F(RuntimeWrapperTest, CrunsConfigOptionIsRelativeToTheBundle) {
  const std::string spec = AnnotatedSpec();
  const fs::path config = dir_.Write("bundle/config.json", spec);
  const fs::path alt = dir_.Write("bundle/alt.json", spec);
  const Run run = RunWrapper({"create", "--bundle", Bundle().string(), "-f", "alt.json", "c1"});
  EXPECT_EQ(run.exit_code, kFakeRuntimeExit) << run.stderr_text;
  EXPECT_EQ(json::parse(ReadFileForTest(alt))["linux"]["seccomp"]["listenerPath"], kListener);
  EXPECT_EQ(ReadFileForTest(config), spec);
}

TEST_F(RuntimeWrapperTest, AConfigThatCannotBePatchedStopsTheStart) {
  const fs::path config = dir_.Write("bundle/config.json", "{\"annotations\": ");
  const Run run = RunWrapper({"create", "--bundle", Bundle().string(), "c1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_FALSE(RuntimeRan());
  EXPECT_EQ(run.stderr_text.rfind("ubc-runtime: " + config.string() + ": invalid JSON", 0), 0u)
      << run.stderr_text;
  EXPECT_EQ(ReadFileForTest(config), "{\"annotations\": ");
}

TEST_F(RuntimeWrapperTest, AnUnreadableCommandLineIsPassedThroughWithAWarning) {
  const std::string spec = AnnotatedSpec();
  const fs::path config = dir_.Write("bundle/config.json", spec);
  const std::vector<std::string> args = {"--future-global", "create", "--bundle", Bundle().string(),
                                         "c1"};
  const Run run = RunWrapper(args);
  EXPECT_EQ(run.exit_code, kFakeRuntimeExit) << run.stderr_text;
  EXPECT_EQ(RuntimeArgs(), Lines(args));
  EXPECT_EQ(run.stderr_text.rfind("ubc-runtime: warning: runtime command line: unknown global "
                                  "option --future-global",
                                  0),
            0u)
      << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("passing the call through without ubc"), std::string::npos);
  EXPECT_EQ(ReadFileForTest(config), spec);
}

TEST_F(RuntimeWrapperTest, AMissingRuntimeIsAnError) {
  WriteSettings({{"runtime", "ubc-no-such-runtime"}});
  const Run run = RunWrapper({"state", "c1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.stderr_text,
            "ubc-runtime: runtime \"ubc-no-such-runtime\": not found in /usr/local/sbin, "
            "/usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin\n");
}

TEST_F(RuntimeWrapperTest, ARuntimeThatIsTheWrapperItselfIsRefused) {
  // The process running the wrapper is this test binary.
  char self[PATH_MAX];
  ASSERT_NE(::realpath("/proc/self/exe", self), nullptr);
  WriteSettings({{"runtime", self}});
  const Run run = RunWrapper({"state", "c1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.stderr_text,
            "ubc-runtime: runtime \"" + std::string(self) + "\" is ubc-hook itself\n");
}

TEST_F(RuntimeWrapperTest, AnInvalidSettingsFileBesideTheWrapperIsAnError) {
  const fs::path settings = dir_.Write("ubc-runtime.json", R"({"runtime": ""})");
  const Run run = RunWrapper({"state", "c1"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_FALSE(RuntimeRan());
  EXPECT_EQ(run.stderr_text.rfind("ubc-runtime: " + settings.string() + ": /runtime", 0), 0u)
      << run.stderr_text;
}

}  // namespace
}  // namespace ubc
