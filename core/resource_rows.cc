#include "core/resource_rows.h"

#include <string_view>

namespace ubc {
namespace {

struct RowName {
  const char* name;
  const char* unit;
};

// OpenVZ's fixed order (2.6.18-028stab kernels); "dummy" rows are
// placeholders existing parsers count on. Units as the kernel counts each.
constexpr RowName kRows[kResourceRowCount] = {
    {"kmemsize", "bytes"},
    {"lockedpages", "pages"},
    {"privvmpages", "pages"},
    {"shmpages", "pages"},
    {"dummy", ""},
    {"numproc", "tasks"},
    {"physpages", "pages"},
    {"vmguarpages", "pages"},
    {"oomguarpages", "pages"},
    {"numtcpsock", "sockets"},
    {"numflock", "locks"},
    {"numpty", "ptys"},
    {"numsiginfo", "siginfo"},
    {"tcpsndbuf", "bytes"},
    {"tcprcvbuf", "bytes"},
    {"othersockbuf", "bytes"},
    {"dgramrcvbuf", "bytes"},
    {"numothersock", "sockets"},
    {"dcachesize", "bytes"},
    {"numfile", "files"},
    {"dummy", ""},
    {"dummy", ""},
    {"dummy", ""},
    {"numiptent", "entries"},
};

}  // namespace

const char* TrackingName(Tracking tracking) {
  switch (tracking) {
    case Tracking::kEnforced:
      return "enforced";
    case Tracking::kMeasured:
      return "measured";
    case Tracking::kUntracked:
      break;
  }
  return "untracked";
}

std::array<ResourceRow, kResourceRowCount> ResourceRows(const ContainerCounters& c) {
  const BeancounterValues untracked{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
  std::array<ResourceRow, kResourceRowCount> rows{};
  for (size_t i = 0; i < kResourceRowCount; ++i) {
    const std::string_view name = kRows[i].name;
    ResourceRow row{kRows[i].name, kRows[i].unit, Tracking::kUntracked, untracked};
    const auto measured = [&](const std::optional<BeancounterValues>& v) {
      if (!v) return;
      row.tracking = Tracking::kMeasured;
      row.values = *v;
    };
    if (name == "privvmpages") {
      row.tracking = Tracking::kEnforced;
      row.values = c.privvmpages;
    } else if (name == "shmpages") {
      row.tracking = Tracking::kEnforced;
      row.values = c.shmpages;
    } else if (name == "lockedpages") {
      row.tracking = c.lockedpages_enforced ? Tracking::kEnforced : Tracking::kMeasured;
      row.values = c.lockedpages;
    } else if (name == "numproc") {
      measured(c.measured.numproc);
      if (c.numproc_enforced) row.tracking = Tracking::kEnforced;
    } else if (name == "physpages") {
      measured(c.measured.physpages);
    } else if (name == "kmemsize") {
      measured(c.measured.kmemsize);
    } else if (name == "numfile") {
      measured(c.measured.numfile);
    }
    rows[i] = row;
  }
  return rows;
}

}  // namespace ubc
