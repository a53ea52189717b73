#include "supervisor/fd_store.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <vector>

#include "supervisor/log.h"
#include "supervisor/privileges.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

constexpr size_t kMaxPacketBytes = 64 * 1024;

Status SendText(int sock, const std::string& text, int fd) {
  if (const int err = SendPacket(sock, text.data(), text.size(), fd, 0); err != 0) {
    return Status::Error(std::string("fd store send: ") + std::strerror(err));
  }
  return Status::Ok();
}

// One packet: its text and at most one fd.
Result<std::pair<std::string, UniqueFd>> ReceivePacket(int sock) {
  std::string buf(kMaxPacketBytes, '\0');
  std::vector<UniqueFd> fds;
  int flags = 0;
  const ssize_t n = ReceiveWithFds(sock, buf.data(), buf.size(), 0, &flags, &fds);
  if (n < 0) return Status::Error(std::string("fd store receive: ") + std::strerror(errno));
  if (n == 0) return Status::Error("fd store: peer closed");
  if ((flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || fds.size() > 1) {
    return Status::Error("fd store: oversized packet or too many fds");
  }
  buf.resize(static_cast<size_t>(n));
  return std::make_pair(std::move(buf), fds.empty() ? UniqueFd() : std::move(fds[0]));
}

// nlohmann's value() throws on a type mismatch; these never do.
std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool TrueField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

nlohmann::json ObjectField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nlohmann::json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : nlohmann::json::object();
}

struct Held {
  nlohmann::json meta;
  UniqueFd fd;
};

// An answer the client may not be there to read: a client that went away
// has nothing left to be told, and the store carries on.
void Reply(int client, const char* text) { (void)SendText(client, text, -1); }

void ServeClient(int client, std::map<std::string, Held>& held) {
  Result<std::pair<std::string, UniqueFd>> packet = ReceivePacket(client);
  if (!packet.ok()) return;
  nlohmann::json request = nlohmann::json::parse(packet->first, nullptr, false);
  const std::string op = StringField(request, "op");
  if (op == "put") {
    const std::string key = StringField(request, "key");
    if (!packet->second || key.empty()) {
      Reply(client, R"({"ok":false,"error":"put needs a key and one fd"})");
      return;
    }
    held[key] = Held{ObjectField(request, "meta"), std::move(packet->second)};
    Reply(client, R"({"ok":true})");
  } else if (op == "ping") {
    Reply(client, R"({"ok":true})");
  } else if (op == "list") {
    for (const auto& [key, h] : held) {
      nlohmann::json entry = {{"key", key}, {"meta", h.meta}};
      if (!SendText(client, entry.dump(), h.fd.get()).ok()) return;
    }
    Reply(client, R"({"op":"end"})");
  } else {
    Reply(client, R"({"ok":false,"error":"unknown op"})");
  }
}

// Drops the held fds whose filter hung up (the container is gone). Polled
// with a zero timeout, not watched with epoll: a watcher sits on the filter's
// wait queue and every notification of every container would walk it.
void DropHungUp(std::map<std::string, Held>& held) {
  if (held.empty()) return;
  std::vector<pollfd> fds;
  fds.reserve(held.size());
  for (const auto& [key, h] : held) fds.push_back(pollfd{h.fd.get(), 0, 0});
  if (::poll(fds.data(), fds.size(), 0) <= 0) return;
  size_t i = 0;
  for (auto it = held.begin(); it != held.end(); ++i) {
    it = (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ? held.erase(it) : std::next(it);
  }
}

}  // namespace

int RunFdStore(const std::string& socket_path) {
  Result<UniqueFd> bound = BindUnixSocket(socket_path, SOCK_SEQPACKET);
  if (!bound.ok()) {
    Log(LogLevel::kError, "fd store: " + bound.status().message());
    return 1;
  }
  UniqueFd sock = std::move(bound).value();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  UniqueFd sig(::signalfd(-1, &signals, SFD_CLOEXEC));
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = sock.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, sock.get(), &ev);
  ev.data.fd = sig.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, sig.get(), &ev);
  // Holding fds and passing them on needs no capability at all.
  if (Status s = DropPrivileges(/*keep_ptrace=*/false); !s.ok()) {
    Log(LogLevel::kWarning, "fd store: " + s.message());
  }
  Log(LogLevel::kInfo, "fd store listening on " + socket_path);

  std::map<std::string, Held> held;
  std::map<int, UniqueFd> clients;
  epoll_event events[64];
  // With no ubcd connected and no fd held there is nothing to keep: the
  // store leaves (ubcd starts a new one when it needs one).
  int idle_ticks = 0;
  constexpr auto kSweepInterval = std::chrono::milliseconds(500);
  auto next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
  for (;;) {
    int n = ::epoll_wait(ep.get(), events, 64, 500);
    if (n < 0 && errno == EINTR) continue;
    if (held.empty() && clients.empty()) {
      if (++idle_ticks >= 6) {
        Log(LogLevel::kInfo, "fd store idle, leaving");
        ::unlink(socket_path.c_str());
        return 0;
      }
    } else {
      idle_ticks = 0;
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == sig.get()) {
        Log(LogLevel::kInfo,
            "fd store stopping; " + std::to_string(held.size()) + " notify fds released");
        ::unlink(socket_path.c_str());
        return 0;
      }
      if (fd == sock.get()) {
        UniqueFd client(::accept4(sock.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) continue;
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(client.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            cred.uid != 0) {
          continue;  // only root (ubcd) may deposit or take fds
        }
        ev.events = EPOLLIN;
        ev.data.fd = client.get();
        ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, client.get(), &ev);
        clients[client.get()] = std::move(client);
        continue;
      }
      if (auto c = clients.find(fd); c != clients.end()) {
        if (events[i].events & (EPOLLHUP | EPOLLERR)) {
          ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
          clients.erase(c);
          continue;
        }
        ServeClient(fd, held);
      }
    }
    if (std::chrono::steady_clock::now() >= next_sweep) {
      DropHungUp(held);
      next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
    }
  }
}

FdStoreClient::FdStoreClient(std::string socket_path) : path_(std::move(socket_path)) {}

Status FdStoreClient::ConnectLocked() {
  if (conn_) return Status::Ok();
  Result<UniqueFd> s = ConnectUnixSocket(path_, SOCK_SEQPACKET);
  if (!s.ok()) return Status::Error("no fd store: " + s.status().message());
  timeval timeout{5, 0};
  ::setsockopt(s->get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  conn_ = std::move(s).value();
  ++generation_;
  return Status::Ok();
}

bool FdStoreClient::Alive() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ConnectLocked().ok()) return false;
    if (SendText(conn_.get(), R"({"op":"ping"})", -1).ok() && ReceivePacket(conn_.get()).ok()) {
      return true;
    }
    conn_.reset();  // the store went away; a new one may be listening
  }
  return false;
}

uint64_t FdStoreClient::generation() {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

Status FdStoreClient::Put(const std::string& key, const nlohmann::json& meta, int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json request = {{"op", "put"}, {"key", key}, {"meta", meta}};
  const std::string text = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // One reconnect: the store may have been restarted since the last call.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (Status s = ConnectLocked(); !s.ok()) return s;
    Status sent = SendText(conn_.get(), text, fd);
    Result<std::pair<std::string, UniqueFd>> reply =
        sent.ok() ? ReceivePacket(conn_.get()) : Result<std::pair<std::string, UniqueFd>>(sent);
    if (reply.ok()) {
      nlohmann::json r = nlohmann::json::parse(reply->first, nullptr, false);
      if (TrueField(r, "ok")) return Status::Ok();
      return Status::Error("fd store refused " + key + ": " + reply->first);
    }
    conn_.reset();
  }
  return Status::Error("fd store at " + path_ + " does not answer");
}

Result<std::vector<StoredFd>> FdStoreClient::List() {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = ConnectLocked(); !s.ok()) return s;
  if (Status s = SendText(conn_.get(), R"({"op":"list"})", -1); !s.ok()) {
    conn_.reset();
    return s;
  }
  std::vector<StoredFd> out;
  for (;;) {
    Result<std::pair<std::string, UniqueFd>> packet = ReceivePacket(conn_.get());
    if (!packet.ok()) {
      conn_.reset();
      return packet.status();
    }
    nlohmann::json entry = nlohmann::json::parse(packet->first, nullptr, false);
    if (StringField(entry, "op") == "end") break;
    const std::string key = StringField(entry, "key");
    if (key.empty() || !packet->second) continue;
    out.push_back(StoredFd{key, ObjectField(entry, "meta"), std::move(packet->second)});
  }
  return out;
}

}  // namespace ubc
