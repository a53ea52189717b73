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

namespace ubc {

struct Membership {
  enum class Kind { kCgroup, kPidNamespace, kObserved };
  Kind kind = Kind::kObserved;
  std::string cgroup_dir;  // kCgroup: the container's cgroup directory
  dev_t pidns_dev = 0;     // kPidNamespace
  ino_t pidns_ino = 0;
  std::string Describe() const;
};

// Works out how to find a container's processes from its init pid and the pid
// of the runtime that sent the notify fd.
Membership DetermineMembership(int init_pid, int runtime_pid);

// The pid namespace (device and inode of `ns_path`, a /proc/PID/ns/pid);
// false when it cannot be stat'ed.
bool PidNamespaceOf(const std::string& ns_path, dev_t* dev, ino_t* ino);

}  // namespace ubc
