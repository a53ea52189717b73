#include "core/runtime_command_line.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace ubc {
namespace {

// Options are matched by name without their dashes: runc (urfave/cli) accepts
// both `-root` and `--root`, and both runc and crun accept `--opt=value`.
// Lists hold runc 1.1 and crun 1.8 options plus a few newer runc ones.
constexpr std::array<std::string_view, 8> kGlobalValueOptions = {
    "root", "log", "log-format", "log-level", "criu", "rootless", "cgroup-manager", "debug-log"};
constexpr std::array<std::string_view, 6> kGlobalFlagOptions = {"debug", "systemd-cgroup", "help",
                                                                "h",     "version",        "v"};
constexpr std::array<std::string_view, 8> kCreateValueOptions = {
    "bundle", "b", "pid-file", "console-socket", "pidfd-socket", "preserve-fds", "config", "f"};
constexpr std::array<std::string_view, 8> kCreateFlagOptions = {
    "no-pivot", "no-new-keyring", "detach", "d", "keep", "no-subreaper", "help", "h"};

template <size_t N>
bool Contains(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

struct Option {
  std::string_view name;                  // without dashes, without "=value"
  std::optional<std::string_view> value;  // from "--name=value"
};

// "--root=/x" -> {root, /x}; "-b" -> {b}. Only called on args starting with '-'.
Option SplitOption(std::string_view arg) {
  arg.remove_prefix(arg.size() > 1 && arg[1] == '-' ? 2 : 1);
  Option option;
  if (size_t eq = arg.find('='); eq != std::string_view::npos) {
    option.name = arg.substr(0, eq);
    option.value = arg.substr(eq + 1);
  } else {
    option.name = arg;
  }
  return option;
}

bool IsOption(std::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

Status UnsureAbout(std::string_view arg, std::string_view where) {
  return Status::Error("runtime command line: unknown " + std::string(where) + " option " +
                       std::string(arg) + " (cannot tell whether it takes a value)");
}

}  // namespace

Result<RuntimeCommand> ParseRuntimeCommandLine(const std::vector<std::string>& args) {
  RuntimeCommand command;
  size_t i = 0;

  // Global options up to the subcommand.
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (!IsOption(arg)) break;
    const Option option = SplitOption(arg);
    if (Contains(kGlobalValueOptions, option.name)) {
      if (!option.value) {
        if (i + 1 >= args.size()) {
          return Status::Error("runtime command line: option " + arg + " needs a value");
        }
        ++i;
      }
    } else if (Contains(kGlobalFlagOptions, option.name) || option.value) {
      // A known flag, or an unknown `--x=y` that carries its own value.
    } else {
      return UnsureAbout(arg, "global");
    }
  }
  if (i >= args.size()) return command;  // `runc --version`, `runc --help`, `runc`
  command.subcommand = args[i++];
  if (!command.CreatesContainer()) return command;

  std::vector<std::string> positional;
  bool options_ended = false;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || !IsOption(arg)) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    Option option = SplitOption(arg);
    // crun (argp) also accepts short options glued to their value: -bDIR, -fFILE.
    if (arg[1] != '-' && !option.value && option.name.size() > 1 &&
        (option.name[0] == 'b' || option.name[0] == 'f') &&
        !Contains(kCreateFlagOptions, option.name) && !Contains(kCreateValueOptions, option.name)) {
      option.value = option.name.substr(1);
      option.name = option.name.substr(0, 1);
    }
    if (Contains(kCreateValueOptions, option.name)) {
      std::string value;
      if (option.value) {
        value = std::string(*option.value);
      } else {
        if (i + 1 >= args.size()) {
          return Status::Error("runtime command line: option " + arg + " needs a value");
        }
        value = args[++i];
      }
      if (option.name == "bundle" || option.name == "b") {
        command.bundle = value;
      } else if (option.name == "config" || option.name == "f") {
        command.config_file = value;
      }
    } else if (Contains(kCreateFlagOptions, option.name) || option.value) {
      // A known flag, or an unknown `--x=y` that carries its own value.
    } else {
      return UnsureAbout(arg, command.subcommand);
    }
  }
  if (positional.empty()) {
    return Status::Error("runtime command line: " + command.subcommand + " without a container id");
  }
  if (positional.size() > 1) {
    return Status::Error("runtime command line: " + command.subcommand +
                         " with more than one positional argument (\"" + positional[0] + "\", \"" +
                         positional[1] + "\")");
  }
  command.container_id = positional[0];
  if (command.bundle && command.bundle->empty()) {
    return Status::Error("runtime command line: empty --bundle");
  }
  return command;
}

}  // namespace ubc
