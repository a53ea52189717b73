#include "supervisor/proc_location.h"

#include <utility>

#include "supervisor/membership.h"
#include "supervisor/proc_read.h"

namespace ubc {

ProcLocation::ProcLocation(int tgid) : tgid_(tgid) {
  Result<std::string> text =
      ReadProcFile("/proc/" + std::to_string(tgid) + "/cgroup", ProcRecords::kOne);
  if (!text.ok()) return;
  cgroup_text_ = std::move(text).value();
  Result<std::vector<CgroupLine>> lines = ParseProcCgroup(cgroup_text_);
  if (lines.ok()) cgroups_ = std::move(lines).value();
}

std::optional<std::string_view> ProcLocation::CgroupPath(std::string_view controllers) {
  for (const CgroupLine& line : cgroups_) {
    if (line.controllers == controllers) return line.path;
  }
  return std::nullopt;
}

bool ProcLocation::PidNamespace(dev_t* dev, ino_t* ino) {
  if (pidns_state_ == 0) {
    pidns_state_ =
        PidNamespaceOf("/proc/" + std::to_string(tgid_) + "/ns/pid", &pidns_dev_, &pidns_ino_) ? 1
                                                                                               : -1;
  }
  *dev = pidns_dev_;
  *ino = pidns_ino_;
  return pidns_state_ == 1;
}

}  // namespace ubc
