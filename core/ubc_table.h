// UBC text rendering: the /proc/user_beancounters layout of docs/ubc-semantics.md §6.
//
// Renders "Version: 2.5", the header row and the 24 resource rows per
// container, in OpenVZ's order, with the exact printf widths existing scripts
// parse. Resources ubc does not track print held 0 and unlimited bounds.
// Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/beancounter.h"
#include "core/units.h"

namespace ubc {

struct ContainerCounters {
  std::string ctid;  // printed as "CTID:" in the uid column
  BeancounterValues privvmpages;
  BeancounterValues shmpages{0, 0, kUnlimitedPages, kUnlimitedPages, 0};
};

std::string RenderUserBeancounters(const std::vector<ContainerCounters>& containers);

}  // namespace ubc
