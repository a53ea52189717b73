// RestBridge: ubcd's side of its HTTP process (supervisor/rest_keeper.h,
// supervisor/rest_worker.h): answers the requests the worker forwards.
//
// The worker parses HTTP; the bridge decides everything else with
// HandleRestRequest() (core/rest_api.h): routing, the token (which never
// leaves ubcd), the backend calls, the response. Frames (core/rest_frame.h)
// come one at a time over a stream socket; ubcd trusts the worker no further
// than a frame's shape: a frame over its bound, malformed, or not complete
// within kFrameDeadlineMs, and a response the worker does not take within
// kFrameDeadlineMs, close that worker's socket (it then exits and the keeper
// starts another). The bridge also reads the keeper's reports (new worker
// sockets, exits) and logs them, rate-limited.
//
// Run() is the body of one thread, which runs at a lower CPU priority than
// the notify threads (nice kBridgeNice): a flood of REST requests competes
// for the CPU after the decisions. It owns the keeper link and the current
// worker socket. Stop() and SetToken() from any thread; the backend must
// outlive the bridge and be thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "core/rest_api.h"
#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

class Supervisor;

inline constexpr int64_t kFrameDeadlineMs = 2000;
inline constexpr int kBridgeNice = 10;

// The RestBackend over a Supervisor (its status API takes short locks).
class SupervisorRestBackend : public RestBackend {
 public:
  explicit SupervisorRestBackend(Supervisor& supervisor) : supervisor_(supervisor) {}
  std::vector<ContainerReport> ListContainers() override;
  std::optional<ContainerReport> GetContainer(const std::string& id) override;
  bool SetLimits(const std::string& id, const LimitsChange& change) override;
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id) override;
  DecisionMetricsSnapshot Metrics() override;

 private:
  Supervisor& supervisor_;
};

class RestBridge {
 public:
  // `keeper_link`: the keeper's SOCK_SEQPACKET link (borrowed; the
  // RestKeeper owns it), or -1 to serve only sockets given to Adopt().
  RestBridge(RestBackend& backend, std::string token, int keeper_link);
  ~RestBridge();
  RestBridge(const RestBridge&) = delete;
  RestBridge& operator=(const RestBridge&) = delete;

  // Serves until Stop().
  void Run();
  void Stop();
  // Replaces the token (SIGHUP after the file was rotated): requests after
  // this one are checked against the new one.
  void SetToken(std::string token);
  // Serves `worker` instead of the current worker socket (tests; the keeper's
  // kStarted reports do the same). Before Run() or from Run()'s thread.
  void Adopt(UniqueFd worker);

 private:
  std::string Token();
  void ReadKeeperReport();
  // One request from the worker: false when its socket must be closed.
  bool ServeOne();

  RestBackend& backend_;
  std::mutex token_mu_;
  std::string token_;
  int keeper_link_;
  UniqueFd worker_;
  UniqueFd wake_;  // eventfd: Stop()
  std::atomic<bool> stopping_{false};
};

}  // namespace ubc
