#include "supervisor/status_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "supervisor/log.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<StatusServer>> StatusServer::Create(const std::string& path,
                                                           Handler handler) {
  Result<UniqueFd> sock = BindUnixSocket(path, SOCK_STREAM);
  if (!sock.ok()) return sock.status();
  // Blocking accept: this thread has nothing else to do.
  int flags = ::fcntl(sock->get(), F_GETFL);
  ::fcntl(sock->get(), F_SETFL, flags & ~O_NONBLOCK);
  return std::unique_ptr<StatusServer>(
      new StatusServer(std::move(sock).value(), std::move(handler)));
}

StatusServer::StatusServer(UniqueFd socket, Handler handler)
    : socket_(std::move(socket)), handler_(std::move(handler)) {}

void StatusServer::Stop() {
  stopping_ = true;
  // A blocked accept() returns (EINVAL) once the socket is shut down.
  ::shutdown(socket_.get(), SHUT_RDWR);
}

void StatusServer::Run() {
  for (;;) {
    UniqueFd client(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (stopping_) return;
    if (!client) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      const int error = errno;
      // Out of fds or memory (a flood elsewhere in ubcd) passes: the socket
      // must go on accepting once it does. Returning here once left the
      // status socket dead for good after an fd exhaustion.
      const bool passes = error == EMFILE || error == ENFILE || error == ENOBUFS ||
                          error == ENOMEM || error == EPROTO || error == EPERM;
      LogLimited(
          LogLevel::kError, std::string("status accept ") + std::strerror(error),
          std::string("status accept failures (") + std::strerror(error) + ")",
          std::string("status accept: ") + std::strerror(error) + (passes ? "; retrying" : ""));
      if (!passes) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    timeval timeout{1, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string request;
    char buf[256];
    while (request.find('\n') == std::string::npos && request.size() < 1024) {
      ssize_t n = ::recv(client.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    request = request.substr(0, request.find('\n'));
    WriteAll(client.get(), handler_(request));
  }
}

Result<std::string> QueryStatus(const std::string& path, const std::string& request) {
  Result<UniqueFd> fd = ConnectUnixSocket(path, SOCK_STREAM);
  if (!fd.ok()) {
    return Status::Error("cannot reach ubcd: " + fd.status().message() + " (is ubcd running?)");
  }
  if (!WriteAll(fd->get(), request + "\n"))
    return Status::Error("sending the status request failed");
  std::string reply;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::Error(std::string("reading the status reply: ") + std::strerror(errno));
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

}  // namespace ubc
