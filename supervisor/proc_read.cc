#include "supervisor/proc_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace ubc {
namespace {

// Generous for maps of large processes, but bounded.
constexpr size_t kMaxProcFileBytes = 64 << 20;
constexpr size_t kPidsWholeBelowBytes = 4096 - 16;

}  // namespace

Result<std::string> ReadProcFd(int fd, ProcRecords records) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (records == ProcRecords::kOne && static_cast<size_t>(n) < sizeof buf) break;
    if (records == ProcRecords::kPids && out.size() < kPidsWholeBelowBytes) break;
    if (out.size() > kMaxProcFileBytes) return Status::Error("file too large");
  }
  return out;
}

Result<std::string> ReadProcFile(const std::string& path, ProcRecords records) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::Error(path + ": " + std::strerror(errno));
  return ReadProcFd(fd.get(), records);
}

}  // namespace ubc
