#include "supervisor/rest_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "core/monotonic_clock.h"
#include "supervisor/log.h"
#include "supervisor/tcp_peer.h"

namespace ubc {
namespace {

// What a connection may have buffered unanswered: a head, a body and chunk
// framing. The parser has answered long before (431, 413).
constexpr size_t kMaxBufferedBytes = 256 * 1024;
constexpr size_t kReadChunkBytes = 16 * 1024;

std::string Serialize(const RestResponse& r, bool keep_alive, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.http_status) + " " +
                    std::string(HttpReason(r.http_status)) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\n";
  if (!r.allow.empty()) out += "Allow: " + r.allow + "\r\n";
  if (r.www_authenticate) out += "WWW-Authenticate: Bearer realm=\"ubcd\"\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

struct Connection {
  enum class State { kReading, kWriting, kLingering };
  UniqueFd fd;
  std::string key;  // the peer's, for the caps
  bool root = false;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t out_offset = 0;
  bool close_after_write = false;
  bool continue_sent = false;
  bool request_started = false;  // `in` holds part of a request
  bool read_closed = false;      // the client half-closed: answer what it sent, then close
  int64_t deadline_ms = 0;
};

}  // namespace

struct RestServer::Impl {
  std::string url;
  Handler handler;
  RestServerLimits limits;
  UniqueFd listener;
  UniqueFd wake;
  UniqueFd spare;  // given up to take, and shed, a connection when out of fds
  TcpPeerLookup peers;
  std::list<Connection> connections;
  std::map<std::string, size_t> per_peer;
  size_t non_root = 0;
  std::atomic<bool> stopping{false};
  std::thread thread;

  void Run();
  void Accept();
  void Admit(UniqueFd fd);
  void Refuse(int fd, const std::string& why);
  void Read(Connection& c);
  void Write(Connection& c);
  void Process(Connection& c);
  void Queue(Connection& c, const RestResponse& r, bool keep_alive, bool head_only);
  void Expire(Connection& c);
  void Forget(std::list<Connection>::iterator it);
  bool Closed(const Connection& c) const { return !c.fd; }
};

void RestServer::Impl::Refuse(int fd, const std::string& why) {
  const std::string answer =
      Serialize(RestErrorResponse(503, "too many connections: " + why), false, false);
  (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void RestServer::Impl::Accept() {
  for (int i = 0; i < 64; ++i) {  // then serve the others again
    UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd) {
      Admit(std::move(fd));
      continue;
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return;
    if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
    if ((error == EMFILE || error == ENFILE) && spare) {
      // Accept it with the spare fd and close it: the backlog drains
      // instead of the loop spinning on a listener it cannot empty.
      spare.reset();
      UniqueFd shed(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (shed) Refuse(shed.get(), "the HTTP process is out of file descriptors");
      shed.reset();
      spare = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      LogLimited(LogLevel::kError, "rest accept fds", "connections shed (out of fds)",
                 "rest: out of file descriptors, a connection was shed");
      continue;
    }
    LogLimited(LogLevel::kError, "rest accept", "accept failures",
               std::string("rest: accept: ") + std::strerror(error));
    return;
  }
}

void RestServer::Impl::Admit(UniqueFd fd) {
  const TcpPeer peer = peers.Lookup(fd.get());
  const bool root = peer.uid.has_value() && *peer.uid == 0;
  const std::string key = peer.Key();
  if (connections.size() >= limits.max_connections) {
    Refuse(fd.get(), "the server is full");
    LogLimited(LogLevel::kWarning, "rest full", "connections refused (server full)",
               "rest: " + std::to_string(connections.size()) +
                   " connections open, refusing one from " + key);
    return;
  }
  if (!root) {
    const size_t shared = limits.max_connections - limits.reserved_for_root;
    if (non_root >= shared || per_peer[key] >= limits.max_connections_per_peer) {
      Refuse(fd.get(), non_root >= shared ? "the server is full" : key + " has too many");
      LogLimited(LogLevel::kWarning, "rest cap " + key, "connections refused from " + key,
                 "rest: " + key + " is at its cap of " +
                     std::to_string(limits.max_connections_per_peer) +
                     " connections, refusing another");
      return;
    }
  }
  Connection& c = connections.emplace_back();
  c.fd = std::move(fd);
  c.key = key;
  c.root = root;
  c.deadline_ms = MonotonicMs() + limits.request_deadline_ms;
  ++per_peer[key];
  if (!root) ++non_root;
}

void RestServer::Impl::Forget(std::list<Connection>::iterator it) {
  if (auto p = per_peer.find(it->key); p != per_peer.end() && --p->second == 0) per_peer.erase(p);
  if (!it->root) --non_root;
  connections.erase(it);
}

void RestServer::Impl::Queue(Connection& c, const RestResponse& r, bool keep_alive,
                             bool head_only) {
  c.out += Serialize(r, keep_alive, head_only);
  c.close_after_write = c.close_after_write || !keep_alive;
  c.state = Connection::State::kWriting;
  c.deadline_ms = MonotonicMs() + limits.write_deadline_ms;
}

void RestServer::Impl::Process(Connection& c) {
  while (c.state == Connection::State::kReading && !c.in.empty()) {
    if (!c.request_started) {
      c.request_started = true;
      c.deadline_ms = MonotonicMs() + limits.request_deadline_ms;
    }
    HttpParse p = ParseHttpRequest(c.in, limits.http);
    switch (p.kind) {
      case HttpParse::Kind::kNeedMore:
        if (c.in.size() >= kMaxBufferedBytes) {
          Queue(c, RestErrorResponse(413, "request too large"), false, false);
        } else if (p.expects_continue && !c.continue_sent) {
          c.continue_sent = true;
          c.out += "HTTP/1.1 100 Continue\r\n\r\n";
          c.state = Connection::State::kWriting;
        }
        return;
      case HttpParse::Kind::kError:
        Queue(c, RestErrorResponse(p.error_status, p.error_message), false, false);
        return;
      case HttpParse::Kind::kRequest: {
        RestRequest r;
        r.method = std::move(p.request.method);
        r.path = std::move(p.request.target);
        r.authorization = std::move(p.request.authorization);
        r.body = std::move(p.request.body);
        r.body_too_large = p.request.body_too_large;
        const bool head_only = r.method == "HEAD";
        RestResponse answer;
        try {
          answer = handler(r);
        } catch (const std::exception& e) {
          Log(LogLevel::kError, std::string("rest: request failed: ") + e.what());
          answer = RestErrorResponse(500, "internal error");
        }
        c.in.erase(0, p.consumed);
        c.continue_sent = false;
        c.request_started = false;
        Queue(c, answer, p.request.keep_alive && !c.read_closed, head_only);
        return;
      }
    }
  }
}

void RestServer::Impl::Read(Connection& c) {
  char buf[kReadChunkBytes];
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      if (c.state == Connection::State::kLingering) continue;  // drained, dropped
      c.in.append(buf, static_cast<size_t>(n));
      if (c.in.size() >= kMaxBufferedBytes) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n == 0 && c.state != Connection::State::kLingering) {
      // A half-close after a whole request still gets its answer.
      c.read_closed = true;
      break;
    }
    c.fd.reset();
    return;
  }
  Process(c);
  if (c.read_closed) {
    if (c.state == Connection::State::kWriting) {
      c.close_after_write = true;
    } else {
      c.fd.reset();  // a request cut short is not answered
    }
  }
}

void RestServer::Impl::Write(Connection& c) {
  while (c.out_offset < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.out_offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    c.fd.reset();
    return;
  }
  c.out.clear();
  c.out_offset = 0;
  if (c.close_after_write) {
    // The client reads the answer before the end, not a reset: half-close,
    // then drain what it still sends for a moment.
    ::shutdown(c.fd.get(), SHUT_WR);
    c.state = Connection::State::kLingering;
    c.in.clear();
    c.deadline_ms = MonotonicMs() + limits.linger_ms;
    return;
  }
  c.state = Connection::State::kReading;
  c.deadline_ms =
      MonotonicMs() + (c.in.empty() ? limits.idle_timeout_ms : limits.request_deadline_ms);
  Process(c);  // a pipelined request may be waiting
}

void RestServer::Impl::Expire(Connection& c) {
  if (c.state == Connection::State::kReading && c.request_started) {
    Queue(c, RestErrorResponse(408, "request not complete in time"), false, false);
    c.deadline_ms = MonotonicMs() + limits.linger_ms;  // a short try to say so
    return;
  }
  c.fd.reset();
}

void RestServer::Impl::Run() {
  std::vector<pollfd> fds;
  std::vector<std::list<Connection>::iterator> order;
  while (!stopping) {
    const int64_t now = MonotonicMs();
    int64_t next = -1;
    fds.clear();
    order.clear();
    fds.push_back({wake.get(), POLLIN, 0});
    fds.push_back({listener.get(), POLLIN, 0});
    for (auto it = connections.begin(); it != connections.end(); ++it) {
      short events = it->state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({it->fd.get(), events, 0});
      order.push_back(it);
      const int64_t left = std::max<int64_t>(0, it->deadline_ms - now);
      next = next < 0 ? left : std::min(next, left);
    }
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(next));
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, std::string("rest: poll: ") + std::strerror(errno));
      return;
    }
    if (stopping) return;
    const int64_t after = MonotonicMs();
    for (size_t i = 0; i < order.size(); ++i) {
      Connection& c = *order[i];
      const short revents = n > 0 ? fds[i + 2].revents : 0;
      if (revents & (POLLERR | POLLNVAL)) {
        c.fd.reset();
      } else if (revents & POLLOUT) {
        Write(c);
      } else if (revents & (POLLIN | POLLHUP)) {
        Read(c);
        if (!Closed(c) && c.state == Connection::State::kWriting) Write(c);
      }
      if (!Closed(c) && after >= c.deadline_ms) Expire(c);
      if (Closed(c)) Forget(order[i]);
    }
    if (n > 0 && (fds[1].revents & POLLIN)) Accept();
  }
}

RestServer::RestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestServer::~RestServer() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->stopping = true;
  const uint64_t one = 1;
  (void)!::write(impl_->wake.get(), &one, sizeof one);
  impl_->thread.join();
}

const std::string& RestServer::url() const { return impl_->url; }

Result<std::unique_ptr<RestServer>> RestServer::Start(const RestConfig& config, Handler handler,
                                                      RestServerLimits limits) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host = config.address;
  if (in_addr a4{}; ::inet_pton(AF_INET, config.address.c_str(), &a4) == 1) {
    auto& s = reinterpret_cast<sockaddr_in&>(addr);
    s.sin_family = AF_INET;
    s.sin_port = htons(config.port);
    s.sin_addr = a4;
    addr_len = sizeof s;
  } else if (in6_addr a6{}; ::inet_pton(AF_INET6, config.address.c_str(), &a6) == 1) {
    auto& s = reinterpret_cast<sockaddr_in6&>(addr);
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(config.port);
    s.sin6_addr = a6;
    addr_len = sizeof s;
    host = "[" + config.address + "]";
  }
  const std::string url = "http://" + host + ":" + std::to_string(config.port);
  if (addr_len == 0) {
    return Status::Error("rest api on " + url + ": not an IPv4 or IPv6 address");
  }
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  impl->handler = std::move(handler);
  impl->limits = limits;
  impl->listener =
      UniqueFd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!impl->listener) return Status::FromErrno(errno, "rest api on " + url + ": socket");
  const int on = 1;
  ::setsockopt(impl->listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (addr.ss_family == AF_INET6) {
    ::setsockopt(impl->listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (::bind(impl->listener.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return Status::FromErrno(errno, "rest api on " + url + ": bind");
  }
  if (::listen(impl->listener.get(), 128) != 0) {
    return Status::FromErrno(errno, "rest api on " + url + ": listen");
  }
  impl->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl->spare = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!impl->wake || !impl->spare) {
    return Status::FromErrno(errno, "rest api on " + url + ": eventfd");
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<RestServer>(new RestServer(std::move(impl)));
}

}  // namespace ubc
