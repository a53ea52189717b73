#include "supervisor/listener.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "core/message_framer.h"
#include "supervisor/log.h"
#include "supervisor/seccomp_notifier.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

// runc and crun send 0.2-1 KiB; annotations (podman, Kubernetes) make it
// larger, up to a few hundred KiB.
constexpr size_t kMaxMessageBytes = 1024 * 1024;
constexpr size_t kMaxFdsPerRead = 64;
constexpr size_t kMaxConnections = 4096;

std::string PeerText(const PeerInfo& p) {
  return "pid " + std::to_string(p.pid) + " uid " + std::to_string(p.uid);
}

}  // namespace

struct Listener::Connection {
  UniqueFd fd;
  PeerInfo peer;
  MessageFramer framer{kMaxMessageBytes};
  std::deque<UniqueFd> fds;  // received, not yet claimed by a message
};

Result<std::unique_ptr<Listener>> Listener::Create(const std::string& path, OnFd on_fd) {
  Result<UniqueFd> sock = BindUnixSocket(path, SOCK_STREAM);
  if (!sock.ok()) return sock.status();
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!ep || !wake) return Status::Error(std::string("epoll/eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sock->get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, sock->get(), &ev);
  ev.data.fd = wake.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &ev);
  return std::unique_ptr<Listener>(
      new Listener(std::move(sock).value(), std::move(ep), std::move(wake), std::move(on_fd)));
}

Listener::Listener(UniqueFd socket, UniqueFd epoll, UniqueFd wake, OnFd on_fd)
    : socket_(std::move(socket)),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      on_fd_(std::move(on_fd)) {}

Listener::~Listener() = default;

void Listener::Stop() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void Listener::Run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("listener epoll_wait: ") + std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_.get()) return;
      if (fd == socket_.get()) {
        Accept();
        continue;
      }
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      if (!Read(*it->second)) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        connections_.erase(it);
      }
    }
  }
}

void Listener::Accept() {
  for (;;) {
    UniqueFd fd(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of fds: the pending connection would wake epoll forever. The
        // spare fd makes room to accept it and hang up on it at once.
        spare_.reset();
        UniqueFd refused(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        refused.reset();
        spare_ = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        LogLimited(LogLevel::kWarning, "listener out of fds",
                   "connections refused for want of file descriptors",
                   "listener: out of file descriptors, refused a connection");
        continue;
      }
      if (errno != EAGAIN && errno != EINTR) {
        Log(LogLevel::kWarning, std::string("listener accept: ") + std::strerror(errno));
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      Log(LogLevel::kWarning, "listener: refused a connection without peer credentials");
      continue;
    }
    PeerInfo peer{cred.pid, cred.uid, cred.gid};
    if (cred.uid != 0) {
      // Only the runtime (root) may hand us a filter to decide for.
      Log(LogLevel::kWarning, "listener: refused connection from non-root " + PeerText(peer));
      continue;
    }
    if (connections_.size() >= kMaxConnections) {
      Log(LogLevel::kWarning, "listener: too many open connections, refused " + PeerText(peer));
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd.get();
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) continue;
    auto c = std::make_unique<Connection>();
    c->peer = peer;
    int key = fd.get();
    c->fd = std::move(fd);
    connections_[key] = std::move(c);
  }
}

bool Listener::Read(Connection& c) {
  char data[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)];
  for (;;) {
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(c.fd.get(), &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      Log(LogLevel::kWarning,
          "listener: read from " + PeerText(c.peer) + ": " + std::strerror(errno));
      return false;
    }
    // Own every received fd before looking at anything else.
    for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        c.fds.emplace_back(fd);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
      Log(LogLevel::kWarning,
          "listener: " + PeerText(c.peer) + " sent more fds than accepted; closed");
      return false;
    }
    if (n == 0) {
      if (c.framer.buffered_bytes() > 0) {
        Log(LogLevel::kWarning, "listener: " + PeerText(c.peer) + " hung up inside a message");
      }
      return false;  // the runtime is done (runc run exited)
    }
    if (Status s = c.framer.Append(std::string_view(data, static_cast<size_t>(n))); !s.ok()) {
      Log(LogLevel::kWarning,
          "listener: bad message from " + PeerText(c.peer) + ": " + s.message());
      return false;
    }
    while (std::optional<std::string> message = c.framer.NextMessage()) {
      if (!Deliver(c, *message)) return false;
    }
  }
}

bool Listener::Deliver(Connection& c, const std::string& message) {
  Result<ContainerProcessState> state = ParseContainerProcessState(message);
  if (!state.ok()) {
    Log(LogLevel::kWarning,
        "listener: bad container state from " + PeerText(c.peer) + ": " + state.status().message());
    return false;
  }
  std::optional<size_t> index = state->SeccompFdIndex();
  if (!index || c.fds.size() < state->fds.size()) {
    Log(LogLevel::kWarning, "listener: container " + state->id + " from " + PeerText(c.peer) +
                                ": message names " + std::to_string(state->fds.size()) +
                                " fds but " + std::to_string(c.fds.size()) + " arrived");
    return false;
  }
  UniqueFd seccomp_fd;
  for (size_t i = 0; i < state->fds.size(); ++i) {
    if (i == *index) seccomp_fd = std::move(c.fds.front());
    c.fds.pop_front();  // any other fd closes here
  }
  if (!SeccompNotifier::IsListenerFd(seccomp_fd.get())) {
    Log(LogLevel::kWarning, "listener: container " + state->id + " from " + PeerText(c.peer) +
                                ": seccompFd is not a seccomp notify listener");
    return false;
  }
  try {
    on_fd_(*state, std::move(seccomp_fd), c.peer);
  } catch (const std::exception& e) {
    // Out of memory or threads while attaching: this container is logged and
    // the listener goes on serving the others (the fd store's copy, when it
    // took one, keeps the container's calls waiting for a restart).
    Log(LogLevel::kError, "listener: attaching container " + state->id + " failed: " + e.what());
  }
  return true;
}

}  // namespace ubc
