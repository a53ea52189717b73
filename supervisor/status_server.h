// StatusServer: the local socket `ubcd --status` reads the beancounters from.
//
// A unix stream socket (mode 0600) in its own thread: a client writes one
// request line ("text" or "json") and reads the answer until EOF. Clients are
// served one at a time with a short receive timeout, so a silent client delays
// other status readers by at most that long and never the notify threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

class StatusServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;
  static Result<std::unique_ptr<StatusServer>> Create(const std::string& path, Handler handler);
  // The body of the status thread; returns after Stop().
  void Run();
  // Makes Run() return (from any thread).
  void Stop();

 private:
  StatusServer(UniqueFd socket, Handler handler);
  UniqueFd socket_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
};

// Client side: sends `request` to the socket at `path` and returns the reply.
Result<std::string> QueryStatus(const std::string& path, const std::string& request);

}  // namespace ubc
