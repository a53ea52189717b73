#include "supervisor/rest_bridge.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/rest_frame.h"
#include "supervisor/log.h"
#include "supervisor/rest_keeper.h"
#include "supervisor/supervisor.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

std::vector<ContainerReport> SupervisorRestBackend::ListContainers() {
  return supervisor_.ListContainers();
}
std::optional<ContainerReport> SupervisorRestBackend::GetContainer(const std::string& id) {
  return supervisor_.GetContainer(id);
}
bool SupervisorRestBackend::SetLimits(const std::string& id, const LimitsChange& change) {
  return supervisor_.SetLimits(id, change);
}
std::optional<std::vector<RefusalEvent>> SupervisorRestBackend::Events(const std::string& id) {
  return supervisor_.Events(id);
}
DecisionMetricsSnapshot SupervisorRestBackend::Metrics() { return supervisor_.Metrics(); }

RestBridge::RestBridge(RestBackend& backend, std::string token, int keeper_link)
    : backend_(backend),
      token_(std::move(token)),
      keeper_link_(keeper_link),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

RestBridge::~RestBridge() = default;

void RestBridge::Stop() {
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void RestBridge::SetToken(std::string token) {
  std::lock_guard<std::mutex> lock(token_mu_);
  token_ = std::move(token);
}

std::string RestBridge::Token() {
  std::lock_guard<std::mutex> lock(token_mu_);
  return token_;
}

void RestBridge::Adopt(UniqueFd worker) { worker_ = std::move(worker); }

void RestBridge::ReadKeeperReport() {
  RestKeeperReport report;
  std::vector<UniqueFd> fds;
  int flags = 0;
  const ssize_t n =
      ReceiveWithFds(keeper_link_, &report, sizeof report, MSG_DONTWAIT, &flags, &fds);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    Log(LogLevel::kError, "rest: the keeper of the HTTP process is gone; the REST API stays down");
    keeper_link_ = -1;
    return;
  }
  if (n != static_cast<ssize_t>(sizeof report) || (flags & MSG_TRUNC) != 0) {
    LogLimited(LogLevel::kError, "rest keeper report", "malformed keeper reports",
               "rest: a malformed report from the keeper, ignored");
    return;
  }
  const std::string who = "rest: HTTP process (pid " + std::to_string(report.pid) + ", uid " +
                          std::to_string(report.uid) + ")";
  switch (report.kind) {
    case RestKeeperReport::kStarted:
      if (fds.size() != 1) return;
      worker_ = std::move(fds[0]);
      LogLimited(LogLevel::kInfo, "rest worker started", "starts of the HTTP process",
                 who + " started");
      return;
    case RestKeeperReport::kExited:
      LogLimited(LogLevel::kWarning, "rest worker exited", "exits of the HTTP process",
                 who + " " + DescribeExit(report.wait_status) + "; the next starts in " +
                     std::to_string(report.next_start_ms) + " ms");
      return;
    case RestKeeperReport::kFailed:
      LogLimited(LogLevel::kError, "rest worker failed", "failed starts of the HTTP process",
                 std::string("rest: the HTTP process could not start: ") +
                     std::strerror(report.error_number) +
                     (report.next_start_ms != 0
                          ? "; trying again in " + std::to_string(report.next_start_ms) + " ms"
                          : ""));
      return;
    default:
      LogLimited(LogLevel::kError, "rest keeper report", "malformed keeper reports",
                 "rest: a keeper report of unknown kind, ignored");
  }
}

bool RestBridge::ServeOne() {
  const int fd = worker_.get();
  Result<std::string> payload = ReceiveRestFrame(fd, kMaxRestRequestFrameBytes, kFrameDeadlineMs);
  if (!payload.ok()) {
    // Gone or stalled needs no line; a frame over its bound does.
    if (payload.status().error_number() == 0) {
      LogLimited(
          LogLevel::kError, "rest frame", "bad frames from the HTTP process",
          "rest: " + payload.status().message() + "; dropping the HTTP process's connection");
    }
    return false;
  }
  Result<RestRequestFrame> frame = DecodeRestRequestFrame(*payload);
  if (!frame.ok()) {
    LogLimited(LogLevel::kError, "rest frame", "bad frames from the HTTP process",
               "rest: " + frame.status().message() + "; dropping the HTTP process's connection");
    return false;
  }
  RestResponseFrame reply;
  reply.id = frame->id;
  reply.response = HandleRestRequest(frame->request, backend_, Token());
  return SendAll(fd, EncodeRestResponseFrame(reply), kFrameDeadlineMs);
}

void RestBridge::Run() {
  // Decisions first: the requests of any local user wait behind them.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kBridgeNice);
  while (!stopping_) {
    pollfd p[3] = {{wake_.get(), POLLIN, 0}, {keeper_link_, POLLIN, 0}, {worker_.get(), POLLIN, 0}};
    const int n = ::poll(p, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, std::string("rest: poll: ") + std::strerror(errno));
      return;
    }
    if (stopping_) return;
    if (p[1].revents != 0) ReadKeeperReport();
    // A report may have replaced the worker socket polled.
    if (p[2].revents != 0 && worker_ && worker_.get() == p[2].fd) {
      if ((p[2].revents & POLLIN) == 0 || !ServeOne()) worker_.reset();
    }
  }
}

}  // namespace ubc
