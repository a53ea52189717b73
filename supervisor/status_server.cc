#include "supervisor/status_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "supervisor/log.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Blocking: the client side's send.
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

// One accepted connection: first its request line is read, then the reply
// written; `done` once it is to be closed (served, or failed).
struct Client {
  UniqueFd fd;
  Clock::time_point deadline;
  std::string request;
  bool request_complete = false;
  std::string reply;
  size_t sent = 0;
  bool done = false;
};

// Reads what the socket holds of the request line, without blocking; sets
// request_complete at a newline, at kMaxRequestBytes or at EOF.
void ReadRequest(Client& c) {
  char buf[StatusServer::kMaxRequestBytes];
  while (!c.request_complete) {
    const size_t room = StatusServer::kMaxRequestBytes - c.request.size();
    ssize_t n = ::recv(c.fd.get(), buf, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.done = true;  // reset by the client
      return;
    }
    if (n == 0) {  // EOF before a newline: what it sent is the request
      c.request_complete = true;
      break;
    }
    const size_t got = static_cast<size_t>(n);
    const bool newline = std::memchr(buf, '\n', got) != nullptr;
    c.request.append(buf, got);
    if (newline || c.request.size() >= StatusServer::kMaxRequestBytes) c.request_complete = true;
  }
  c.request.resize(std::min(c.request.find('\n'), c.request.size()));
}

// Writes what the socket takes of the reply, without blocking.
void WriteReply(Client& c) {
  while (c.sent < c.reply.size()) {
    ssize_t n = ::send(c.fd.get(), c.reply.data() + c.sent, c.reply.size() - c.sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) break;  // EPIPE, ECONNRESET: the client is gone
    c.sent += static_cast<size_t>(n);
  }
  c.done = true;
}

// Takes the client as far as its socket allows without blocking; calls the
// handler once, when the request line is complete.
void Serve(Client& c, const StatusServer::Handler& handler) {
  if (!c.request_complete) {
    ReadRequest(c);
    if (c.done || !c.request_complete) return;
    c.reply = handler(c.request);
  }
  WriteReply(c);
}

// Closes the connections still waiting in the listening socket's backlog
// (Stop() has shut it down, so no more arrive): their clients see EOF now
// rather than when the server is destroyed.
void CloseBacklog(int socket) {
  for (;;) {
    UniqueFd fd(::accept4(socket, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd && errno != EINTR && errno != ECONNABORTED) return;
  }
}

// Milliseconds from `now` until `t`, rounded up (so that poll does not wake
// just before it) and at least 0.
int MsUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  const int64_t ms = std::chrono::ceil<milliseconds>(t - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

}  // namespace

Result<std::unique_ptr<StatusServer>> StatusServer::Create(const std::string& path,
                                                           Handler handler) {
  // The eventfd first: a failure leaves no socket file behind.
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Status::FromErrno(errno, "eventfd");
  Result<UniqueFd> sock = BindUnixSocket(path, SOCK_STREAM);  // non-blocking
  if (!sock.ok()) return sock.status();
  return std::unique_ptr<StatusServer>(
      new StatusServer(std::move(sock).value(), std::move(wake), std::move(handler)));
}

StatusServer::StatusServer(UniqueFd socket, UniqueFd wake, Handler handler)
    : socket_(std::move(socket)), wake_(std::move(wake)), handler_(std::move(handler)) {}

void StatusServer::Stop() {
  // Connections arriving from now on are refused (ECONNREFUSED) rather than
  // left in the backlog with nobody to answer them; those already there are
  // still accepted (and closed by Run()). First, so that Run() sees no new
  // one once it sees stopping_.
  ::shutdown(socket_.get(), SHUT_RDWR);
  stopping_ = true;
  // Wakes a Run() blocked in poll, also while it rests the listening socket
  // after an accept failure.
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void StatusServer::Run() {
  // In accept order, so the front is the one nearest its deadline. Closed
  // (UniqueFd) when erased and when Run() returns.
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  std::optional<Clock::time_point> accept_paused_until;  // after an accept failure
  for (;;) {
    if (stopping_) {
      CloseBacklog(socket_.get());
      return;  // closes the accepted ones
    }
    Clock::time_point now = Clock::now();
    std::erase_if(clients, [&](const Client& c) { return c.done || c.deadline <= now; });
    if (accept_paused_until && *accept_paused_until <= now) accept_paused_until.reset();

    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({accept_paused_until ? -1 : socket_.get(), POLLIN, 0});  // -1: not polled
    for (const Client& c : clients) {
      fds.push_back({c.fd.get(), static_cast<short>(c.request_complete ? POLLOUT : POLLIN), 0});
    }
    int timeout = -1;
    if (!clients.empty()) timeout = MsUntil(clients.front().deadline, now);
    if (accept_paused_until) {
      const int rest = MsUntil(*accept_paused_until, now);
      timeout = timeout < 0 ? rest : std::min(timeout, rest);
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      // ENOMEM, or EINVAL under an RLIMIT_NOFILE below the fds polled:
      // nothing can be served meanwhile, so a pause stalls no one.
      const int error = errno;
      LogLimited(LogLevel::kError, std::string("status poll ") + std::strerror(error),
                 std::string("status poll failures (") + std::strerror(error) + ")",
                 std::string("status poll: ") + std::strerror(error) + "; retrying");
      std::this_thread::sleep_for(milliseconds(kAcceptBackoffMs));
      continue;
    }
    if (stopping_) continue;

    // One whose deadline passed during the poll is not served any more (it is
    // closed at the top of the loop).
    now = Clock::now();
    for (size_t i = 0; i < clients.size(); ++i) {
      if (fds[i + 2].revents != 0 && clients[i].deadline > now) Serve(clients[i], handler_);
    }
    if (fds[1].fd < 0 || fds[1].revents == 0) continue;

    // At most kMaxClients accepts per round, so that a flood of connections
    // does not keep the accepted clients from being served.
    for (size_t accepted = 0; accepted < kMaxClients; ++accepted) {
      UniqueFd fd(::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
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
        // The pending connection would make poll return at once: rest the
        // listening socket a moment, serving the open connections meanwhile.
        accept_paused_until = Clock::now() + milliseconds(kAcceptBackoffMs);
        break;
      }
      Client client{std::move(fd), Clock::now() + milliseconds(kClientDeadlineMs)};
      Serve(client, handler_);  // its request line is often there already
      if (client.done) continue;
      std::erase_if(clients, [](const Client& c) { return c.done; });
      if (clients.size() >= kMaxClients) clients.erase(clients.begin());  // the oldest
      clients.push_back(std::move(client));
    }
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
