// OCI config patch: decides whether a container gets ubc accounting and, if
// so, rewrites its config.json so the runtime traps the memory syscalls and
// hands the notify fd to ubcd.
//
// A container opts in with a ubc.* annotation, with UBC_PRIVVMPAGES /
// UBC_PROFILE in process.env (Docker puts no annotations in the spec; these
// become the annotations ubc.privvmpages / ubc.profile in the output, explicit
// annotations winning), by matching a containers.d file by id or name, or
// because the settings say opt_in "all". Any other config is returned
// byte-for-byte unchanged. An opted-in config gets linux.seccomp merged with
// the notify rules (seccomp_profile_merge.h) and listenerPath set, and the
// kernel bounds derived from the privvmpages limit ubcd will resolve for it
// (kernel_bounds.h). Where ubcd serves its proc view (`proc_view_dir`, empty:
// none) and the container's meminfo mode is not "none", read-only bind mounts
// of the view's files are appended: /proc/meminfo and /dev/user_beancounters
// (runtimes refuse mounts elsewhere in /proc); a destination the config
// already mounts is left as it is. Pure; thread-safe. Errors name config.json
// and the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/container_config.h"
#include "core/hook_settings.h"
#include "core/kernel_bounds.h"
#include "core/status.h"
#include "core/supervisor_config.h"

namespace ubc {

// Environment variables accepted in process.env as opt-in, and the
// annotations they turn into.
inline constexpr char kPrivvmpagesEnv[] = "UBC_PRIVVMPAGES";
inline constexpr char kProfileEnv[] = "UBC_PROFILE";
inline constexpr char kShmpagesEnv[] = "UBC_SHMPAGES";

struct PatchOutcome {
  bool patched = false;
  std::string output_text;  // the input itself when !patched
  // Why the container was patched, for the hook's log line: "annotation",
  // "environment", "containers.d file PATH" or "opt_in all"; empty if not.
  std::string opted_in_by;
  KernelBounds bounds;                   // what was written (nothing bounded: all nullopt)
  std::vector<std::string> view_mounts;  // destinations of the proc view mounts added
};

// Where the proc view's files appear in the container.
inline constexpr char kMeminfoDestination[] = "/proc/meminfo";
inline constexpr char kBeancountersDestination[] = "/dev/user_beancounters";

// `container_id` may be empty (podman's precreate hook runs before the id is
// passed to the runtime): containers.d files then match by name only. `ubcd`
// is ubcd's config, for its default limits.
Result<PatchOutcome> PatchOciConfig(std::string_view config_json_text, const HookSettings& settings,
                                    const std::vector<ContainerConfig>& configs,
                                    const SupervisorConfig& ubcd, std::string_view container_id,
                                    std::string_view proc_view_dir = {});

}  // namespace ubc
