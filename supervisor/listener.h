// Listener: the unix socket runc and crun send seccomp notify fds to.
//
// Accepts connections from root peers only (SO_PEERCRED), reads container
// process states as the runtimes send them (one JSON message with its fds in
// SCM_RIGHTS, possibly split or several per connection, size bounded), takes
// the seccompFd of each message, closes every other fd and hands the listener
// fd to the OnFd callback. Connections stay open as the runtimes expect; a
// silent or misbehaving peer only costs its own connection. Run() is the body
// of one thread (epoll over the socket and all connections); Stop() may be
// called from any thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/container_state.h"
#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

struct PeerInfo {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class Listener {
 public:
  using OnFd = std::function<void(const ContainerProcessState&, UniqueFd, const PeerInfo&)>;

  static Result<std::unique_ptr<Listener>> Create(const std::string& path, OnFd on_fd);
  ~Listener();

  void Run();
  void Stop();

 private:
  struct Connection;
  Listener(UniqueFd socket, UniqueFd epoll, UniqueFd wake, OnFd on_fd);
  void Accept();
  // False when the connection must be closed.
  bool Read(Connection& c);
  bool Deliver(Connection& c, const std::string& message);

  UniqueFd socket_;
  UniqueFd epoll_;
  UniqueFd wake_;
  UniqueFd spare_;  // given up to accept-and-close when out of fds
  OnFd on_fd_;
  std::map<int, std::unique_ptr<Connection>> connections_;
};

}  // namespace ubc
