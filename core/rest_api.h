// RestApi: everything of ubcd's HTTP API that needs no socket (docs/rest-api.md).
//
// Routing (paths are percent-decoded per segment; an id that decodes to
// something with '/' is refused), method checks, bearer-token checks, body
// parsing and validation of limit changes (schemas/rest-limits.schema.json),
// and the JSON and text of every response. HandleRestRequest() maps one
// request to one response, calling a RestBackend for data; the HTTP adapter
// (supervisor/rest_server.cc) only translates to and from cpprestsdk and
// implements RestBackend over the Supervisor. Pure functions; thread-safe as
// long as the backend is (HandleRestRequest runs on any HTTP worker thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/beancounter.h"
#include "core/container_report.h"
#include "core/decision_metrics.h"
#include "core/limits_resolver.h"
#include "core/refusal_events.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

// Request bodies larger than this get 413: a limits change is under 100 bytes.
inline constexpr size_t kMaxRestBodyBytes = 64 * 1024;

// What the handler asks of ubcd. Implementations must be thread-safe.
class RestBackend {
 public:
  virtual ~RestBackend() = default;
  virtual std::vector<ContainerReport> ListContainers() = 0;
  virtual std::optional<ContainerReport> GetContainer(const std::string& id) = 0;
  // False when no container has this id.
  virtual bool SetLimits(const std::string& id, const LimitsChange& change) = 0;
  // Oldest first; nullopt for an unknown container.
  virtual std::optional<std::vector<RefusalEvent>> Events(const std::string& id) = 0;
  virtual DecisionMetricsSnapshot Metrics() = 0;
};

enum class RestRoute {
  kHealthz,           // /healthz
  kMetrics,           // /metrics
  kUserBeancounters,  // /v1/user_beancounters
  kContainers,        // /v1/containers
  kContainer,         // /v1/containers/{id}
  kContainerEvents,   // /v1/containers/{id}/events
};

struct RestTarget {
  RestRoute route = RestRoute::kHealthz;
  std::string container_id;  // decoded; set for kContainer and kContainerEvents
};

struct RestResponse {
  int http_status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;              // the Allow header of a 405
  bool www_authenticate = false;  // 401: send `WWW-Authenticate: Bearer realm="ubcd"`
};

struct RestRequest {
  std::string method;         // "GET", "PATCH", ...
  std::string path;           // as received: percent-encoded, may carry "?query"
  std::string authorization;  // the Authorization header, empty when absent
  std::string body;
  bool body_too_large = false;  // the adapter stopped reading at kMaxRestBodyBytes
};

// The route for a raw request path, or an error response (404 unknown path,
// 400 bad percent-encoding or an id with '/' or control characters).
struct RouteResult {
  std::optional<RestTarget> target;
  RestResponse error;
};
RouteResult RouteRestPath(std::string_view raw_path);

// "GET" or "GET, PATCH, PUT".
std::string_view AllowedMethods(RestRoute route);

// Percent-decoding of one path segment; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);

// True when `authorization` is "Bearer <token>" (scheme case-insensitive) and
// the token equals `token`, compared in constant time. An empty `token` never
// matches.
bool BearerTokenMatches(std::string_view authorization, std::string_view token);

// A limits change: the fields a PATCH sets, or every field for a PUT.

// Parses and validates a PATCH (`whole` false) or PUT (`whole` true) body.
// Errors name the field: "/privvmpages (\"12Q\"): must be ...".
Result<LimitsChange> ParseLimitsChange(std::string_view body, bool whole);

// Response documents (schemas/rest-*.schema.json); ordered so the id comes
// first and the fields read in the order the schemas list them.
nlohmann::ordered_json RestEventsJson(const std::string& id,
                                      const std::vector<RefusalEvent>& events);
nlohmann::ordered_json RestErrorJson(std::string_view message);
RestResponse RestErrorResponse(int http_status, std::string_view message);

// "2026-11-26T00:05:01.123456789Z".
std::string FormatRfc3339Nanos(int64_t time_unix_ns);

// The whole request: route, method, token, body, backend call, response.
// `token` is the API token; mutations without it get 401.
RestResponse HandleRestRequest(const RestRequest& request, RestBackend& backend,
                               std::string_view token);

}  // namespace ubc
