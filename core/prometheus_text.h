// Prometheus text exposition (format 0.0.4) of ubcd's counters, for GET /metrics.
//
// Renders per container and resource the beancounter values (held, maxheld,
// barrier, limit as gauges in pages; failcnt as a counter), the container's
// notify fds and processes, every row of /proc/user_beancounters with its
// marker (ubc_resource_tracking) and, for the tracked ones, their values in
// the row's own unit (ubc_resource_*), the number of containers by state, decisions by
// syscall and verdict, and the decision latency histogram. DecisionMetrics
// keeps non-cumulative buckets; Prometheus wants cumulative `le` buckets, so
// they are summed here, and `_count` is the +Inf bucket so the two always
// agree even though a snapshot is not one atomic cut. Pure functions over
// plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/beancounter.h"
#include "core/decision_metrics.h"
#include "core/resource_rows.h"

namespace ubc {

// What /metrics shows of one container.
struct MetricsContainer {
  std::string id;
  bool retired = false;
  int notify_fds = 0;
  uint64_t processes = 0;
  BeancounterValues privvmpages;
  BeancounterValues shmpages;
  MeasuredResources measured;
  bool numproc_enforced = false;
  BeancounterValues lockedpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  bool lockedpages_enforced = false;
};

std::string RenderPrometheusMetrics(const std::vector<MetricsContainer>& containers,
                                    const DecisionMetricsSnapshot& decisions);

// A label value with backslash, double quote and newline escaped.
std::string EscapePrometheusLabelValue(std::string_view value);

// A float sample or `le` value in the shortest form that reads back exactly
// ("5e-06", "0.25", "1"); infinities as "+Inf"/"-Inf".
std::string FormatPrometheusFloat(double value);

}  // namespace ubc
