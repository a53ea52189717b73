// CallerMemory: writes into the memory of the thread that made a seccomp
// notification, for the calls ubcd answers itself (sysinfo: the container's
// struct sysinfo, docs/accounting.md "What the container sees").
//
// /proc/TID/mem is opened first and the notification checked with
// SECCOMP_IOCTL_NOTIF_ID_VALID before anything is written: while the
// notification is valid its thread is blocked in the call, so the fd is that
// thread's address space and not a recycled pid's. Writing needs ptrace
// access (ubcd keeps CAP_SYS_PTRACE). Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "supervisor/notifier.h"

namespace ubc {

enum class CallerWrite {
  kWritten,  // every byte is in the caller's memory
  kFault,    // the address is not writable memory of the caller: answer EFAULT
  kGone,     // the notification is no longer valid: nothing waits for an answer
  kFailed,   // ubcd could not open or write the caller's memory (`error` says why)
};

// Whether every byte of [address, address + length) is in a writable
// mapping of thread `tid` (the caller of notification `id`), by the
// PROCMAP_QUERY ioctl on its /proc/TID/maps (Linux 6.11): one query per
// mapping the range spans, no listing. An error where the kernel has no
// PROCMAP_QUERY (then read the maps), or the notification is gone.
Result<bool> CallerRangeWritable(const Notifier& notifier, uint64_t id, int tid, uint64_t address,
                                 uint64_t length);

// Writes `bytes` at `address` of thread `tid`, the caller of notification
// `id` on `notifier`.
CallerWrite WriteCallerMemory(const Notifier& notifier, uint64_t id, int tid, uint64_t address,
                              const std::vector<uint8_t>& bytes, Status* error);

}  // namespace ubc
