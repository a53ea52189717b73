#include "core/prometheus_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

namespace ubc {
namespace {

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

std::string Label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + EscapePrometheusLabelValue(value) + "\"";
}

void AppendSample(std::string& out, std::string_view name, const std::string& labels,
                  const std::string& value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

// One gauge or counter with a sample per container.
template <typename Getter>
void AppendPerContainer(std::string& out, const std::vector<MetricsContainer>& containers,
                        std::string_view name, std::string_view type, std::string_view help,
                        Getter get) {
  AppendHeader(out, name, type, help);
  for (const MetricsContainer& c : containers) {
    AppendSample(out, name, Label("container", c.id), std::to_string(get(c)));
  }
}

// One gauge or counter with a sample per container and beancounter.
template <typename Getter>
void AppendPerBeancounter(std::string& out, const std::vector<MetricsContainer>& containers,
                          std::string_view name, std::string_view type, std::string_view help,
                          Getter get) {
  AppendHeader(out, name, type, help);
  for (const MetricsContainer& c : containers) {
    const std::pair<const char*, const BeancounterValues*> resources[] = {
        {"privvmpages", &c.privvmpages},
        {"shmpages", &c.shmpages},
        {"lockedpages", &c.lockedpages}};
    for (const auto& [resource, values] : resources) {
      AppendSample(out, name, Label("container", c.id) + "," + Label("resource", resource),
                   std::to_string(get(*values)));
    }
  }
}

ContainerCounters CountersOf(const MetricsContainer& c) {
  ContainerCounters counters;
  counters.ctid = c.id;
  counters.privvmpages = c.privvmpages;
  counters.shmpages = c.shmpages;
  counters.measured = c.measured;
  counters.numproc_enforced = c.numproc_enforced;
  counters.lockedpages = c.lockedpages;
  counters.lockedpages_enforced = c.lockedpages_enforced;
  return counters;
}

// The rows of the table: a marker for each, values for the tracked ones.
void AppendResourceRows(std::string& out, const std::vector<MetricsContainer>& containers) {
  std::vector<std::pair<std::string, std::array<ResourceRow, kResourceRowCount>>> all;
  all.reserve(containers.size());
  for (const MetricsContainer& c : containers) all.emplace_back(c.id, ResourceRows(CountersOf(c)));
  AppendHeader(out, "ubc_resource_tracking", "gauge",
               "1 for each row of /proc/user_beancounters: enforced (refused past the limit), "
               "measured (read from the kernel, not enforced) or untracked (held 0).");
  for (const auto& [id, rows] : all) {
    for (const ResourceRow& row : rows) {
      if (std::string_view(row.name) == "dummy") continue;
      AppendSample(out, "ubc_resource_tracking",
                   Label("container", id) + "," + Label("resource", row.name) + "," +
                       Label("tracking", TrackingName(row.tracking)),
                   "1");
    }
  }
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    uint64_t BeancounterValues::*field;
  };
  const Series series[] = {
      {"ubc_resource_held", "gauge", "Held now, in the row's unit (label unit).",
       &BeancounterValues::held_pages},
      {"ubc_resource_maxheld", "gauge", "Most ever held, in the row's unit.",
       &BeancounterValues::maxheld_pages},
      {"ubc_resource_barrier", "gauge", "Barrier (9223372036854775807: unlimited).",
       &BeancounterValues::barrier_pages},
      {"ubc_resource_limit", "gauge", "Limit (9223372036854775807: unlimited).",
       &BeancounterValues::limit_pages},
      {"ubc_resource_failcnt_total", "counter", "Refusals (failcnt).", &BeancounterValues::failcnt},
  };
  for (const Series& s : series) {
    AppendHeader(out, s.name, s.type, s.help);
    for (const auto& [id, rows] : all) {
      for (const ResourceRow& row : rows) {
        if (row.tracking == Tracking::kUntracked) continue;
        AppendSample(out, s.name,
                     Label("container", id) + "," + Label("resource", row.name) + "," +
                         Label("unit", row.unit),
                     std::to_string(row.values.*s.field));
      }
    }
  }
}

}  // namespace

std::string EscapePrometheusLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatPrometheusFloat(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "NaN";  // unreachable: 64 bytes hold any double
  return std::string(buf, end);
}

std::string RenderPrometheusMetrics(const std::vector<MetricsContainer>& containers,
                                    const DecisionMetricsSnapshot& decisions) {
  std::string out;
  uint64_t running = 0, retired = 0;
  for (const MetricsContainer& c : containers) ++(c.retired ? retired : running);
  AppendHeader(out, "ubc_containers", "gauge",
               "Containers ubcd tracks, by state (retired: every notify fd hung up).");
  AppendSample(out, "ubc_containers", Label("state", "running"), std::to_string(running));
  AppendSample(out, "ubc_containers", Label("state", "retired"), std::to_string(retired));

  AppendPerContainer(out, containers, "ubc_container_notify_fds", "gauge",
                     "Seccomp notify fds ubcd holds for the container.",
                     [](const MetricsContainer& c) { return static_cast<int64_t>(c.notify_fds); });
  AppendPerContainer(out, containers, "ubc_container_processes", "gauge",
                     "Processes of the container.",
                     [](const MetricsContainer& c) { return c.processes; });
  AppendPerBeancounter(out, containers, "ubc_beancounter_held_pages", "gauge",
                       "Pages held now (4096 bytes each).",
                       [](const BeancounterValues& v) { return v.held_pages; });
  AppendPerBeancounter(out, containers, "ubc_beancounter_maxheld_pages", "gauge",
                       "Most pages ever held.",
                       [](const BeancounterValues& v) { return v.maxheld_pages; });
  AppendPerBeancounter(out, containers, "ubc_beancounter_barrier_pages", "gauge",
                       "Barrier in pages (9223372036854775807: unlimited).",
                       [](const BeancounterValues& v) { return v.barrier_pages; });
  AppendPerBeancounter(out, containers, "ubc_beancounter_limit_pages", "gauge",
                       "Limit in pages (9223372036854775807: unlimited).",
                       [](const BeancounterValues& v) { return v.limit_pages; });
  AppendPerBeancounter(out, containers, "ubc_beancounter_failcnt_total", "counter",
                       "Allocations refused (failcnt).",
                       [](const BeancounterValues& v) { return v.failcnt; });

  AppendResourceRows(out, containers);

  AppendHeader(out, "ubc_decisions_total", "counter",
               "Trapped system calls decided, by syscall and verdict.");
  for (size_t s = 0; s < static_cast<size_t>(MetricSyscall::kCount); ++s) {
    for (size_t v = 0; v < static_cast<size_t>(MetricVerdict::kCount); ++v) {
      AppendSample(out, "ubc_decisions_total",
                   Label("syscall", MetricSyscallName(static_cast<MetricSyscall>(s))) + "," +
                       Label("verdict", MetricVerdictName(static_cast<MetricVerdict>(v))),
                   std::to_string(decisions.decisions[s][v]));
    }
  }

  AppendHeader(out, "ubc_decision_latency_seconds", "histogram",
               "Time from a notification's arrival to its answer being sent, "
               "sampled: one decision in 16 per notify fd.");
  uint64_t cumulative = 0;
  for (size_t b = 0; b < decisions.latency_buckets.size(); ++b) {
    cumulative += decisions.latency_buckets[b];
    const double le = b < kLatencyBucketsSeconds.size() ? kLatencyBucketsSeconds[b] : INFINITY;
    AppendSample(out, "ubc_decision_latency_seconds_bucket", Label("le", FormatPrometheusFloat(le)),
                 std::to_string(cumulative));
  }
  AppendSample(out, "ubc_decision_latency_seconds_sum", "",
               FormatPrometheusFloat(decisions.latency_sum_seconds));
  AppendSample(out, "ubc_decision_latency_seconds_count", "", std::to_string(cumulative));
  return out;
}

}  // namespace ubc
