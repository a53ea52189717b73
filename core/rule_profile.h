// RuleProfile: the call-site table of docs/ubc-semantics.md §3, kept as data.
//
// One immutable table per profile: `bc2006` (default) and `openvz`. Each row
// says which bound a charging operation is checked against and the few
// accounting differences between the two kernels. Profiles are static
// constants; pointers to them stay valid forever and may be shared by threads.
#pragma once

#include <string_view>
#include <vector>

#include "core/beancounter.h"

namespace ubc {

struct RuleProfile {
  std::string_view name;
  ChargeCheck mmap_private_writable;  // anon or file MAP_PRIVATE, PROT_WRITE (also MAP_FIXED)
  ChargeCheck mmap_shared_anon;       // MAP_SHARED|MAP_ANONYMOUS, PROT_WRITE
  ChargeCheck brk_grow;
  ChargeCheck mremap_grow;  // in place and move
  ChargeCheck mprotect_add_write;
  ChargeCheck fork;  // fork and clone without CLONE_VM
  // bc2006: a shared anonymous mapping is charged only for the duration of the
  // call (released when the shmem file is attached); openvz keeps it charged.
  bool shared_anon_stays_charged;
  // openvz charges a moving mremap the full new length up front.
  bool mremap_move_charges_new_length;
  // openvz holds shared memory in privvmpages too, once per object: SysV
  // segments (from shmget until destroyed) and writable shared anonymous
  // objects (while mapped); the latter also in shmpages.
  bool shared_memory_in_privvmpages;
};

const RuleProfile& Bc2006Profile();
const RuleProfile& OpenvzProfile();
const RuleProfile& DefaultRuleProfile();  // bc2006

// nullptr when the name is not a known profile.
const RuleProfile* FindRuleProfile(std::string_view name);
std::vector<std::string_view> RuleProfileNames();

}  // namespace ubc
