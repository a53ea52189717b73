// MemoryMap: a parsed /proc/PID/maps, and the range facts the rules need.
//
// Reading maps costs O(mappings); the supervisor parses it only when a range
// must be resolved and the answer matters (near a bound, or to find the break
// for a brk refusal). Pure parsing of text the caller read; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/syscall_classifier.h"

namespace ubc {

struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
  bool read = false, write = false, exec = false;
  bool shared = false;  // 's' in the permissions, else 'p'
  uint64_t offset = 0;
  uint64_t inode = 0;
  std::string path;  // "[heap]", "[stack]", a file, or empty
  bool operator==(const MapEntry&) const = default;
};

// Errors name the line number and the field that failed.
Result<std::vector<MapEntry>> ParseProcMaps(std::string_view text);

// Pages of [addr, addr + length_bytes) covered by each kind of mapping.
RangeFacts RangeFactsFor(const std::vector<MapEntry>& maps, uint64_t addr, uint64_t length_bytes);

// The range facts of the range `call` changes: [addr, addr + length), except
// that mprotect with PROT_GROWSDOWN starts at the start of the mapping that
// contains (or follows) addr, as do_mprotect_pkey() extends it.
RangeFacts CallRangeFacts(const std::vector<MapEntry>& maps, const ClassifiedCall& call);

// [start, end) of one mapping, in bytes.
struct AddressRange {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
  bool operator==(const AddressRange&) const = default;
};

// The mappings /proc/PID/smaps marks locked ("lo" in VmFlags: mlock,
// MAP_LOCKED, MCL_FUTURE; MLOCK_ONFAULT ones too), in order. Errors name the
// line that failed.
Result<std::vector<AddressRange>> ParseSmapsLockedRanges(std::string_view text);
// Pages of [addr, addr + length_bytes), rounded outward to pages, that the
// ranges cover.
uint64_t PagesCovered(const std::vector<AddressRange>& ranges, uint64_t addr,
                      uint64_t length_bytes);

// Whether every byte of [addr, addr + length_bytes) is in a writable mapping
// (the destination of a copy_to_user the kernel would not fail with EFAULT).
bool RangeWritable(const std::vector<MapEntry>& maps, uint64_t addr, uint64_t length_bytes);

// End of the last [heap] mapping (the page-aligned break), if there is one.
std::optional<uint64_t> HeapEnd(const std::vector<MapEntry>& maps);

// A shared anonymous object (MAP_SHARED|MAP_ANONYMOUS: the kernel shows its
// shmem file as "/dev/zero (deleted)"), as the mappings seen so far show it.
struct SharedAnonymousObject {
  uint64_t pages = 0;     // the furthest page of it still mapped (offset + length)
  bool writable = false;  // some mapping of it is writable
  bool operator==(const SharedAnonymousObject&) const = default;
};
using SharedAnonymousObjects = std::map<uint64_t, SharedAnonymousObject>;  // by inode

// Notes the shared anonymous objects of one address space: each object once,
// however many mappings or address spaces (after fork) show it.
void NoteSharedAnonymousObjects(const std::vector<MapEntry>& maps, SharedAnonymousObjects* objects);
// Pages of the writable ones (an object mapped read-only everywhere is not
// writable memory of the container).
uint64_t WritableSharedAnonymousPages(const SharedAnonymousObjects& objects);

}  // namespace ubc
