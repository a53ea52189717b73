// WriteFileAtomically: replaces a file so that a reader, or the file system
// after a crash, sees the old contents or the new ones, never a mix; the one
// way ubc rewrites a file (a bundle's config.json, ubcd's state file).
//
// The new contents go to a temporary file in the same directory (same file
// system, so the rename is atomic), are written whole and fsync'ed, take the
// old file's mode and, when permitted, its owner (a new file gets the given
// mode exactly, whatever the umask), and are renamed over the old file; then
// the directory is fsync'ed so the rename itself is durable. A symlink is
// followed: its target is replaced, the link stays. On any error the original
// file is untouched and the temporary file removed. Every fd is a UniqueFd
// closed before the call returns. Stateless; thread-compatible: concurrent
// writers of the same path each succeed, and the last rename wins.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

// Replaces (or creates) the file at `path` with `contents`. `new_file_mode`
// (e.g. 0600 for a state file) applies only when no file exists yet; an
// existing file keeps its mode. Errors name the path and the step that failed
// ("fsync /run/ubc/.state.json.ubc-Ab12Cd: No space left on device").
Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           mode_t new_file_mode);

// The write loop WriteFileAtomically uses, for callers that own the fd
// themselves (an O_EXCL-created file, stdout): all of `data`, through short
// writes and EINTR. Errors are "writing WHAT: strerror" (FromErrno).
Status WriteAll(int fd, std::string_view data, const std::string& what);

}  // namespace ubc
