// Least privilege for ubcd: which capabilities it keeps, and refusing files
// that others could write.
//
// After start-up ubcd keeps only CAP_SYS_PTRACE and CAP_KILL: reading another
// process's /proc/PID/syscall, maps, stat (start_brk), ns/pid and kcmp() all
// require ptrace access to that process, and container processes may run as
// other users or be non-dumpable; an exec'd image that took its container
// over the limit is killed (supervisor/exec_enforcer.h), whatever its user.
// The proc connector's socket (supervisor/exec_watcher.h) is subscribed
// before the drop: receiving needs no capability. Everything else it does afterwards (seccomp
// notify ioctls, SO_PEERCRED, receiving fds, statm and cgroup.procs reads, its own root-owned
// files) needs no capability. The bounding set is cleared and no_new_privs set, so nothing ubcd
// runs can regain more. Capabilities are per thread: DropPrivileges() must run before ubcd starts
// any thread. Not thread-safe.
#pragma once

#include <string>

#include "core/status.h"

namespace ubc {

// `keep_ptrace` false drops every capability (the fd store needs none),
// true keeps CAP_SYS_PTRACE and CAP_KILL.
Status DropPrivileges(bool keep_ptrace = true);

// A config file or directory ubcd trusts must be owned by root and not
// writable by group or others; the same goes for the directory holding it,
// unless that directory is root-owned and sticky (like /tmp).
Status CheckOnlyRootCanWrite(const std::string& path);

// The directory that will hold a socket must not let others replace it.
Status CheckSocketDirectory(const std::string& socket_path);

}  // namespace ubc
