#include "core/atomic_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/unique_fd.h"

namespace ubc {
namespace {

// Unlinks the temporary file unless the rename has consumed it.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "writing " + what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view contents,
                           mode_t new_file_mode) {
  // Replace the target of a symlink, not the link itself.
  std::string target = path;
  struct stat st = {};
  bool exists = false;
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) {
    target = resolved;
    if (::stat(target.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + target);
    if (!S_ISREG(st.st_mode)) return Status::Error("writing " + target + ": not a regular file");
    exists = true;
  } else {
    // ENOENT: a new file, unless a dangling symlink is there (refused
    // rather than replaced by a file).
    const int resolve_errno = errno;
    struct stat link = {};
    if (resolve_errno != ENOENT || ::lstat(path.c_str(), &link) == 0) {
      return Status::FromErrno(resolve_errno, "resolving " + path);
    }
  }

  const size_t slash = target.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : target.substr(0, slash == 0 ? 1 : slash);
  const std::string prefix = slash == std::string::npos ? "" : target.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string temp = prefix + "." + base + ".ubc-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "creating a temporary file in " + dir);
  TempFileGuard guard(temp);

  // Owner before mode: chown clears the set-id bits chmod then restores.
  // Rootless engines own their bundles; keep the owner when we may (root),
  // and otherwise the file is ours already, as the directory let us create it.
  if (exists && (st.st_uid != ::geteuid() || st.st_gid != ::getegid()) &&
      ::fchown(fd.get(), st.st_uid, st.st_gid) != 0 && errno != EPERM) {
    return Status::FromErrno(errno, "chown " + temp);
  }
  const mode_t mode = (exists ? st.st_mode : new_file_mode) & 07777;
  if (::fchmod(fd.get(), mode) != 0) return Status::FromErrno(errno, "chmod " + temp);
  if (Status s = WriteAll(fd.get(), contents, temp); !s.ok()) return s;
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + temp);
  if (::close(fd.release()) != 0) return Status::FromErrno(errno, "closing " + temp);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming " + temp + " to " + target);
  }
  guard.Release();

  // Make the rename itself durable. Not an error when it fails: the new file
  // is in place either way, and "on error the original is untouched" could
  // no longer be kept.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) (void)::fsync(dir_fd.get());
  return Status::Ok();
}

}  // namespace ubc
