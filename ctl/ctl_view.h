// CtlView: what ubcctl prints, from the REST API's JSON (docs/rest-api.md).
//
// Parses the response documents back into plain values and renders the
// human-readable forms: the `top` table (sorted by held/barrier, fullest
// first), one container's summary, the refusal events table, and error
// replies. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/beancounter.h"
#include "core/status.h"

namespace ubc {

// One row of a container document's `resources` (dummies are not in it).
struct CtlResourceRow {
  std::string resource;
  std::string tracking;  // "enforced", "measured" or "untracked"
  uint64_t held = 0;
  uint64_t maxheld = 0;
  uint64_t barrier = 0;
  uint64_t limit = 0;
  uint64_t failcnt = 0;
};

struct CtlContainer {
  std::string id;
  std::string state;
  uint64_t processes = 0;
  uint64_t notify_fds = 0;
  std::string profile;
  std::string profile_source;
  std::string membership;
  BeancounterValues privvmpages;
  std::string source;  // of the privvmpages limits
  std::string source_detail;
  // Untracked (held 0, unlimited) when ubcd's document has none: an older ubcd.
  BeancounterValues shmpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  std::string shm_source;
  std::string shm_source_detail;
  BeancounterValues lockedpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  std::string locked_source;  // empty: ubcd predates lockedpages
  std::string locked_source_detail;
  std::vector<CtlResourceRow> resources;  // empty: ubcd predates them
};

Result<CtlContainer> CtlContainerFromJson(const nlohmann::json& doc);
// GET /v1/containers.
Result<std::vector<CtlContainer>> CtlContainersFromJson(const nlohmann::json& doc);

// held / barrier in percent; 0 for an unlimited or zero barrier.
double HeldPercentOfBarrier(const BeancounterValues& v);

// The `top` table, fullest first (ties by id), after a one-line `title`.
std::string RenderTop(std::vector<CtlContainer> containers, const std::string& title);

// `ubcctl status [ID]`: the /proc/user_beancounters columns for every row of
// each container's resources, with a last column marking the rows ubc does
// not enforce ("measured", "untracked"), and a legend.
std::string RenderStatus(const std::vector<CtlContainer>& containers);

// `ubcctl get ID` without --json.
std::string RenderContainer(const CtlContainer& c);

// `ubcctl events ID` without --json, from the events document.
Result<std::string> RenderEvents(const nlohmann::json& doc);

// "ubcd refused the request (404 Not Found): no container \"x\"".
std::string DescribeErrorReply(int http_status, const std::string& body);

// One path segment percent-encoded (unreserved characters kept).
std::string PercentEncodeSegment(std::string_view text);

}  // namespace ubc
