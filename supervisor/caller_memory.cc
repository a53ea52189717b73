#include "supervisor/caller_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/unique_fd.h"

namespace ubc {

CallerWrite WriteCallerMemory(const Notifier& notifier, uint64_t id, int tid, uint64_t address,
                              const std::vector<uint8_t>& bytes, Status* error) {
  const std::string path = "/proc/" + std::to_string(tid) + "/mem";
  UniqueFd mem(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!mem) {
    const int err = errno;
    if (!notifier.IdValid(id)) return CallerWrite::kGone;
    *error = Status::FromErrno(err, "opening " + path);
    return CallerWrite::kFailed;
  }
  if (!notifier.IdValid(id)) return CallerWrite::kGone;
  // An address past what off_t holds is no user address at all.
  if (address > static_cast<uint64_t>(INT64_MAX) - bytes.size()) return CallerWrite::kFault;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(mem.get(), bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(address + done));
    if (n < 0 && errno == EINTR) continue;
    // The kernel answers EIO (or EFAULT) for an unmapped or unwritable
    // address, as copy_to_user would fail in the call itself; 0 likewise.
    if (n < 0 && errno != EIO && errno != EFAULT) {
      *error = Status::FromErrno(errno, "writing " + path);
      return CallerWrite::kFailed;
    }
    if (n <= 0) return CallerWrite::kFault;
    done += static_cast<size_t>(n);
  }
  return CallerWrite::kWritten;
}

}  // namespace ubc
