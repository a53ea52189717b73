#include "core/rest_api.h"

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <utility>

#include "core/container_report.h"
#include "core/json_depth.h"
#include "core/prometheus_text.h"
#include "core/schema_validator.h"
#include "core/ubc_table.h"
#include "core/units.h"

namespace ubc {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kContainersPrefix = "/v1/containers";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ErrnoName(int error_number) {
  switch (error_number) {
    case 0:
      return "old break";
    case ENOMEM:
      return "ENOMEM";
    case EAGAIN:
      return "EAGAIN";
    case ENOSYS:
      return "ENOSYS";
    case EPERM:
      return "EPERM";
    default:
      return "errno " + std::to_string(error_number);
  }
}

std::string Dump(const ojson& doc) {
  // Replace, not throw, on invalid UTF-8 (a comm is whatever the process chose).
  return doc.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

RestResponse JsonResponse(int http_status, const ojson& doc) {
  RestResponse r;
  r.http_status = http_status;
  r.body = Dump(doc);
  return r;
}

// Created once: the schema is compiled in and a validator is immutable.
Result<std::shared_ptr<const SchemaValidator>> LimitsValidator() {
  static const Result<std::shared_ptr<const SchemaValidator>> validator =
      SchemaValidator::Create("rest-limits.schema.json");
  return validator;
}

// valijson adds "failed to validate against a conditional schema" after the
// real violation of an if/then/else; it names nothing new.
std::string WithoutConditionalWrappers(const std::string& message) {
  constexpr std::string_view kWrapper = "failed to validate against a conditional schema";
  std::string out;
  size_t start = 0;
  while (start <= message.size()) {
    size_t end = message.find("; ", start);
    if (end == std::string::npos) end = message.size();
    std::string_view part(message.data() + start, end - start);
    if (part.find(kWrapper) == std::string_view::npos) {
      if (!out.empty()) out += "; ";
      out += part;
    }
    start = end + 2;
  }
  return out.empty() ? message : out;
}

// One bound of the object form: pages as an integer, or a vzctl value.
Result<uint64_t> BoundPages(const json& value, const std::string& pointer) {
  if (value.is_number_unsigned()) {
    const uint64_t pages = value.get<uint64_t>();
    return pages > kUnlimitedPages ? kUnlimitedPages : pages;
  }
  Result<uint64_t> pages = ParseVzValuePages(value.get<std::string>());
  if (!pages.ok()) return pages.status().Wrap(pointer);
  return pages;
}

Result<BarrierLimit> ParseBarrierLimitField(const json& value, const std::string& pointer) {
  BarrierLimit bl;
  if (value.is_string()) {
    Result<BarrierLimit> parsed = ParseVzBarrierLimit(value.get<std::string>());
    if (!parsed.ok()) return parsed.status().Wrap(pointer);
    bl = *parsed;
  } else {
    Result<uint64_t> barrier = BoundPages(value.at("barrier"), pointer + "/barrier");
    if (!barrier.ok()) return barrier.status();
    Result<uint64_t> limit = BoundPages(value.at("limit"), pointer + "/limit");
    if (!limit.ok()) return limit.status();
    bl = {*barrier, *limit};
  }
  // vzctl refuses this too: a barrier above the limit means the limit is
  // never reached and is almost always a swapped pair.
  if (bl.barrier_pages > bl.limit_pages) {
    return Status::Error(pointer + ": barrier " + FormatVzValuePages(bl.barrier_pages) +
                         " is above limit " + FormatVzValuePages(bl.limit_pages));
  }
  return bl;
}

// One bound of numproc's object form: tasks as an integer, or a count
// string ("240", "unlimited"; no suffixes).
Result<uint64_t> BoundCount(const json& value, const std::string& pointer) {
  if (value.is_number_unsigned()) {
    const uint64_t count = value.get<uint64_t>();
    return count > kUnlimitedPages ? kUnlimitedPages : count;
  }
  Result<uint64_t> count = ParseVzCount(value.get<std::string>());
  if (!count.ok()) return count.status().Wrap(pointer);
  return count;
}

// numproc counts tasks, not pages (BarrierLimit's *_pages fields hold
// counts): an integer for both bounds, a "B:L" string of counts, or
// {"barrier": B, "limit": L} with integers or count strings.
Result<BarrierLimit> ParseCountBarrierLimitField(const json& value, const std::string& pointer) {
  BarrierLimit bl;
  if (value.is_number_unsigned()) {
    const uint64_t count = value.get<uint64_t>();
    bl.barrier_pages = bl.limit_pages = count > kUnlimitedPages ? kUnlimitedPages : count;
  } else if (value.is_string()) {
    Result<BarrierLimit> parsed = ParseVzCountBarrierLimit(value.get<std::string>());
    if (!parsed.ok()) return parsed.status().Wrap(pointer);
    bl = *parsed;
  } else {
    Result<uint64_t> barrier = BoundCount(value.at("barrier"), pointer + "/barrier");
    if (!barrier.ok()) return barrier.status();
    Result<uint64_t> limit = BoundCount(value.at("limit"), pointer + "/limit");
    if (!limit.ok()) return limit.status();
    bl = {*barrier, *limit};
  }
  if (bl.barrier_pages > bl.limit_pages) {  // as for the page counters
    return Status::Error(pointer + ": barrier " + FormatVzValuePages(bl.barrier_pages) +
                         " is above limit " + FormatVzValuePages(bl.limit_pages));
  }
  return bl;
}

RestResponse NotFoundContainer(const std::string& id) {
  // The id is the client's: a 16 MiB one is not echoed whole.
  constexpr size_t kEchoBytes = 200;
  const std::string shown = id.size() > kEchoBytes ? id.substr(0, kEchoBytes) + "..." : id;
  return RestErrorResponse(404, "no container \"" + shown + "\"");
}

RestResponse HandleMutation(const RestRequest& request, const RestTarget& target,
                            RestBackend& backend, std::string_view token) {
  if (!BearerTokenMatches(request.authorization, token)) {
    RestResponse r = RestErrorResponse(
        401, request.authorization.empty()
                 ? "changing limits needs \"Authorization: Bearer <token>\" (the token file)"
                 : "wrong bearer token");
    r.www_authenticate = true;
    return r;
  }
  if (request.body_too_large) {
    return RestErrorResponse(
        413, "request body larger than " + std::to_string(kMaxRestBodyBytes) + " bytes");
  }
  Result<LimitsChange> change = ParseLimitsChange(request.body, request.method == "PUT");
  if (!change.ok()) return RestErrorResponse(400, change.status().message());
  if (!backend.SetLimits(target.container_id, *change)) {
    return NotFoundContainer(target.container_id);
  }
  std::optional<ContainerReport> c = backend.GetContainer(target.container_id);
  if (!c) return NotFoundContainer(target.container_id);
  return JsonResponse(200, ContainerReportJson(*c));
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexDigit(text[i + 1]);
    const int lo = HexDigit(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

RouteResult RouteRestPath(std::string_view raw_path) {
  RouteResult result;
  std::string_view path = raw_path.substr(0, raw_path.find_first_of("?#"));
  auto found = [&result](RestRoute route, std::string id = {}) {
    result.target = RestTarget{route, std::move(id)};
    return result;
  };
  if (path == "/healthz") return found(RestRoute::kHealthz);
  if (path == "/metrics") return found(RestRoute::kMetrics);
  if (path == "/v1/user_beancounters") return found(RestRoute::kUserBeancounters);
  if (path == kContainersPrefix) return found(RestRoute::kContainers);

  result.error = RestErrorResponse(
      404, "no such path \"" + std::string(path.substr(0, 200)) + "\" (see docs/rest-api.md)");
  if (path.substr(0, kContainersPrefix.size() + 1) != "/v1/containers/") return result;
  std::string_view rest = path.substr(kContainersPrefix.size() + 1);
  std::string_view raw_id = rest.substr(0, rest.find('/'));
  std::string_view tail =
      raw_id.size() == rest.size() ? std::string_view() : rest.substr(raw_id.size());
  RestRoute route;
  if (tail.empty()) {
    route = RestRoute::kContainer;
  } else if (tail == "/events") {
    route = RestRoute::kContainerEvents;
  } else {
    return result;
  }
  if (raw_id.empty()) return result;
  std::optional<std::string> id = PercentDecode(raw_id);
  if (!id) {
    result.error = RestErrorResponse(400, "invalid percent-encoding in container id");
    return result;
  }
  // A decoded '/' would make ids and sub-resources ambiguous; OCI ids never
  // contain one, nor control characters.
  if (id->find('/') != std::string::npos) {
    result.error = RestErrorResponse(400, "container id must not contain '/'");
    return result;
  }
  for (unsigned char c : *id) {
    if (c < 0x20 || c == 0x7f) {
      result.error = RestErrorResponse(400, "container id must not contain control characters");
      return result;
    }
  }
  return found(route, std::move(*id));
}

std::string_view AllowedMethods(RestRoute route) {
  return route == RestRoute::kContainer ? "GET, PATCH, PUT" : "GET";
}

bool BearerTokenMatches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  // Constant time in the token's contents, so response timing does not leak
  // how many leading characters were right.
  unsigned diff = given.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned>(static_cast<unsigned char>(g ^ token[i]));
  }
  return diff == 0;
}

Result<LimitsChange> ParseLimitsChange(std::string_view body, bool whole) {
  if (Status s = CheckJsonDepth(body, "request body"); !s.ok()) return s;
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Status::Error(body.empty() ? "empty request body: expected a JSON object such as "
                                        "{\"privvmpages\": \"1024:2048\"}"
                                      : "request body is not valid JSON");
  }
  Result<std::shared_ptr<const SchemaValidator>> validator = LimitsValidator();
  if (!validator.ok()) return validator.status();
  for (const char* field : {"privvmpages", "shmpages", "lockedpages"}) {
    if (auto it = doc.find(field);
        doc.is_object() && it != doc.end() && !it->is_string() && !it->is_object()) {
      // The schema's if/then/else would only say "type not permitted".
      return Status::Error("request body: /" + std::string(field) + " (" + it->dump() +
                           "): must be a vzctl value such as \"1024:2048\", or {\"barrier\": B, "
                           "\"limit\": L}");
    }
  }
  if (auto it = doc.find("numproc"); doc.is_object() && it != doc.end() && !it->is_string() &&
                                     !it->is_object() && !it->is_number_integer()) {
    return Status::Error("request body: /numproc (" + it->dump() +
                         "): must be a number of tasks such as 240, \"200:240\" or "
                         "\"unlimited\", or {\"barrier\": B, \"limit\": L}");
  }
  if (Status s = (*validator)->Validate(doc, "request body"); !s.ok()) {
    return Status::Error(WithoutConditionalWrappers(s.message()));
  }
  LimitsChange change;
  try {
    if (auto it = doc.find("privvmpages"); it != doc.end()) {
      Result<BarrierLimit> bl = ParseBarrierLimitField(*it, "/privvmpages");
      if (!bl.ok()) return bl.status().Wrap("request body");
      change.privvmpages = *bl;
    }
    if (auto it = doc.find("shmpages"); it != doc.end()) {
      Result<BarrierLimit> bl = ParseBarrierLimitField(*it, "/shmpages");
      if (!bl.ok()) return bl.status().Wrap("request body");
      change.shmpages = *bl;
    }
    if (auto it = doc.find("meminfo"); it != doc.end()) {
      Result<MeminfoMode> mode = ParseMeminfoMode(it->get<std::string>());
      if (!mode.ok()) return mode.status().Wrap("request body: /meminfo");
      change.meminfo = *mode;
    }
    if (auto it = doc.find("lockedpages"); it != doc.end()) {
      Result<BarrierLimit> bl = ParseBarrierLimitField(*it, "/lockedpages");
      if (!bl.ok()) return bl.status().Wrap("request body");
      change.lockedpages = *bl;
    }
    if (auto it = doc.find("numproc"); it != doc.end()) {
      Result<BarrierLimit> bl = ParseCountBarrierLimitField(*it, "/numproc");
      if (!bl.ok()) return bl.status().Wrap("request body");
      change.numproc = *bl;
    }
  } catch (const std::exception& e) {
    // Unreachable for a schema-valid body; keeps a schema edit from becoming
    // an exception.
    return Status::Error(std::string("request body: ") + e.what());
  }
  if (whole && !change.privvmpages) {
    return Status::Error(
        "request body: /privvmpages: required (PUT replaces the limits object: privvmpages, "
        "and shmpages, numproc and lockedpages when given; use PATCH to change some fields)");
  }
  return change;
}

std::string FormatRfc3339Nanos(int64_t time_unix_ns) {
  if (time_unix_ns < 0) time_unix_ns = 0;
  const time_t seconds = static_cast<time_t>(time_unix_ns / 1000000000);
  const long nanos = static_cast<long>(time_unix_ns % 1000000000);
  struct tm tm = {};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
  return buf;
}

ojson RestEventsJson(const std::string& id, const std::vector<RefusalEvent>& events) {
  ojson list = ojson::array();
  for (const RefusalEvent& e : events) {
    list.push_back({
        {"time", FormatRfc3339Nanos(e.time_unix_ns)},
        {"time_unix_ns", e.time_unix_ns < 0 ? 0 : e.time_unix_ns},
        {"pid", e.pid},
        {"comm", e.comm},
        {"syscall", e.syscall},
        {"resource", e.resource},
        {"requested_pages", e.requested_pages},
        {"held_pages", e.held_pages},
        {"checked", ChargeCheckName(e.checked)},
        {"bound_pages", e.bound_pages},
        {"errno", e.error_number < 0 ? 0 : e.error_number},
        {"signal", e.signal_number < 0 ? 0 : e.signal_number},
        // An exec'd image over the limit is not answered: it is killed.
        {"returned", e.signal_number > 0 ? "killed (signal " + std::to_string(e.signal_number) + ")"
                                         : ErrnoName(e.error_number)},
    });
  }
  return {{"id", id}, {"events", std::move(list)}};
}

ojson RestErrorJson(std::string_view message) {
  return {{"error", message.empty() ? std::string("error") : std::string(message)}};
}

RestResponse RestErrorResponse(int http_status, std::string_view message) {
  return JsonResponse(http_status, RestErrorJson(message));
}

RestResponse HandleRestRequest(const RestRequest& request, RestBackend& backend,
                               std::string_view token) {
  RouteResult routed = RouteRestPath(request.path);
  if (!routed.target) return routed.error;
  const RestTarget& target = *routed.target;

  const bool is_get = request.method == "GET";
  const bool is_mutation = target.route == RestRoute::kContainer &&
                           (request.method == "PATCH" || request.method == "PUT");
  if (!is_get && !is_mutation) {
    RestResponse r = RestErrorResponse(
        405, "method " + request.method.substr(0, 32) +
                 " not allowed here (allowed: " + std::string(AllowedMethods(target.route)) + ")");
    r.allow = AllowedMethods(target.route);
    return r;
  }
  if (is_mutation) return HandleMutation(request, target, backend, token);
  // A GET has no use for a body; a huge one is a client bug or an attack.
  if (request.body_too_large) {
    return RestErrorResponse(
        413, "request body larger than " + std::to_string(kMaxRestBodyBytes) + " bytes");
  }

  switch (target.route) {
    case RestRoute::kHealthz: {
      RestResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "ok\n";
      return r;
    }
    case RestRoute::kMetrics: {
      std::vector<MetricsContainer> metrics;
      for (const ContainerReport& c : backend.ListContainers()) {
        const ContainerCounters counters = CountersOf(c);
        metrics.push_back({c.id, c.retired, c.notify_fds, c.processes, c.privvmpages, c.shmpages,
                           c.measured, counters.numproc_enforced, c.lockedpages,
                           counters.lockedpages_enforced});
      }
      RestResponse r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = RenderPrometheusMetrics(metrics, backend.Metrics());
      return r;
    }
    case RestRoute::kUserBeancounters: {
      std::vector<ContainerCounters> counters;
      for (const ContainerReport& c : backend.ListContainers()) {
        counters.push_back(CountersOf(c));
      }
      RestResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = RenderUserBeancounters(counters);
      return r;
    }
    case RestRoute::kContainers:
      return JsonResponse(200, ContainerReportsJson(backend.ListContainers()));
    case RestRoute::kContainer: {
      std::optional<ContainerReport> c = backend.GetContainer(target.container_id);
      if (!c) return NotFoundContainer(target.container_id);
      return JsonResponse(200, ContainerReportJson(*c));
    }
    case RestRoute::kContainerEvents: {
      std::optional<std::vector<RefusalEvent>> events = backend.Events(target.container_id);
      if (!events) return NotFoundContainer(target.container_id);
      return JsonResponse(200, RestEventsJson(target.container_id, *events));
    }
  }
  return RestErrorResponse(500, "unhandled route");
}

}  // namespace ubc
