// ResourceRows: the 24 rows of a container in /proc/user_beancounters, each
// marked enforced, measured or not tracked (docs/accounting.md, "The rows").
//
// ubc enforces privvmpages and shmpages (its own accounting), numproc where a
// limit is set (the pids cgroup, or trapped task creation); it measures
// numproc, physpages, kmemsize and numfile from the kernel without enforcing
// them; every other row is not tracked and prints held 0 with unlimited
// bounds, as OpenVZ's layout requires. ContainerCounters is what one
// container shows; ResourceRows() lays it out in OpenVZ's order for the text
// table, the JSON and the metrics alike, so the three cannot disagree on a
// marker. Plain values and pure functions; thread-safe.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "core/beancounter.h"

namespace ubc {

enum class Tracking { kEnforced, kMeasured, kUntracked };
const char* TrackingName(Tracking tracking);  // "enforced", "measured", "untracked"

// What the kernel tells of a container beside the enforced page counters:
// nullopt where it cannot be measured for this container (kmemsize without a
// memory cgroup, say). Values carry held and maxheld; numproc also its
// bounds and failcnt.
struct MeasuredResources {
  std::optional<BeancounterValues> numproc;    // tasks (processes and threads)
  std::optional<BeancounterValues> physpages;  // resident pages
  std::optional<BeancounterValues> kmemsize;   // bytes of kernel memory
  std::optional<BeancounterValues> numfile;    // open files
};

struct ContainerCounters {
  std::string ctid;  // printed as "CTID:" in the uid column
  BeancounterValues privvmpages;
  BeancounterValues shmpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  MeasuredResources measured;
  // numproc has a finite limit ubc keeps (its row is "enforced" even while
  // held cannot be read).
  bool numproc_enforced = false;
  // lockedpages: VmLck of the members plus SHM_LOCKED segments, read when the
  // table is (measured); enforced where its bounds are finite.
  BeancounterValues lockedpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  bool lockedpages_enforced = false;
};

struct ResourceRow {
  const char* name;  // OpenVZ's name; "dummy" for its placeholders
  const char* unit;  // "pages", "bytes", "tasks", "files"; "" for a dummy row
  Tracking tracking;
  BeancounterValues values;  // held 0 and unlimited bounds when untracked
};

inline constexpr size_t kResourceRowCount = 24;

// OpenVZ's 24 rows, in its order, for one container.
std::array<ResourceRow, kResourceRowCount> ResourceRows(const ContainerCounters& counters);

}  // namespace ubc
