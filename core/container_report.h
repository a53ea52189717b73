// ContainerReport: one container as ubcd reports it, and its JSON document.
//
// The one type behind `GET /v1/containers[/{id}]` and `ubcd --status --json`
// (schemas/rest-container.schema.json, rest-containers.schema.json): both
// print ContainerReportJson / ContainerReportsJson, so the two views cannot
// drift apart. Besides the enforced page counters, "resources" lists every
// row of /proc/user_beancounters but the dummies, in its order and unit, with
// its marker (core/resource_rows.h). Plain values; the functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/beancounter.h"
#include "core/limits_resolver.h"
#include "core/resource_rows.h"

namespace ubc {

struct ContainerReport {
  std::string id;
  bool retired = false;
  int notify_fds = 0;
  uint64_t processes = 0;
  std::string profile;
  std::string membership;
  ResolvedLimits limits;
  BeancounterValues privvmpages;
  BeancounterValues shmpages;
  BeancounterValues lockedpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  // numproc, physpages, kmemsize, numfile as the kernel shows them (sampled
  // at most once a second, never on the notify path).
  MeasuredResources measured;
};

// The counters of the text table, the JSON rows and the metrics.
ContainerCounters CountersOf(const ContainerReport& container);

// Ordered so the id comes first and the fields read in the order the schemas
// list them.
nlohmann::ordered_json ContainerReportJson(const ContainerReport& container);
nlohmann::ordered_json ContainerReportsJson(const std::vector<ContainerReport>& containers);

}  // namespace ubc
