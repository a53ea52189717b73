// ConfigFile: reading a bundle's config.json and replacing it atomically.
//
// ubc-hook rewrites BUNDLE/config.json right before the runtime reads it, so a
// reader must never see a half-written file. Both are core's one reader and
// one writer (core/file_reader.h, core/atomic_file.h) with the bundle's
// choices: only a regular file of at most kMaxOciConfigBytes is read, and the
// replacement goes through a temporary file in the same directory, fsync'ed,
// with the old file's mode (and owner, when permitted), renamed over the old
// one; on any error the original file is untouched and the temporary file
// removed. Functions are thread-compatible (they touch only the given paths).
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
// `contents`; a file that vanished since it was read is created 0644, the
// mode `runc spec` leaves. Errors name the path and the step that failed.
Status ReplaceConfigFile(const std::string& path, std::string_view contents);

}  // namespace ubc
