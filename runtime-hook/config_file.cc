#include "runtime-hook/config_file.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/unique_fd.h"

namespace ubc {
namespace {

Status Errno(const std::string& context) {
  return Status::Error(context + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& context) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(context);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Unlinks the temporary file unless the rename has consumed it.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

Result<std::string> ReadConfigFile(const std::string& path) {
  const std::string context = "reading " + path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Errno(context);
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) return Errno(context);
  if (!S_ISREG(st.st_mode)) return Status::Error(context + ": not a regular file");
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(context);
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > kMaxOciConfigBytes) {
      return Status::Error(context + ": larger than " + std::to_string(kMaxOciConfigBytes) +
                           " bytes");
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

Status ReplaceConfigFile(const std::string& path, std::string_view contents) {
  // Replace the target of a symlinked config.json, not the link itself.
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return Errno("resolving " + path);
  const std::string target = resolved;
  struct stat st = {};
  if (::stat(target.c_str(), &st) != 0) return Errno("stat " + target);
  if (!S_ISREG(st.st_mode)) return Status::Error(target + ": not a regular file");

  const size_t slash = target.rfind('/');
  const std::string dir = target.substr(0, slash == 0 ? 1 : slash);
  std::string temp = target.substr(0, slash + 1) + ".config.json.ubc-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return Errno("creating a temporary file in " + dir);
  TempFileGuard guard(temp);

  if (Status s = WriteAll(fd.get(), contents, "writing " + temp); !s.ok()) return s;
  if (::fchmod(fd.get(), st.st_mode & 07777) != 0) return Errno("chmod " + temp);
  // Rootless engines own their bundles; keep the owner when we may (root),
  // and otherwise the file is ours already, as the directory let us create it.
  if ((st.st_uid != ::geteuid() || st.st_gid != ::getegid()) &&
      ::fchown(fd.get(), st.st_uid, st.st_gid) != 0 && errno != EPERM) {
    return Errno("chown " + temp);
  }
  if (::fsync(fd.get()) != 0) return Errno("fsync " + temp);
  if (::close(fd.release()) != 0) return Errno("closing " + temp);
  if (::rename(temp.c_str(), target.c_str()) != 0)
    return Errno("renaming " + temp + " to " + target);
  guard.Release();

  // Make the rename itself durable; the new file is complete either way.
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());
  return Status::Ok();
}

}  // namespace ubc
