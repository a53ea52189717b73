// RestServer: the HTTP/1.1 server of ubcd's REST API (docs/rest-api.md), run
// by its HTTP process (supervisor/rest_worker.h).
//
// One thread, one poll loop over the listening socket and every connection,
// all non-blocking: requests are parsed by core/http_request.h and each is
// answered by the handler (in the HTTP process, the forwarder to ubcd),
// called on the loop thread one request at a time. The server holds what
// any local user can send it to bounds of its own, because cpprestsdk (its
// predecessor here) held none: connections in all and per peer (a local
// peer is its socket's uid, from the kernel: supervisor/tcp_peer.h), with
// a reserve only root can use, so a flood by one user never locks out
// another or root; a deadline for each request's head and body, for the
// idle time between kept-alive requests and for writing an answer; bounded
// heads and bodies. A connection over a cap gets a 503 and is closed at once;
// one past a deadline is closed (408 if a request was under way); out of fds,
// the server sheds the connection it cannot take (a spare fd kept for that)
// instead of spinning on accept. Every error answer is the API's JSON error
// body. Errors that end a connection are answered, then the connection is
// half-closed and drained briefly before it is closed, so the client reads
// the answer rather than a reset.
//
// The handler must outlive the server. Start() and the destructor (which
// stops the thread and closes every socket) from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/http_request.h"
#include "core/rest_api.h"
#include "core/status.h"
#include "core/supervisor_config.h"

namespace ubc {

struct RestServerLimits {
  size_t max_connections = 512;
  // Of max_connections, the ones only root (uid 0 on this host) may use.
  size_t reserved_for_root = 16;
  // Per peer other than root: a uid on this host, an address elsewhere.
  size_t max_connections_per_peer = 64;
  int64_t request_deadline_ms = 5000;  // from a request's first byte to its last
  int64_t idle_timeout_ms = 30000;     // a kept-alive connection between requests
  int64_t write_deadline_ms = 5000;    // for the client to take an answer
  int64_t linger_ms = 1000;            // draining after an error answer
  HttpLimits http{8 * 1024, 64, kMaxRestBodyBytes};
};

class RestServer {
 public:
  using Handler = std::function<RestResponse(const RestRequest&)>;
  // Listens until destroyed.
  static Result<std::unique_ptr<RestServer>> Start(const RestConfig& config, Handler handler,
                                                   RestServerLimits limits = RestServerLimits{});
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // "http://127.0.0.1:8765", "http://[::1]:8765".
  const std::string& url() const;

 private:
  struct Impl;
  explicit RestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ubc
