#include "core/meminfo_view.h"

#include <algorithm>
#include <array>
#include <optional>

namespace ubc {
namespace {

// Copied from the host: properties of the machine, not memory anyone holds.
constexpr std::array<std::string_view, 13> kHostFields = {
    "VmallocTotal",   "VmallocChunk",   "Hugepagesize", "HugePages_Total", "HugePages_Free",
    "HugePages_Rsvd", "HugePages_Surp", "Hugetlb",      "DirectMap4k",     "DirectMap2M",
    "DirectMap1G",    "DirectMap4M",    "FileHugePages"};

bool IsHostField(std::string_view name) {
  return std::find(kHostFields.begin(), kHostFields.end(), name) != kHostFields.end();
}

// The container's value of `name` in bytes, nullopt for a host field.
std::optional<uint64_t> ContainerValueBytes(std::string_view name, const MeminfoFigures& f) {
  const uint64_t total = f.total_bytes;
  const uint64_t free = std::min(f.free_bytes, total);
  const uint64_t used = total - free;
  if (name == "MemTotal" || name == "CommitLimit") return total;
  if (name == "MemFree" || name == "MemAvailable") return free;
  // What the container holds is all anonymous and active as far as a reader
  // of these lines can tell: privvmpages does not split it further.
  if (name == "Committed_AS" || name == "Active" || name == "Active(anon)" || name == "AnonPages") {
    return used;
  }
  if (name == "Shmem") return std::min(f.shmem_bytes, total);
  if (name == "Mlocked" || name == "Unevictable") return std::min(f.locked_bytes, total);
  if (IsHostField(name)) return std::nullopt;
  return 0;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "Name:<spaces>value[ kB]" with the kernel's layout: the name and colon
// padded to 16 columns, the value right-aligned in 8 more.
std::string RenderLine(std::string_view line, const MeminfoFigures& f) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::string(line);
  const std::string_view name = line.substr(0, colon);
  std::string_view rest = line.substr(colon + 1);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  bool kb = false;
  if (rest.size() > 3 && rest.substr(rest.size() - 3) == " kB") {
    kb = true;
    rest.remove_suffix(3);
  }
  if (!IsDigits(rest)) return std::string(line);
  std::optional<uint64_t> bytes = ContainerValueBytes(name, f);
  if (!bytes) return std::string(line);
  // Page counts (HugePages_*) are host fields; every computed one is in kB.
  const uint64_t value = kb ? *bytes / 1024 : 0;
  std::string out(name);
  out += ':';
  const std::string number = std::to_string(value);
  const size_t label_width = 16;
  if (out.size() < label_width) out.append(label_width - out.size(), ' ');
  if (number.size() < 8) out.append(8 - number.size(), ' ');
  out += number;
  if (kb) out += " kB";
  return out;
}

}  // namespace

std::string RenderContainerMeminfo(std::string_view host_text, const MeminfoFigures& figures) {
  std::string out;
  out.reserve(host_text.size() + 64);
  while (!host_text.empty()) {
    const size_t nl = host_text.find('\n');
    const std::string_view line = host_text.substr(0, nl);
    out += RenderLine(line, figures);
    if (nl == std::string_view::npos) break;
    out += '\n';
    host_text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace ubc
