// UBC text rendering: the /proc/user_beancounters layout of docs/ubc-semantics.md §6.
//
// Renders "Version: 2.5", the header row and the 24 resource rows per
// container, in OpenVZ's order (core/resource_rows.h), with the exact printf
// widths existing scripts parse. Resources ubc does not track print held 0
// and unlimited bounds. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/resource_rows.h"

namespace ubc {

std::string RenderUserBeancounters(const std::vector<ContainerCounters>& containers);

}  // namespace ubc
