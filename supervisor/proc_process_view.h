// The /proc process view: ubcd's /proc implementations of the accounting
// readers of core/accounting_readers.h, one concept per header.
//
// - supervisor/proc_target.h: ProcTarget reads the thread that made one
//   notification; every file it opens is checked with
//   SECCOMP_IOCTL_NOTIF_ID_VALID after opening, so a recycled pid is never
//   read. It lives for one decision.
// - supervisor/membership.h: Membership and DetermineMembership(), how a
//   container's processes are found (its cgroup, else its pid namespace, else
//   the processes seen trapping).
// - supervisor/proc_members.h: ProcMembers enumerates a container's processes
//   and samples their statm through fds kept per member; ReadThreadGroupId().
// - supervisor/proc_read.h: the read discipline they share (from offset 0,
//   stopping as soon as a read has seen the whole file).
//
// They only read; what the text says is parsed by core/proc_text.h and
// core/memory_map.h, pure and unit-tested. Thread-safety is stated in each
// header.
#pragma once

#include "supervisor/membership.h"
#include "supervisor/proc_members.h"
#include "supervisor/proc_target.h"
