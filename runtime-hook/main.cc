// ubc-hook: puts ubc's seccomp notify rules and listenerPath into a
// container's OCI config before the runtime creates it. Thin wiring over
// core/oci_config_patch.h; see --help for the modes.

#include <unistd.h>

#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/hook_settings.h"
#include "runtime-hook/config_patcher.h"
#include "runtime-hook/runtime_wrapper.h"

namespace {

constexpr char kUsage[] = R"(usage:
  ubc-hook precreate [--settings FILE]
      podman precreate hook (hooks.d, stage "precreate"): reads the container's
      OCI config on stdin and writes it, patched or unchanged, to stdout.
  ubc-hook patch BUNDLE [--settings FILE] [--id ID]
      patches BUNDLE/config.json in place (atomically; untouched on error).
      --id gives the container id for matching containers.d files by id.
  ubc-hook runtime [--] RUNTIME-ARGS...
  ubc-runtime RUNTIME-ARGS...           (a symlink to ubc-hook)
      OCI runtime wrapper: on `create`/`run` patches the bundle's config.json,
      then execs the real runtime with the same arguments. Settings:
      ubc-runtime.json beside the wrapper as invoked, else /etc/ubc/runtime.json.
  ubc-hook --help

A container is patched if it has a ubc.* annotation (ubc.privvmpages,
ubc.profile), UBC_PRIVVMPAGES or UBC_PROFILE in its process.env, matches a
containers.d file by id or name, or if the settings say "opt_in": "all".
Every other config is left byte-for-byte unchanged. Settings for precreate and
patch: --settings FILE, else /etc/ubc/hook.json if it exists, else defaults
(schemas/hook-settings.schema.json).
)";

int Fail(const std::string& message) {
  std::cerr << "ubc-hook: " << message << "\n";
  return 1;
}

struct Options {
  std::optional<std::string> settings_path;
  std::optional<std::string> id;
  std::vector<std::string> positional;
};

// --settings FILE, --settings=FILE, --id ID, --id=ID; `allow_id` per mode.
std::optional<Options> ParseOptions(const std::vector<std::string>& args, bool allow_id,
                                    std::string* error) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string>* target = nullptr;
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    if (name == "--settings") {
      target = &options.settings_path;
    } else if (name == "--id" && allow_id) {
      target = &options.id;
    } else if (arg.size() > 1 && arg[0] == '-') {
      *error = "unknown option " + arg;
      return std::nullopt;
    } else {
      options.positional.push_back(arg);
      continue;
    }
    if (inline_value) {
      *target = *inline_value;
    } else if (i + 1 < args.size()) {
      *target = args[++i];
    } else {
      *error = "option " + arg + " needs a value";
      return std::nullopt;
    }
  }
  return options;
}

ubc::Result<ubc::HookSettings> SettingsFor(const Options& options) {
  if (options.settings_path) return ubc::LoadHookSettings(*options.settings_path);
  return ubc::LoadFirstExistingSettings({ubc::kDefaultHookSettingsPath});
}

int Precreate(const std::vector<std::string>& args) {
  std::string error;
  std::optional<Options> options = ParseOptions(args, /*allow_id=*/false, &error);
  if (!options) return Fail("precreate: " + error);
  if (!options->positional.empty())
    return Fail("precreate: unexpected argument " + options->positional[0]);
  ubc::Result<ubc::HookSettings> settings = SettingsFor(*options);
  if (!settings.ok()) return Fail(settings.status().message());

  std::string input(std::istreambuf_iterator<char>(std::cin), {});
  if (std::cin.bad()) return Fail("reading the config from stdin failed");
  // The id is not known before the runtime is called: match by name only.
  ubc::Result<ubc::PatchOutcome> outcome = ubc::PatchConfigText(input, *settings, "");
  if (!outcome.ok()) return Fail(outcome.status().message());
  if (ubc::Status s = ubc::WriteAll(STDOUT_FILENO, outcome->output_text, "the config to stdout");
      !s.ok()) {
    return Fail(s.message());
  }
  return 0;
}

int Patch(const std::vector<std::string>& args) {
  std::string error;
  std::optional<Options> options = ParseOptions(args, /*allow_id=*/true, &error);
  if (!options) return Fail("patch: " + error);
  if (options->positional.size() != 1)
    return Fail("patch: expected one BUNDLE directory (see --help)");
  ubc::Result<ubc::HookSettings> settings = SettingsFor(*options);
  if (!settings.ok()) return Fail(settings.status().message());

  const std::string path = options->positional[0] + "/config.json";
  ubc::Result<ubc::PatchOutcome> outcome =
      ubc::PatchConfigFileInPlace(path, *settings, options->id.value_or(""));
  if (!outcome.ok()) return Fail(outcome.status().message());
  if (outcome->patched) {
    std::cout << path << ": patched (opted in by " << outcome->opted_in_by << ")";
    for (const std::string& m : outcome->view_mounts) std::cout << ", view at " << m;
    std::cout << "\n";
  } else {
    std::cout << path << ": not opted in, unchanged\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string argv0 = argc > 0 ? argv[0] : "ubc-hook";
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);

  const size_t slash = argv0.rfind('/');
  const std::string base = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
  if (base == "ubc-runtime") return ubc::RunRuntimeWrapper(argv0, args);

  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string mode = args[0];
  args.erase(args.begin());
  if (mode == "--help" || mode == "-h" || mode == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (mode == "precreate") return Precreate(args);
  if (mode == "patch") return Patch(args);
  if (mode == "runtime") {
    if (!args.empty() && args[0] == "--") args.erase(args.begin());
    return ubc::RunRuntimeWrapper(argv0, args);
  }
  std::cerr << "ubc-hook: unknown mode " << mode << "\n" << kUsage;
  return 2;
}
