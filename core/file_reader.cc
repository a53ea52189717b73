#include "core/file_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "core/unique_fd.h"

namespace ubc {
namespace {

Status TooLarge(const std::string& context, size_t max_bytes) {
  return Status::Error(context + ": larger than " + std::to_string(max_bytes) + " bytes");
}

}  // namespace

Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    const ReadFileOptions& options) {
  const std::string context =
      "reading " + (options.what.empty() ? path : options.what + " " + path);
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  if (!options.follow_symlink) flags |= O_NOFOLLOW;
  if (options.regular_file_only) flags |= O_NONBLOCK;
  int raw_fd;
  do {
    // A blocking open of a FIFO can be interrupted by a signal.
    raw_fd = ::open(path.c_str(), flags);
  } while (raw_fd < 0 && errno == EINTR);
  UniqueFd fd(raw_fd);
  if (!fd) return Status::FromErrno(errno, context);

  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, context);
  const bool regular = S_ISREG(st.st_mode);
  if (options.regular_file_only && !regular) {
    return Status::Error(context + ": not a regular file");
  }
  if (options.check) {
    if (Status s = options.check(st); !s.ok()) return s;
  }
  if (regular && static_cast<uint64_t>(st.st_size) > max_bytes) return TooLarge(context, max_bytes);

  std::string text;
  if (regular) text.reserve(static_cast<size_t>(st.st_size));
  char buffer[16384];
  for (;;) {
    // One byte past the cap is enough to know the file is too large (it may
    // have grown since the fstat, or not be a regular file at all).
    const size_t room = max_bytes - text.size();
    const size_t want = room >= sizeof(buffer) ? sizeof(buffer) : room + 1;
    const ssize_t n = ::read(fd.get(), buffer, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, context);
    }
    if (n == 0) break;
    if (static_cast<size_t>(n) > room) return TooLarge(context, max_bytes);
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace ubc
