// ReadFileBounded: reads one whole small file (a config, a token, a JSON
// document) with a size cap, the one way ubc reads such files.
//
// The file is opened O_CLOEXEC | O_NOCTTY, owned by a UniqueFd for the length
// of the call and closed before it returns; reads retry EINTR and short reads.
// A file larger than the cap is refused, never truncated: a config ten times
// larger than any real one is a mistake, not a config. Errors are FromErrno
// statuses naming the path ("reading /etc/ubc/ubcd.json: No such file or
// directory", "reading /x: larger than 1048576 bytes"). The caller may check
// the fstat of the very fd that is read (owner, mode) before a byte is read,
// so there is no window between the check and the read. Stateless and
// thread-safe; the check runs on the calling thread.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <functional>
#include <string>

#include "core/status.h"

namespace ubc {

struct ReadFileOptions {
  // Names the file in errors before its path: "token file" gives "reading
  // token file /etc/ubc/api-token: ...". Empty: "reading /etc/ubc/api-token: ...".
  std::string what;
  // False: O_NOFOLLOW, a symlink as the last component is refused (ELOOP)
  // instead of followed (a root-only secret must not be a link to elsewhere).
  bool follow_symlink = true;
  // True: anything but a regular file is refused ("not a regular file"): a
  // FIFO would block and a device might never end. The open itself is then
  // O_NONBLOCK, so not even opening a FIFO without a writer blocks (no effect
  // on the reads of a regular file). False: pipes and character devices
  // (/dev/stdin, a shell's <(...)) are read as well, blocking, up to the cap.
  bool regular_file_only = true;
  // Called with the fstat of the opened fd after the type check and before
  // reading; a non-ok Status is returned as is and nothing is read.
  std::function<Status(const struct stat&)> check;
};

// The whole file at `path`, of at most `max_bytes` bytes.
Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    const ReadFileOptions& options = {});

}  // namespace ubc
