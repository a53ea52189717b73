// Reading /proc files: the read discipline shared by the /proc readers
// (supervisor/proc_target.h, proc_members.h, membership.h).
//
// A /proc file is read from offset 0 whatever the fd's position, so a kept fd
// (statm, cgroup.procs, children) is read again the same way and seq_file
// produces it afresh. How the file is produced says when a read has seen all
// of it (ProcRecords), which saves the read for EOF where that is certain.
// What the text says is parsed by core/proc_text.h and core/memory_map.h.
// Stateless functions; safe from any thread.
#pragma once

#include <string>

#include "core/status.h"

namespace ubc {

enum class ProcRecords {
  // One record made whole before the first byte is read (stat, statm,
  // status, syscall, cgroup: the kernel's single_open): a read shorter than
  // the buffer is the end, and the read for EOF is saved. The reads made
  // for a rare event (a fork, an exec) find everything cold, where each
  // system call costs tens of µs.
  kOne,
  // cgroup.procs and children: a listing of lines of at most 8 bytes
  // ("4194304\n"). seq_file ends a read early only at the end of the
  // listing, at the reader's buffer size, or when the next record does not
  // fit its own buffer (a page at least): a read that left room for one more
  // line was the end.
  kPids,
  kMany,  // other listings (maps, mountinfo): read until EOF
};

// The whole file behind `fd`, from offset 0 (at most 64 MiB).
Result<std::string> ReadProcFd(int fd, ProcRecords records);
// Opens `path`, reads it whole and closes it; errors name the path.
Result<std::string> ReadProcFile(const std::string& path, ProcRecords records);

}  // namespace ubc
