// RestWorker: ubcd's HTTP process, `ubcd --rest-worker`, started by the
// keeper (supervisor/rest_keeper.h) as its own unprivileged user.
//
// It runs the cpprestsdk server (supervisor/rest_server.h) and forwards every
// request over fd 3 to ubcd (supervisor/rest_bridge.h), which answers it: the
// token, the counters and every decision stay in ubcd. Its own limits bound
// what a flood can cost it (kWorkerFdLimit fds, kWorkerDataBytes of data);
// whatever happens to it, ubcd's fds, memory and threads are untouched. It
// exits when ubcd's end closes or ubcd stops answering (the keeper starts a
// new one).
//
// RestForwarder is the forwarding handler: one request in flight at a time
// (cpprestsdk's other threads wait their turn), each answered within
// kForwardDeadlineMs or 503. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/rest_api.h"
#include "core/supervisor_config.h"

namespace ubc {

inline constexpr uint64_t kWorkerFdLimit = 4096;
inline constexpr uint64_t kWorkerDataBytes = 512ULL * 1024 * 1024;
inline constexpr int64_t kForwardDeadlineMs = 5000;

class RestForwarder {
 public:
  // `ubcd_socket` is borrowed.
  explicit RestForwarder(int ubcd_socket) : socket_(ubcd_socket) {}
  RestResponse Forward(const RestRequest& request);
  // After a failed round trip the socket is shut down and every later
  // request is 503: the process is about to exit.
  bool broken() const { return broken_; }

 private:
  RestResponse Break(const char* why);
  int socket_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::atomic<bool> broken_{false};
};

// The process's main: serves `config.address:config.port` until ubcd goes.
// The exit status is 0 when ubcd closed the socket, 2 when the server could
// not start.
int RunRestWorker(int ubcd_socket, const RestConfig& config);

}  // namespace ubc
