// ConfigFile: reading a bundle's config.json and replacing it atomically.
//
// ubc-hook rewrites BUNDLE/config.json right before the runtime reads it, so a
// reader must never see a half-written file: the new text goes to a temporary
// file in the same directory, is fsync'ed, takes the old file's mode (and
// owner, when permitted), and is renamed over the old one. On any error the
// original file is untouched and the temporary file removed. Functions are
// thread-compatible (they touch only the given paths); every fd is a UniqueFd.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

// OCI configs are tens of kilobytes; a larger file is refused, not guessed at.
inline constexpr size_t kMaxOciConfigBytes = 16 * 1024 * 1024;

// The whole regular file. Errors name the path.
Result<std::string> ReadConfigFile(const std::string& path);

// Replaces the file at `path` (a symlink is followed to its target) with
// `contents`. Errors name the path and the step that failed.
Status ReplaceConfigFile(const std::string& path, std::string_view contents);

}  // namespace ubc
