// ProcLocation: the /proc ProcessLocation (supervisor/process_view.h) of one
// host process named by an exec event.
//
// The proc connector reports every exec on the host, most of them of
// processes in no container, so this reads as little as it can: the
// process's /proc/PID/cgroup once, when made (one small file, parsed by
// core/proc_text.h), and /proc/PID/ns/pid (a stat, no read) only if a
// container found by its pid namespace asks. A process that is gone, or a
// pid reused meanwhile, only makes a lookup miss or find a container to
// check: nothing is done to a process without a pidfd on it
// (supervisor/process_pin.h). Not thread-safe: one exec event's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/proc_text.h"
#include "supervisor/process_view.h"

namespace ubc {

class ProcLocation : public ProcessLocation {
 public:
  explicit ProcLocation(int tgid);
  int tgid() const override { return tgid_; }
  std::optional<std::string_view> CgroupPath(std::string_view controllers) override;
  bool PidNamespace(dev_t* dev, ino_t* ino) override;

 private:
  const int tgid_;
  std::string cgroup_text_;
  std::vector<CgroupLine> cgroups_;  // views into cgroup_text_
  int pidns_state_ = 0;              // 0 not read, 1 known, -1 unreadable
  dev_t pidns_dev_ = 0;
  ino_t pidns_ino_ = 0;
};

}  // namespace ubc
