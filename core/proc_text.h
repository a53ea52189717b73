// /proc text: parsers of the small /proc files ubcd reads (statm, stat,
// status, syscall, children and cgroup.procs, cgroup, mountinfo).
//
// Pure functions over text the caller read (supervisor/proc_* do the reads,
// with the fd discipline that keeps a recycled pid from being misread); no
// I/O, no locale. The parsers that run on a decision (statm, stat, status,
// syscall) allocate nothing; views returned point into the caller's text.
// /proc/PID/maps is core/memory_map.h. Stateless and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "core/accounting_readers.h"
#include "core/status.h"

namespace ubc {

// ---------------------------------------------------------------- statm

// The seven /proc/PID/statm fields (size resident shared text lib data dt),
// in pages.
using Statm = std::array<uint64_t, 7>;
inline uint64_t StatmDataPages(const Statm& s) { return s[5]; }

// The fields that change only when a mapping does (size text lib data): two
// reads of one address space agree on them, while resident and shared move
// with faults and reclaim between the reads. Equal layouts are what is worth
// a kcmp(2) to spot processes sharing one address space.
using StatmLayout = std::array<uint64_t, 4>;
inline StatmLayout LayoutOf(const Statm& s) { return {s[0], s[3], s[4], s[5]}; }

// Seven decimal fields separated by single spaces, then the end or a newline.
// Runs on every exact decision: from_chars, no allocation.
std::optional<Statm> ParseStatm(std::string_view text);

// ---------------------------------------------------------------- stat

// Fields 20 (num_threads), 23 (vsize, bytes: vm_pages rounds it up to pages) and 47
// (start_brk) of /proc/PID/stat. comm (field 2) may hold spaces and
// parentheses: the fields are counted from after the last ')'. Errors name
// what is missing or not a number.
Result<ImageFacts> ParseStatImage(std::string_view text);

// ---------------------------------------------------------------- status

// The number of the /proc/PID/status line "key:\t<number>", with or without
// the " kB" of the Vm* fields (so kB for those): StatusField(text, "VmLck").
// Nothing when the line is missing or its value is not one such number
// (multi-valued lines like Uid: are not read here).
std::optional<uint64_t> StatusField(std::string_view text, std::string_view key);

// The value of the line "key value" of a cgroup file in flat-keyed format
// (memory.stat, pids.events): KeyedValue(text, "kernel"). Nothing when the
// line is missing or its value is not one unsigned number.
std::optional<uint64_t> KeyedValue(std::string_view text, std::string_view key);

// A cgroup file holding one number ("123\n"); "max" is nullopt like garbage.
std::optional<uint64_t> SingleValue(std::string_view text);

// "Tgid:" of /proc/TID/status, when it is there and fits an int.
std::optional<int> StatusTgid(std::string_view text);

// ---------------------------------------------------------------- syscall

// /proc/TID/syscall: "running" while the thread is on a CPU; else the number
// of the call it is blocked in and its six arguments in hex, then the stack
// and instruction pointers (not read here); "-1 SP PC" when it is blocked
// outside any call.
struct ThreadSyscall {
  bool running = false;
  int64_t nr = -1;                 // -1: not in a call (args then zero)
  std::array<uint64_t, 6> args{};  // when nr >= 0
  bool operator==(const ThreadSyscall&) const = default;
};
std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text);

// Where the thread whose /proc/TID/syscall reads `text` is relative to call
// `nr` with `args` that it was admitted for: kUnknown while running, kInside
// when blocked in that very call, kDone otherwise (another call, none, or
// text that cannot be read as either).
CallProgress ProgressFromSyscall(std::string_view text, int nr,
                                 const std::array<uint64_t, 6>& args);

// ---------------------------------------------------------------- pid lists

// Adds the pids of a cgroup.procs (one per line) or task/TID/children
// (space-separated) listing to *out. A token that is not a positive decimal
// int is skipped (the kernel writes none).
void AddPids(std::string_view text, std::set<int>* out);

// True when a pid listing lists nothing: it is empty or only separators.
// Anything else, even an unreadable token, counts as a listed pid.
bool PidListEmpty(std::string_view text);

// A /proc directory entry naming a process: decimal digits only, 1..2^30.
std::optional<int> ProcEntryPid(std::string_view name);

// ---------------------------------------------------------------- cgroup

// One line of /proc/PID/cgroup, "hierarchy-id:controllers:path"; views into
// the parsed text.
struct CgroupLine {
  uint32_t hierarchy_id = 0;
  std::string_view controllers;  // "cpu,cpuacct", "name=systemd"; "" on cgroup2
  std::string_view path;         // may itself contain ':'
  bool operator==(const CgroupLine&) const = default;
};

// Every line; empty lines are skipped. Errors name the line number.
Result<std::vector<CgroupLine>> ParseProcCgroup(std::string_view text);

// ---------------------------------------------------------------- mountinfo

// The fields of one /proc/PID/mountinfo line that ubcd uses; views into the
// line, left octal-escaped as the kernel wrote them ("\040" for a space).
struct MountInfoLine {
  std::string_view root;         // field 4: the mount's root within its filesystem
  std::string_view mount_point;  // field 5
  std::string_view fstype;       // after the " - " separator
  std::string_view source;
  std::string_view super_options;  // "" when the line ends before them
  bool operator==(const MountInfoLine&) const = default;
};

// Nothing when the line has fewer than the six fixed fields, no "-"
// separator after them, or no fstype and source after it.
std::optional<MountInfoLine> ParseMountInfoLine(std::string_view line);

// Mount point, in a mountinfo text, of the cgroup hierarchy mounted at its
// root whose super options name every one of `controllers` (a comma list as
// in /proc/PID/cgroup); `controllers` empty: of cgroup2. The first such line
// wins; lines that do not parse are passed over.
std::optional<std::string_view> CgroupMountPoint(std::string_view mountinfo,
                                                 std::string_view controllers);

// A mount point as the kernel escapes it in mountinfo, undone ("\040" is a space).
std::string UnescapeMountField(std::string_view field);

// The fstype of the topmost mount at `mount_point` (an absolute, resolved path)
// in a mountinfo text; "" when nothing is mounted there.
std::string FsTypeAt(std::string_view mountinfo, std::string_view mount_point);

}  // namespace ubc
