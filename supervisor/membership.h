// Membership: how a container's processes are found (docs/accounting.md,
// "Which processes count").
//
// From the container's own cgroup when the runtime gave it one (the init is
// in another cgroup than the runtime that started it), else from its pid
// namespace when it has its own, else from the processes seen trapping.
// DetermineMembership() reads /proc/PID/cgroup of both, /proc/self/mountinfo
// and the pid namespaces once, when a container is attached; parsing is
// core/proc_text.h. A Membership is a plain value; the functions are safe from
// any thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace ubc {

struct Membership {
  enum class Kind { kCgroup, kPidNamespace, kObserved };
  Kind kind = Kind::kObserved;
  std::string cgroup_dir;  // kCgroup: the container's cgroup directory
  // kCgroup: its hierarchy ("" is cgroup2) and path in it, as
  // /proc/PID/cgroup writes them (an exec'd process is placed by these).
  std::string cgroup_controllers;
  std::string cgroup_path;
  dev_t pidns_dev = 0;  // kPidNamespace
  ino_t pidns_ino = 0;
  std::string Describe() const;
  // Whether a process in cgroup `path` (of this membership's hierarchy) is
  // in the container's cgroup or one below it.
  bool CgroupHolds(std::string_view path) const;
};

// Works out how to find a container's processes from its init pid and the pid
// of the runtime that sent the notify fd.
Membership DetermineMembership(int init_pid, int runtime_pid);

// The container's own cgroup directory in the hierarchy of `controller`
// ("memory", "pids"): where the init is in another cgroup than the runtime, in
// a cgroup v1 hierarchy naming that controller, or in cgroup2 when the
// directory has `probe_file` (a controller's file, "memory.current", shows it
// is enabled there). "" when there is none (crun without cgroups, or a
// container sharing the runtime's cgroup, whose figures would be the host's).
std::string OwnCgroupDir(int init_pid, int runtime_pid, std::string_view controller,
                         std::string_view probe_file);

// The pid namespace (device and inode of `ns_path`, a /proc/PID/ns/pid);
// false when it cannot be stat'ed.
bool PidNamespaceOf(const std::string& ns_path, dev_t* dev, ino_t* ino);

}  // namespace ubc
