#include "core/container_report.h"

#include <string_view>
#include <utility>

#include "core/units.h"

namespace ubc {
namespace {

// Pages and bytes of one amount; bytes is null when it does not fit (the
// unlimited LONG_MAX pages are 2^75 bytes).
nlohmann::ordered_json Amount(uint64_t pages) {
  nlohmann::ordered_json bytes = nullptr;
  if (pages != kUnlimitedPages && pages <= UINT64_MAX / kPageBytes) bytes = pages * kPageBytes;
  return {{"pages", pages}, {"bytes", bytes}};
}

// The rows of the text table as JSON, in OpenVZ's order and units, without
// its placeholders.
nlohmann::ordered_json ResourcesJson(const ContainerCounters& counters) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const ResourceRow& row : ResourceRows(counters)) {
    if (std::string_view(row.name) == "dummy") continue;
    rows.push_back({{"resource", row.name},
                    {"unit", row.unit},
                    {"tracking", TrackingName(row.tracking)},
                    {"held", row.values.held_pages},
                    {"maxheld", row.values.maxheld_pages},
                    {"barrier", row.values.barrier_pages},
                    {"limit", row.values.limit_pages},
                    {"failcnt", row.values.failcnt}});
  }
  return rows;
}

}  // namespace

ContainerCounters CountersOf(const ContainerReport& c) {
  ContainerCounters counters;
  counters.ctid = c.id;
  counters.privvmpages = c.privvmpages;
  counters.shmpages = c.shmpages;
  counters.lockedpages = c.lockedpages;
  counters.lockedpages_enforced = c.lockedpages.limit_pages != kUnlimitedPages ||
                                  c.lockedpages.barrier_pages != kUnlimitedPages;
  counters.measured = c.measured;
  // A numproc limit is kept with the measured values (the pids cgroup, or
  // ubcd's own count where it traps task creation).
  counters.numproc_enforced =
      c.measured.numproc && c.measured.numproc->limit_pages != kUnlimitedPages;
  return counters;
}

nlohmann::ordered_json ContainerReportJson(const ContainerReport& c) {
  const BeancounterValues& p = c.privvmpages;
  const BeancounterValues& shm = c.shmpages;
  return {
      {"id", c.id},
      {"state", c.retired ? "retired" : "running"},
      {"processes", c.processes},
      {"notify_fds", c.notify_fds},
      {"profile", c.profile},
      {"profile_source", LimitsSourceName(c.limits.profile_source)},
      {"profile_source_detail", c.limits.profile_source_detail},
      {"meminfo",
       {{"mode", FormatMeminfoMode(c.limits.meminfo)},
        {"source", LimitsSourceName(c.limits.meminfo_source)},
        {"source_detail", c.limits.meminfo_source_detail}}},
      {"membership", c.membership},
      {"beancounters",
       {{"privvmpages",
         {{"held", Amount(p.held_pages)},
          {"maxheld", Amount(p.maxheld_pages)},
          {"barrier", Amount(p.barrier_pages)},
          {"limit", Amount(p.limit_pages)},
          {"failcnt", p.failcnt},
          {"source", LimitsSourceName(c.limits.privvmpages_source)},
          {"source_detail", c.limits.privvmpages_source_detail}}},
        {"shmpages",
         {{"held", Amount(shm.held_pages)},
          {"maxheld", Amount(shm.maxheld_pages)},
          {"barrier", Amount(shm.barrier_pages)},
          {"limit", Amount(shm.limit_pages)},
          {"failcnt", shm.failcnt},
          {"source", LimitsSourceName(c.limits.shmpages_source)},
          {"source_detail", c.limits.shmpages_source_detail}}},
        {"lockedpages",
         {{"held", Amount(c.lockedpages.held_pages)},
          {"maxheld", Amount(c.lockedpages.maxheld_pages)},
          {"barrier", Amount(c.lockedpages.barrier_pages)},
          {"limit", Amount(c.lockedpages.limit_pages)},
          {"failcnt", c.lockedpages.failcnt},
          {"source", LimitsSourceName(c.limits.lockedpages_source)},
          {"source_detail", c.limits.lockedpages_source_detail}}}}},
      {"resources", ResourcesJson(CountersOf(c))},
  };
}

nlohmann::ordered_json ContainerReportsJson(const std::vector<ContainerReport>& containers) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ContainerReport& c : containers) list.push_back(ContainerReportJson(c));
  return {{"containers", std::move(list)}};
}

}  // namespace ubc
