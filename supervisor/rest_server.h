// RestServer: ubcd's HTTP API (docs/rest-api.md), the only user of cpprestsdk.
//
// Owns a cpprestsdk http_listener on rest.address:rest.port and translates each
// request into a RestRequest for HandleRestRequest() (core/rest_api.h), with a
// RestBackend over the Supervisor. Requests run on cpprestsdk's own thread
// pool, never on the notification threads; they call only the Supervisor's
// status API, which takes short locks, so a slow or hostile HTTP client cannot
// delay a decision. Bodies are read asynchronously and capped at
// kMaxRestBodyBytes (the rest is drained and discarded, then 413). Every
// cpprestsdk exception is caught here. The Supervisor must outlive the server;
// Start/Stop and the destructor are called from one thread (main).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/supervisor_config.h"

namespace ubc {

class Supervisor;

class RestServer {
 public:
  // Listens until destroyed. `token` guards PATCH/PUT (supervisor/api_token.h).
  static Result<std::unique_ptr<RestServer>> Start(const RestConfig& config, std::string token,
                                                   Supervisor& supervisor);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // "http://127.0.0.1:8765".
  const std::string& url() const;
  // Replaces the token (SIGHUP after the file was rotated); requests already
  // being handled finish with the one they started with. Thread-safe.
  void SetToken(std::string token);

 private:
  struct Impl;
  explicit RestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ubc
