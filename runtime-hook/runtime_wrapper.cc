#include "runtime-hook/runtime_wrapper.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string_view>

#include "core/hook_settings.h"
#include "core/runtime_command_line.h"
#include "runtime-hook/config_patcher.h"

namespace ubc {
namespace {

constexpr char kName[] = "ubc-runtime";

// Where a bare runtime name is looked for: engines start the runtime with an
// empty environment, so there is no PATH to search.
constexpr std::array<std::string_view, 6> kRuntimeDirs = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"};

std::vector<std::string> SettingsCandidates(const std::string& argv0) {
  std::vector<std::string> candidates;
  // Only a path as invoked: a bare argv[0] says nothing about where we are.
  if (const size_t slash = argv0.rfind('/'); slash != std::string::npos) {
    candidates.push_back(argv0.substr(0, slash + 1) + kRuntimeSettingsFileName);
  }
  candidates.push_back(kDefaultRuntimeSettingsPath);
  return candidates;
}

Result<std::string> ResolveRuntime(const std::string& runtime) {
  std::string path;
  if (runtime.find('/') != std::string::npos) {
    path = runtime;
  } else {
    for (std::string_view dir : kRuntimeDirs) {
      std::string candidate = std::string(dir) + "/" + runtime;
      if (::access(candidate.c_str(), X_OK) == 0) {
        path = std::move(candidate);
        break;
      }
    }
    if (path.empty())
      return Status::Error(
          "runtime \"" + runtime +
          "\": not found in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin");
  }
  // A runtime setting that points back at this wrapper would exec it forever.
  char self[PATH_MAX];
  char target[PATH_MAX];
  if (::realpath("/proc/self/exe", self) != nullptr &&
      ::realpath(path.c_str(), target) != nullptr && std::strcmp(self, target) == 0) {
    return Status::Error("runtime \"" + runtime + "\" is ubc-hook itself");
  }
  return path;
}

std::string ConfigPathOf(const RuntimeCommand& command) {
  // runc and crun resolve the bundle against their working directory, which
  // is ours: a relative path works as is.
  const std::string bundle = command.bundle.value_or(".");
  if (!command.config_file) return bundle + "/config.json";
  if (!command.config_file->empty() && command.config_file->front() == '/')
    return *command.config_file;
  return bundle + "/" + *command.config_file;
}

}  // namespace

int RunRuntimeWrapper(const std::string& argv0, const std::vector<std::string>& args) {
  Result<HookSettings> settings = LoadFirstExistingSettings(SettingsCandidates(argv0));
  if (!settings.ok()) {
    std::cerr << kName << ": " << settings.status().message() << "\n";
    return 1;
  }
  Result<std::string> runtime = ResolveRuntime(settings->runtime);
  if (!runtime.ok()) {
    std::cerr << kName << ": " << runtime.status().message() << "\n";
    return 1;
  }

  Result<RuntimeCommand> command = ParseRuntimeCommandLine(args);
  if (!command.ok()) {
    std::cerr << kName << ": warning: " << command.status().message()
              << "; passing the call through without ubc\n";
  } else if (command->CreatesContainer()) {
    Result<PatchOutcome> outcome =
        PatchConfigFileInPlace(ConfigPathOf(*command), *settings, command->container_id);
    if (!outcome.ok()) {
      std::cerr << kName << ": " << outcome.status().message() << "\n";
      return 1;
    }
  }

  std::vector<std::string> exec_args = {*runtime};
  exec_args.insert(exec_args.end(), settings->runtime_args.begin(), settings->runtime_args.end());
  exec_args.insert(exec_args.end(), args.begin(), args.end());
  std::vector<char*> exec_argv;
  for (std::string& a : exec_args) exec_argv.push_back(a.data());
  exec_argv.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  ::execv(runtime->c_str(), exec_argv.data());
  std::cerr << kName << ": exec " << *runtime << ": " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace ubc
