// HookSettings: the settings of ubc-hook in all its modes.
//
// One small JSON file (schemas/hook-settings.schema.json): the listener path,
// containers.d directory and config file shared with ubcd, which containers to
// patch, the kernel bounds to write into them, and, for the runtime wrapper,
// the real runtime to exec. Parsed, validated against
// the embedded schema and completed with built-in defaults, so an operator
// writes only what differs. Settings are plain values; the functions are
// thread-safe (LoadHookSettings reads one file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/kernel_bounds.h"
#include "core/status.h"

namespace ubc {

// Where the settings live when no --settings option names a file.
inline constexpr char kDefaultHookSettingsPath[] = "/etc/ubc/hook.json";        // precreate, patch
inline constexpr char kDefaultRuntimeSettingsPath[] = "/etc/ubc/runtime.json";  // wrapper fallback
// The wrapper first looks for this name in the directory it was invoked from.
inline constexpr char kRuntimeSettingsFileName[] = "ubc-runtime.json";

enum class OptIn {
  kAnnotated,  // only containers that asked (annotation, env, containers.d match)
  kAll,        // every container
};

struct HookSettings {
  std::string listener_path = "/run/ubc/ubcd.sock";
  std::string containers_dir = "/etc/ubc/containers.d";
  // ubcd's config file, for the default privvmpages the kernel bounds are
  // derived from; empty: ubcd's built-in defaults (ubcd without --config).
  std::string ubcd_config;
  OptIn opt_in = OptIn::kAnnotated;
  KernelBoundsSettings kernel_bounds;
  // Wrapper mode: the real runtime. A bare name is searched in a fixed list of
  // system directories (see runtime_command_line.h users); engines pass no PATH.
  std::string runtime = "runc";
  std::vector<std::string> runtime_args;  // inserted after argv[0]
};

// Parses, validates and completes one settings text. Errors name `source` and
// the JSON pointer of the field ("/etc/ubc/hook.json: /opt_in: ...").
Result<HookSettings> ParseHookSettings(std::string_view json_text, std::string_view source);

// Reads and parses `path`; a missing file is an error naming it (callers that
// have a fallback check for the file first).
Result<HookSettings> LoadHookSettings(const std::string& path);

}  // namespace ubc
