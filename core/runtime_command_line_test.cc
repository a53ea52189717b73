#include "core/runtime_command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ubc {
namespace {

using Args = std::vector<std::string>;

RuntimeCommand MustParse(const Args& args) {
  Result<RuntimeCommand> r = ParseRuntimeCommandLine(args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : RuntimeCommand{};
}

std::string ErrorOf(const Args& args) {
  Result<RuntimeCommand> r = ParseRuntimeCommandLine(args);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(RuntimeCommandLineTest, ContainerdShimCreate) {
  RuntimeCommand c =
      MustParse({"--root", "/run/containerd/runc/default", "--log", "/x/log.json", "--log-format",
                 "json", "create", "--bundle", "/x/b", "--pid-file", "/x/pid", "ID"});
  EXPECT_EQ(c.subcommand, "create");
  EXPECT_TRUE(c.CreatesContainer());
  EXPECT_EQ(c.bundle, "/x/b");
  EXPECT_EQ(c.container_id, "ID");
  EXPECT_FALSE(c.config_file.has_value());
}

TEST(RuntimeCommandLineTest, PodmanCreate) {
  RuntimeCommand c = MustParse({"create", "--bundle", "B", "--pid-file", "F", "ID"});
  EXPECT_EQ(c.subcommand, "create");
  EXPECT_EQ(c.bundle, "B");
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, PodmanWithGlobalsAndConsoleSocket) {
  RuntimeCommand c = MustParse({"--systemd-cgroup", "--root=/run/runc", "--log-format=json",
                                "--log=/x/log", "create", "--no-new-keyring", "--bundle=/b",
                                "--pid-file=/p", "--console-socket", "/s.sock", "ctr-1"});
  EXPECT_EQ(c.subcommand, "create");
  EXPECT_EQ(c.bundle, "/b");
  EXPECT_EQ(c.container_id, "ctr-1");
}

TEST(RuntimeCommandLineTest, RunWithShortBundle) {
  RuntimeCommand c = MustParse({"run", "-b", "B", "ID"});
  EXPECT_EQ(c.subcommand, "run");
  EXPECT_TRUE(c.CreatesContainer());
  EXPECT_EQ(c.bundle, "B");
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, ShortBundleForms) {
  EXPECT_EQ(MustParse({"run", "-b=B", "ID"}).bundle, "B");
  EXPECT_EQ(MustParse({"run", "-bB", "ID"}).bundle, "B");           // crun's argp
  EXPECT_EQ(MustParse({"run", "-bundle", "B", "ID"}).bundle, "B");  // urfave/cli single dash
}

TEST(RuntimeCommandLineTest, RunWithDetachAndFlags) {
  RuntimeCommand c = MustParse({"--debug", "run", "-d", "--keep", "--no-subreaper", "--no-pivot",
                                "--preserve-fds", "3", "--pid-file", "/p", "ID"});
  EXPECT_EQ(c.subcommand, "run");
  EXPECT_FALSE(c.bundle.has_value());  // the runtime's cwd; resolved by the caller
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, IdBeforeOptionsAsCrunPermitsIt) {
  RuntimeCommand c = MustParse({"create", "ID", "--bundle", "/b"});
  EXPECT_EQ(c.bundle, "/b");
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, DoubleDashEndsOptions) {
  RuntimeCommand c = MustParse({"create", "--bundle", "/b", "--", "-weird-id"});
  EXPECT_EQ(c.container_id, "-weird-id");
}

TEST(RuntimeCommandLineTest, CrunConfigOption) {
  EXPECT_EQ(MustParse({"create", "--config", "/c.json", "ID"}).config_file, "/c.json");
  EXPECT_EQ(MustParse({"create", "-f", "c.json", "ID"}).config_file, "c.json");
  EXPECT_EQ(MustParse({"create", "-fc.json", "ID"}).config_file, "c.json");
}

TEST(RuntimeCommandLineTest, CrunGlobals) {
  RuntimeCommand c = MustParse(
      {"--cgroup-manager=disabled", "--log-level", "debug", "create", "--bundle", "/b", "ID"});
  EXPECT_EQ(c.subcommand, "create");
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, OtherSubcommandsAreNotParsedFurther) {
  RuntimeCommand exec = MustParse({"--root", "R", "exec", "--process", "/p.json", "-t", "ID"});
  EXPECT_EQ(exec.subcommand, "exec");
  EXPECT_FALSE(exec.CreatesContainer());
  EXPECT_TRUE(exec.container_id.empty());

  RuntimeCommand del = MustParse({"delete", "-f", "ID"});
  EXPECT_EQ(del.subcommand, "delete");
  EXPECT_FALSE(del.CreatesContainer());

  EXPECT_EQ(MustParse({"state", "ID"}).subcommand, "state");
  EXPECT_EQ(MustParse({"start", "ID"}).subcommand, "start");
  EXPECT_EQ(MustParse({"kill", "ID", "KILL"}).subcommand, "kill");
  EXPECT_EQ(MustParse({"features"}).subcommand, "features");
}

TEST(RuntimeCommandLineTest, NoSubcommand) {
  EXPECT_EQ(MustParse({"--version"}).subcommand, "");
  EXPECT_EQ(MustParse({"-v"}).subcommand, "");
  EXPECT_EQ(MustParse({}).subcommand, "");
  EXPECT_EQ(MustParse({"--root", "/r", "--help"}).subcommand, "");
}

TEST(RuntimeCommandLineTest, UnknownOptionWithInlineValueIsSkipped) {
  RuntimeCommand c =
      MustParse({"--future-global=1", "create", "--future=2", "--bundle", "/b", "ID"});
  EXPECT_EQ(c.subcommand, "create");
  EXPECT_EQ(c.bundle, "/b");
  EXPECT_EQ(c.container_id, "ID");
}

TEST(RuntimeCommandLineTest, UnknownOptionWithoutValueIsUncertain) {
  EXPECT_EQ(ErrorOf({"--future-global", "create", "--bundle", "/b", "ID"}),
            "runtime command line: unknown global option --future-global (cannot tell whether it "
            "takes a value)");
  EXPECT_EQ(ErrorOf({"create", "--future", "x", "ID"}),
            "runtime command line: unknown create option --future (cannot tell whether it takes a "
            "value)");
}

TEST(RuntimeCommandLineTest, MissingValueOrIdIsAnError) {
  EXPECT_NE(ErrorOf({"--root"}).find("--root needs a value"), std::string::npos);
  EXPECT_NE(ErrorOf({"create", "--bundle"}).find("--bundle needs a value"), std::string::npos);
  EXPECT_NE(ErrorOf({"create", "--bundle", "/b"}).find("without a container id"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"create", "--bundle", "/b", "ID", "extra"}).find("more than one"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"create", "--bundle=", "ID"}).find("empty --bundle"), std::string::npos);
}

// The option values themselves are never mistaken for the subcommand or id.
TEST(RuntimeCommandLineTest, ValuesThatLookLikeSubcommands) {
  RuntimeCommand c =
      MustParse({"--root", "create", "run", "--bundle", "exec", "--pid-file", "delete", "state"});
  EXPECT_EQ(c.subcommand, "run");
  EXPECT_EQ(c.bundle, "exec");
  EXPECT_EQ(c.container_id, "state");
}

}  // namespace
}  // namespace ubc
