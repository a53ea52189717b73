#include "supervisor/rest_worker.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/rest_frame.h"
#include "supervisor/log.h"
#include "supervisor/rest_server.h"
#include "supervisor/unix_socket.h"

namespace ubc {

RestResponse RestForwarder::Break(const char* why) {
  if (!broken_.exchange(true)) {
    Log(LogLevel::kError, std::string("rest: ubcd ") + why + "; the HTTP process exits");
    ::shutdown(socket_, SHUT_RDWR);
  }
  return RestErrorResponse(503, "ubcd is not answering");
}

RestResponse RestForwarder::Forward(const RestRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return RestErrorResponse(503, "ubcd is not answering");
  RestRequestFrame frame;
  frame.id = next_id_++;
  frame.request = request;
  if (!SendAll(socket_, EncodeRestRequestFrame(frame), kForwardDeadlineMs)) {
    return Break("did not take a request");
  }
  Result<std::string> payload =
      ReceiveRestFrame(socket_, kMaxRestResponseFrameBytes, kForwardDeadlineMs);
  if (!payload.ok()) {
    return Break(payload.status().error_number() != 0 ? "did not answer in time"
                                                      : "sent an oversized answer");
  }
  Result<RestResponseFrame> reply = DecodeRestResponseFrame(*payload);
  if (!reply.ok() || reply->id != frame.id) return Break("sent a malformed answer");
  return std::move(reply->response);
}

int RunRestWorker(int ubcd_socket, const RestConfig& config) {
  // exec made it dumpable again: no core file, no ptrace by others of its uid.
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (::geteuid() == 0) {
    Log(LogLevel::kWarning, "rest: the HTTP process runs as root (started outside ubcd's keeper)");
  }
  const rlimit fds{kWorkerFdLimit, kWorkerFdLimit};
  const rlimit data{kWorkerDataBytes, kWorkerDataBytes};
  if (::setrlimit(RLIMIT_NOFILE, &fds) != 0 || ::setrlimit(RLIMIT_DATA, &data) != 0) {
    Log(LogLevel::kWarning, std::string("rest: HTTP process limits: ") + std::strerror(errno));
  }
  RestForwarder forwarder(ubcd_socket);
  Result<std::unique_ptr<RestServer>> server = RestServer::Start(
      config, [&forwarder](const RestRequest& request) { return forwarder.Forward(request); });
  if (!server.ok()) {
    Log(LogLevel::kError, "rest api not started: " + server.status().message());
    return 2;
  }
  Log(LogLevel::kInfo, "rest api on " + (*server)->url() + " (HTTP process pid " +
                           std::to_string(::getpid()) + ", uid " + std::to_string(::getuid()) +
                           ")");
  // Only a hang-up wakes this thread: answers are the forwarder's to read.
  for (;;) {
    pollfd p{ubcd_socket, POLLRDHUP, 0};
    const int n = ::poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) break;
  }
  return 0;
}

}  // namespace ubc
