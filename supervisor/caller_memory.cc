#include "supervisor/caller_memory.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/unique_fd.h"

namespace ubc {
namespace {

// include/uapi/linux/fs.h of Linux 6.11; not in Debian 12's headers.
struct ProcmapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104);
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);
constexpr uint64_t kQueryVmaWritable = 0x02;

}  // namespace

Result<bool> CallerRangeWritable(const Notifier& notifier, uint64_t id, int tid, uint64_t address,
                                 uint64_t length) {
  if (length == 0) return true;
  if (address > UINT64_MAX - length) return false;
  const std::string path = "/proc/" + std::to_string(tid) + "/maps";
  UniqueFd maps(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!maps) return Status::FromErrno(errno, "opening " + path);
  if (!notifier.IdValid(id)) return Status::Error(path + ": notification no longer valid");
  const uint64_t end = address + length;
  for (uint64_t at = address; at < end;) {
    ProcmapQuery q{};
    q.size = sizeof q;
    q.query_flags = kQueryVmaWritable;  // the mapping holding `at`, only if writable
    q.query_addr = at;
    if (::ioctl(maps.get(), kProcmapQuery, &q) != 0) {
      if (errno == ENOENT) return false;  // unmapped, or not writable
      return Status::FromErrno(errno, "PROCMAP_QUERY on " + path);
    }
    if (q.vma_end <= at) return Status::Error("PROCMAP_QUERY on " + path + ": no progress");
    at = q.vma_end;
  }
  return true;
}

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
