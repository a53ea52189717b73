#include "core/memory_map.h"

#include <algorithm>
#include <charconv>

#include "core/units.h"

namespace ubc {
namespace {

// Splits off the next space-delimited field (the kernel separates the fixed
// fields with single spaces; tolerate runs of them).
std::string_view NextField(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = std::min(rest.find(' '), rest.size());
  const std::string_view field = rest.substr(0, end);
  rest.remove_prefix(end);
  return field;
}

bool ParseNumber(std::string_view text, int base, uint64_t& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Status FieldError(size_t line_no, const char* field, std::string_view text) {
  return Status::Error("maps line " + std::to_string(line_no) + ": invalid " + field + " \"" +
                       std::string(text) + "\"");
}

Result<MapEntry> ParseLine(std::string_view line, size_t line_no) {
  MapEntry e;
  std::string_view rest = line;

  const std::string_view range = NextField(rest);
  const size_t dash = range.find('-');
  if (dash == std::string_view::npos || !ParseNumber(range.substr(0, dash), 16, e.start) ||
      !ParseNumber(range.substr(dash + 1), 16, e.end) || e.end <= e.start) {
    return FieldError(line_no, "address range", range);
  }

  const std::string_view perms = NextField(rest);
  if (perms.size() != 4 || (perms[0] != 'r' && perms[0] != '-') ||
      (perms[1] != 'w' && perms[1] != '-') || (perms[2] != 'x' && perms[2] != '-') ||
      (perms[3] != 's' && perms[3] != 'p')) {
    return FieldError(line_no, "permissions", perms);
  }
  e.read = perms[0] == 'r';
  e.write = perms[1] == 'w';
  e.exec = perms[2] == 'x';
  e.shared = perms[3] == 's';

  const std::string_view offset = NextField(rest);
  if (!ParseNumber(offset, 16, e.offset)) return FieldError(line_no, "offset", offset);

  const std::string_view dev = NextField(rest);
  const size_t colon = dev.find(':');
  uint64_t major = 0, minor = 0;
  if (colon == std::string_view::npos || !ParseNumber(dev.substr(0, colon), 16, major) ||
      !ParseNumber(dev.substr(colon + 1), 16, minor)) {
    return FieldError(line_no, "device", dev);
  }

  const std::string_view inode = NextField(rest);
  if (!ParseNumber(inode, 10, e.inode)) return FieldError(line_no, "inode", inode);

  // The path is everything after the padding; it may contain spaces and end
  // in " (deleted)", which stays part of it.
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  e.path = std::string(rest);
  return e;
}

}  // namespace

Result<std::vector<MapEntry>> ParseProcMaps(std::string_view text) {
  std::vector<MapEntry> maps;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    Result<MapEntry> entry = ParseLine(line, line_no);
    if (!entry.ok()) return entry.status();
    maps.push_back(std::move(entry).value());
  }
  return maps;
}

Result<std::vector<AddressRange>> ParseSmapsLockedRanges(std::string_view text) {
  std::vector<AddressRange> locked;
  std::optional<AddressRange> current;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    ++line_no;
    if (line.empty()) continue;
    const std::string_view first = line.substr(0, line.find(' '));
    if (first.empty() || first.back() != ':') {
      // A mapping's header line, as in /proc/PID/maps.
      Result<MapEntry> entry = ParseLine(line, line_no);
      if (!entry.ok()) return entry.status();
      current = AddressRange{entry->start, entry->end};
      continue;
    }
    if (first != "VmFlags:") continue;
    if (!current) {
      return Status::Error("smaps line " + std::to_string(line_no) + ": VmFlags before a mapping");
    }
    std::string_view flags = line.substr(first.size());
    bool is_locked = false;
    while (!flags.empty()) {
      const size_t start = flags.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      flags.remove_prefix(start);
      const std::string_view flag = flags.substr(0, flags.find(' '));
      if (flag == "lo") is_locked = true;
      flags.remove_prefix(flag.size());
    }
    if (is_locked) locked.push_back(*current);
    current.reset();
  }
  return locked;
}

uint64_t PagesCovered(const std::vector<AddressRange>& ranges, uint64_t addr,
                      uint64_t length_bytes) {
  if (length_bytes == 0) return 0;
  const uint64_t start = addr - addr % kPageBytes;
  const uint64_t last = SaturatingAdd(addr, length_bytes);
  const uint64_t end =
      last > UINT64_MAX - (kPageBytes - 1) ? UINT64_MAX : PagesForBytes(last) * kPageBytes;
  uint64_t pages = 0;
  for (const AddressRange& r : ranges) {
    const uint64_t lo = std::max(r.start, start);
    const uint64_t hi = std::min(r.end, end);
    if (lo < hi) pages += PagesForBytes(hi - lo);
  }
  return pages;
}

bool RangeWritable(const std::vector<MapEntry>& maps, uint64_t addr, uint64_t length_bytes) {
  if (length_bytes == 0) return true;
  if (addr > UINT64_MAX - length_bytes) return false;
  uint64_t at = addr;
  const uint64_t end = addr + length_bytes;
  // /proc/PID/maps lists the mappings in address order.
  for (const MapEntry& m : maps) {
    if (m.end <= at) continue;
    if (m.start > at || !m.write) return false;
    at = m.end;
    if (at >= end) return true;
  }
  return false;
}

RangeFacts RangeFactsFor(const std::vector<MapEntry>& maps, uint64_t addr, uint64_t length_bytes) {
  RangeFacts facts;
  if (length_bytes == 0) return facts;
  // Every page the range touches: start rounded down, end rounded up. An end
  // past 2^64 saturates (no user mapping lives in the last page anyway).
  const uint64_t start = addr - addr % kPageBytes;
  const uint64_t last = SaturatingAdd(addr, length_bytes);  // exclusive, in bytes
  const uint64_t end =
      last > UINT64_MAX - (kPageBytes - 1) ? UINT64_MAX : PagesForBytes(last) * kPageBytes;

  for (const MapEntry& e : maps) {
    const uint64_t lo = std::max(e.start, start);
    const uint64_t hi = std::min(e.end, end);
    if (lo >= hi) continue;
    const uint64_t pages = PagesForBytes(hi - lo);
    facts.mapped_pages += pages;
    if (!e.shared) {
      facts.private_pages += pages;
      if (e.write) facts.private_writable_pages += pages;
    }
  }
  return facts;
}

RangeFacts CallRangeFacts(const std::vector<MapEntry>& maps, const ClassifiedCall& call) {
  if (!call.grows_down || call.length_bytes == 0) {
    return RangeFactsFor(maps, call.addr, call.length_bytes);
  }
  // find_vma(start): the first mapping ending above it. The kernel fails the
  // call unless that mapping grows down and starts below the range's end;
  // planning the extended range either way errs only high.
  const uint64_t end = SaturatingAdd(call.addr, PagesForBytes(call.length_bytes) * kPageBytes);
  uint64_t start = call.addr;
  for (const MapEntry& e : maps) {
    if (e.end > call.addr) {
      if (e.start < start) start = e.start;
      break;
    }
  }
  return RangeFactsFor(maps, start, end - start);
}

std::optional<uint64_t> HeapEnd(const std::vector<MapEntry>& maps) {
  // The heap may be several mappings (madvise or mprotect on part of it
  // splits it, and each part is labelled [heap]): the break is the end of
  // the last one. The first one's end was returned once, and glibc, told its
  // break had moved down, aborted with "break adjusted to free malloc space".
  std::optional<uint64_t> end;
  for (const MapEntry& e : maps) {
    if (e.path == "[heap]") end = e.end;
  }
  return end;
}

void NoteSharedAnonymousObjects(const std::vector<MapEntry>& maps,
                                SharedAnonymousObjects* objects) {
  for (const MapEntry& e : maps) {
    if (!e.shared || e.path != "/dev/zero (deleted)") continue;
    SharedAnonymousObject& o = (*objects)[e.inode];
    o.pages =
        std::max(o.pages, SaturatingAdd(e.offset / kPageBytes, (e.end - e.start) / kPageBytes));
    o.writable = o.writable || e.write;
  }
}

uint64_t WritableSharedAnonymousPages(const SharedAnonymousObjects& objects) {
  uint64_t pages = 0;
  for (const auto& [inode, o] : objects) {
    if (o.writable) pages = SaturatingAdd(pages, o.pages);
  }
  return pages;
}

}  // namespace ubc
