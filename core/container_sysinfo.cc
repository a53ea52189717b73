#include "core/container_sysinfo.h"

#include <algorithm>
#include <cstring>

#include "core/units.h"

namespace ubc {
namespace {

template <typename T>
void Put(std::vector<uint8_t>& out, size_t offset, T value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

uint64_t MulSaturating(uint64_t a, uint64_t b) {
  return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

uint64_t PagesToBytes(uint64_t pages) {
  return pages > UINT64_MAX / kPageBytes ? UINT64_MAX : pages * kPageBytes;
}

}  // namespace

SysinfoFacts ContainerSysinfo(const MeminfoMode& mode, const SysinfoFacts& host,
                              const BeancounterValues& privvmpages, uint64_t tasks, int64_t age_s) {
  SysinfoFacts s = host;
  s.procs = tasks;
  if (age_s >= 0) s.uptime_s = age_s;
  uint64_t total_pages = 0;
  switch (mode.kind) {
    case MeminfoMode::Kind::kNone:
      return host;
    case MeminfoMode::Kind::kPrivvmpages:
      if (privvmpages.barrier_pages == kUnlimitedPages) return s;
      total_pages = MulSaturating(privvmpages.barrier_pages, mode.value);
      break;
    case MeminfoMode::Kind::kPages:
      total_pages = mode.value;
      break;
  }
  const uint64_t held_pages = mode.kind == MeminfoMode::Kind::kPrivvmpages
                                  ? MulSaturating(privvmpages.held_pages, mode.value)
                                  : privvmpages.held_pages;
  // No more than the host has: a barrier above the machine's RAM cannot be
  // allocated either.
  s.totalram_bytes = std::min(PagesToBytes(total_pages), host.totalram_bytes);
  s.freeram_bytes = std::min(PagesToBytes(total_pages > held_pages ? total_pages - held_pages : 0),
                             s.totalram_bytes);
  // `free` takes buffers (and shared, in some versions) out of total − free:
  // the host's could exceed what the container holds and make "used"
  // negative. Buffers are host-wide cache, 0 here as in the /proc/meminfo view.
  s.sharedram_bytes = std::min(host.sharedram_bytes, s.totalram_bytes - s.freeram_bytes);
  s.bufferram_bytes = 0;
  s.totalswap_bytes = 0;
  s.freeswap_bytes = 0;
  s.totalhigh_bytes = 0;
  s.freehigh_bytes = 0;
  return s;
}

std::vector<uint8_t> EncodeSysinfo(SyscallAbi abi, const SysinfoFacts& f) {
  if (abi == SyscallAbi::kX86_64 || abi == SyscallAbi::kX32) {
    std::vector<uint8_t> out(112, 0);
    Put<int64_t>(out, 0, f.uptime_s);
    for (size_t i = 0; i < 3; ++i) Put<uint64_t>(out, 8 + 8 * i, f.loads[i]);
    Put<uint64_t>(out, 32, f.totalram_bytes);
    Put<uint64_t>(out, 40, f.freeram_bytes);
    Put<uint64_t>(out, 48, f.sharedram_bytes);
    Put<uint64_t>(out, 56, f.bufferram_bytes);
    Put<uint64_t>(out, 64, f.totalswap_bytes);
    Put<uint64_t>(out, 72, f.freeswap_bytes);
    Put<uint16_t>(out, 80, static_cast<uint16_t>(std::min<uint64_t>(f.procs, 0xffff)));
    Put<uint64_t>(out, 88, f.totalhigh_bytes);
    Put<uint64_t>(out, 96, f.freehigh_bytes);
    Put<uint32_t>(out, 104, 1);
    return out;
  }
  if (abi != SyscallAbi::kI386) return {};
  // compat_sysinfo: while a memory figure needs more than 32 bits, mem_unit
  // doubles (up to the page size) and every figure halves, as the kernel's
  // compat sysinfo does; what still does not fit is cut at 32 bits.
  const uint64_t largest =
      std::max({f.totalram_bytes, f.freeram_bytes, f.sharedram_bytes, f.bufferram_bytes,
                f.totalswap_bytes, f.freeswap_bytes, f.totalhigh_bytes, f.freehigh_bytes});
  uint32_t mem_unit = 1;
  int shift = 0;
  while ((largest >> shift) > 0xffffffffu && mem_unit < kPageBytes) {
    mem_unit <<= 1;
    ++shift;
  }
  const auto scaled = [shift](uint64_t bytes) {
    return static_cast<uint32_t>(std::min<uint64_t>(bytes >> shift, 0xffffffffu));
  };
  std::vector<uint8_t> out(64, 0);
  Put<int32_t>(out, 0, static_cast<int32_t>(std::min<int64_t>(f.uptime_s, INT32_MAX)));
  for (size_t i = 0; i < 3; ++i) {
    Put<uint32_t>(out, 4 + 4 * i,
                  static_cast<uint32_t>(std::min<uint64_t>(f.loads[i], 0xffffffffu)));
  }
  Put<uint32_t>(out, 16, scaled(f.totalram_bytes));
  Put<uint32_t>(out, 20, scaled(f.freeram_bytes));
  Put<uint32_t>(out, 24, scaled(f.sharedram_bytes));
  Put<uint32_t>(out, 28, scaled(f.bufferram_bytes));
  Put<uint32_t>(out, 32, scaled(f.totalswap_bytes));
  Put<uint32_t>(out, 36, scaled(f.freeswap_bytes));
  Put<uint16_t>(out, 40, static_cast<uint16_t>(std::min<uint64_t>(f.procs, 0xffff)));
  Put<uint32_t>(out, 44, scaled(f.totalhigh_bytes));
  Put<uint32_t>(out, 48, scaled(f.freehigh_bytes));
  Put<uint32_t>(out, 52, mem_unit);
  return out;
}

}  // namespace ubc
