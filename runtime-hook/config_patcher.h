// ConfigPatcher: the file-system side of patching one container's config for
// ubc-hook's modes: finding the settings, loading containers.d, and writing
// the patched config.json back.
//
// The decisions themselves are core's PatchOciConfig; this adds only I/O.
// Functions are thread-compatible and hold no state between calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/hook_settings.h"
#include "core/oci_config_patch.h"
#include "core/status.h"

namespace ubc {

// The settings of the first candidate file that exists, or the built-in
// defaults when none does. An existing but invalid file is an error.
Result<HookSettings> LoadFirstExistingSettings(const std::vector<std::string>& candidates);

// `dir` (ubcd's proc_dir) resolved, when ubcd's proc view is mounted and
// answers there; "" otherwise.
std::string LiveProcViewDir(const std::string& dir);

// The directory name under the view a container's files are bound from: its
// id when the view accepts it as a name, else a random one. Distinct per
// container, so containers share no inode of the view.
std::string ProcViewToken(std::string_view container_id);

// PatchOciConfig with the containers.d files of `settings` loaded first and
// ubcd's proc view, when it is live.
Result<PatchOutcome> PatchConfigText(std::string_view config_text, const HookSettings& settings,
                                     std::string_view container_id);

// Patches the config file at `path` in place (config_file.h); the file is
// rewritten only when the container opted in and the text changes.
Result<PatchOutcome> PatchConfigFileInPlace(const std::string& path, const HookSettings& settings,
                                            std::string_view container_id);

}  // namespace ubc
