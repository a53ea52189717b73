#include "supervisor/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/rest_frame.h"

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

// One packet of at most `len` bytes; every fd it carried is in *fds (an
// oversized packet is cut, MSG_TRUNC set in *flags).
ssize_t ReceiveWithFds(int sock, void* buf, size_t len, int recv_flags, int* flags,
                       std::vector<UniqueFd>* fds) {
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerPacket)];
  ssize_t n;
  do {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    n = ::recvmsg(sock, &msg, recv_flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      fds->emplace_back(fd);
    }
  }
  *flags = msg.msg_flags;
  return n;
}

// Sends one packet and, when `fd` >= 0, that fd; 0 or an errno.
int SendPacket(int sock, const void* data, size_t len, int fd, int send_flags) {
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* h = CMSG_FIRSTHDR(&msg);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(h), &fd, sizeof fd);
  }
  for (;;) {
    if (::sendmsg(sock, &msg, send_flags | MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

namespace {

// Waits for `events` until `deadline`: false on timeout or error.
bool WaitUntil(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & events) != 0;
  }
}

}  // namespace

bool ReceiveAll(int fd, char* buf, size_t len, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t off = 0;
  while (off < len) {
    const ssize_t n = ::recv(fd, buf + off, len - off, MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || !WaitUntil(fd, POLLIN, deadline)) return false;
  }
  return true;
}

bool SendAll(int fd, std::string_view data, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || !WaitUntil(fd, POLLOUT, deadline)) {
      return false;
    }
  }
  return true;
}

Result<std::string> ReceiveRestFrame(int fd, size_t max_bytes, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const auto left_ms = [&deadline] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
        .count();
  };
  char header[kRestFrameHeaderBytes];
  if (!ReceiveAll(fd, header, sizeof header, timeout_ms)) {
    return Status::FromErrno(ECONNABORTED, "rest frame");
  }
  Result<size_t> n = RestFramePayloadBytes(std::string_view(header, sizeof header), max_bytes);
  if (!n.ok()) return n.status();
  std::string payload(*n, '\0');
  if (!ReceiveAll(fd, payload.data(), payload.size(), left_ms())) {
    return Status::FromErrno(ECONNABORTED, "rest frame");
  }
  return payload;
}

}  // namespace ubc
