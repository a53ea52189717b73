// Seccomp profile merge: adds ubc's user-notify rules for the memory syscalls
// to a container's OCI `linux.seccomp` profile without changing any other
// decision the profile makes.
//
// ubcd must see every call that can charge privvmpages: mmap with PROT_WRITE
// and (MAP_PRIVATE or MAP_ANONYMOUS), mprotect adding PROT_WRITE, brk with a
// non-zero address, mremap, fork, and clone without CLONE_VM. The merge puts
// SCMP_ACT_NOTIFY on exactly those argument cells wherever the profile allowed
// the call, keeps the profile's own action on the other cells, and keeps every
// denial. clone3 hides its flags in user memory, so where the profile allowed
// it, it fails with ENOSYS and libc falls back to clone. vfork and munmap are
// never trapped. The rules are written for how runc and crun hand a profile to
// libseccomp: rules whose action equals the default are skipped, a rule
// comparing one argument twice becomes one rule per comparison, and an
// unconditional rule for a syscall overrides every conditional one.
//
// Pure; thread-safe. Errors are values naming the offending field.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/status.h"

namespace ubc {

// Returns the merged profile with `listenerPath` set to `listener_path`.
// `existing_linux_seccomp` is the config's `linux.seccomp`; null (or a JSON
// null) means the container has no profile, which gets an allow-all profile
// with the notify rules. Every field other than `syscalls` and `listenerPath`
// is kept as is. Merging a merged profile returns it unchanged.
//
// Errors: a malformed profile; SCMP_ACT_NOTIFY as defaultAction; a different
// non-empty listenerPath (the container already notifies another agent); and
// the one case the rules cannot express: an allowing defaultAction together
// with a conditional denial of a memory syscall that overlaps the cells to trap.
// `existing` must come from a depth-checked parse (core/json_depth.h): the merge
// copies it recursively.
struct MergeOptions {
  // Trap every clone and vfork (thread creation too), for a numproc limit
  // ubcd enforces itself where the container has no pids cgroup
  // (docs/accounting.md, "The rows of the table").
  bool trap_task_creation = false;
  // Trap sysinfo(2), which ubcd answers with the container's memory
  // (its meminfo mode is not "none").
  bool trap_sysinfo = false;
};
Result<nlohmann::json> MergeUbcNotifyRules(const nlohmann::json* existing_linux_seccomp,
                                           std::string_view listener_path,
                                           const MergeOptions& options = {});

}  // namespace ubc
