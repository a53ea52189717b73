#include "supervisor/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ubc {
namespace {

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::Error("socket path \"" + path + "\" is empty or too long");
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Status MakeParents(const std::string& path) {
  for (size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
    std::string dir = path.substr(0, pos);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Error("creating " + dir + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<UniqueFd> ConnectUnixSocket(const std::string& path, int type) {
  Result<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return Status::Error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return Status::Error("connect " + path + ": " + std::strerror(errno));
  }
  return fd;
}

Result<UniqueFd> BindUnixSocket(const std::string& path, int type) {
  Result<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  if (Status s = MakeParents(path); !s.ok()) return s;
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Status::Error(std::string("socket: ") + std::strerror(errno));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::Error(path + " exists and is not a socket");
    if (ConnectUnixSocket(path, type).ok()) {
      return Status::Error(path + ": another process is already listening");
    }
    ::unlink(path.c_str());  // stale socket of a previous run
  }
  // Created 0600 from the start: no window in which others could connect.
  mode_t old_mask = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  ::umask(old_mask);
  if (rc != 0) return Status::Error("bind " + path + ": " + std::strerror(errno));
  if (::listen(fd.get(), 512) != 0)
    return Status::Error("listen " + path + ": " + std::strerror(errno));
  return fd;
}

}  // namespace ubc
