#include "core/ubc_table.h"

#include <cstdio>

namespace ubc {
namespace {

void AppendRow(std::string& out, const char* uid, const char* resource,
               const BeancounterValues& v) {
  // %lu as in the kernel's 64-bit format; the casts make the arguments match it
  // whatever uint64_t is on the build host.
  const char* format = "%10s  %-12s %20lu %20lu %20lu %20lu %20lu\n";
  const auto print = [&](char* buf, size_t size) {
    return std::snprintf(
        buf, size, format, uid, resource, static_cast<unsigned long>(v.held_pages),
        static_cast<unsigned long>(v.maxheld_pages), static_cast<unsigned long>(v.barrier_pages),
        static_cast<unsigned long>(v.limit_pages), static_cast<unsigned long>(v.failcnt));
  };
  // A row is 10 + 2 + 12 + 5 * 21 + 1 = 130 bytes unless a ctid is wider than
  // the uid column (printf widens, never truncates); retry at the full size then.
  char buf[256];
  const int n = print(buf, sizeof buf);
  if (n < 0) return;  // cannot happen for these conversions
  std::string row;
  if (static_cast<size_t>(n) < sizeof buf) {
    row.assign(buf, static_cast<size_t>(n));
  } else {
    row.assign(static_cast<size_t>(n) + 1, '\0');
    print(row.data(), row.size());
    row.resize(static_cast<size_t>(n));
  }
  out += row;
}

}  // namespace

std::string RenderUserBeancounters(const std::vector<ContainerCounters>& containers) {
  std::string out = "Version: 2.5\n";
  char header[160];
  std::snprintf(header, sizeof header, "%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource",
                "held", "maxheld", "barrier", "limit", "failcnt");
  out += header;

  for (const ContainerCounters& c : containers) {
    const std::string uid = c.ctid + ":";
    bool first = true;
    for (const ResourceRow& row : ResourceRows(c)) {
      AppendRow(out, first ? uid.c_str() : "", row.name, row.values);
      first = false;
    }
  }
  return out;
}

}  // namespace ubc
