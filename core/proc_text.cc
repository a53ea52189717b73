#include "core/proc_text.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <string>

#include "core/units.h"

namespace ubc {
namespace {

bool IsSeparator(char c) { return c == ' ' || c == '\n'; }

// Splits off the next field separated by spaces or newlines (runs of them
// tolerated); empty at the end of the text.
std::string_view NextToken(std::string_view& rest) {
  while (!rest.empty() && IsSeparator(rest.front())) rest.remove_prefix(1);
  size_t end = 0;
  while (end < rest.size() && !IsSeparator(rest[end])) ++end;
  const std::string_view token = rest.substr(0, end);
  rest.remove_prefix(end);
  return token;
}

// The whole of `text` as one number in `base`.
template <typename T>
bool ParseWhole(std::string_view text, int base, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Splits off the next line, without its '\n' (and a '\r' before it).
std::string_view NextLine(std::string_view& text) {
  const size_t nl = std::min(text.find('\n'), text.size());
  std::string_view line = text.substr(0, nl);
  text.remove_prefix(std::min(nl + 1, text.size()));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// `item` is one of the comma-separated items of `list`.
bool HasCommaItem(std::string_view list, std::string_view item) {
  for (size_t pos = list.find(item); pos != std::string_view::npos;
       pos = list.find(item, pos + 1)) {
    const size_t after = pos + item.size();
    if ((pos == 0 || list[pos - 1] == ',') && (after == list.size() || list[after] == ',')) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<Statm> ParseStatm(std::string_view text) {
  Statm s;
  const char* p = text.data();
  const char* const end = p + text.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) {
      if (p == end || *p != ' ') return std::nullopt;
      ++p;
    }
    const auto [next, ec] = std::from_chars(p, end, s[i]);
    if (ec != std::errc() || next == p) return std::nullopt;
    p = next;
  }
  if (p != end && *p != '\n') return std::nullopt;
  return s;
}

Result<ImageFacts> ParseStatImage(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return Status::Error("unparsable stat");
  std::string_view rest = text.substr(close + 1);
  ImageFacts facts;
  // Field 3 (state) is the first after comm.
  for (int n = 3;; ++n) {
    const std::string_view field = NextToken(rest);
    if (field.empty()) break;
    if (n == 20) {
      if (!ParseWhole(field, 10, facts.threads)) {
        return Status::Error("stat: invalid num_threads \"" + std::string(field) + "\"");
      }
    } else if (n == 23) {
      uint64_t vsize_bytes = 0;
      if (!ParseWhole(field, 10, vsize_bytes)) {
        return Status::Error("stat: invalid vsize \"" + std::string(field) + "\"");
      }
      facts.vm_pages = PagesForBytes(vsize_bytes);
    } else if (n == 47) {
      if (!ParseWhole(field, 10, facts.start_brk)) {
        return Status::Error("stat: invalid start_brk \"" + std::string(field) + "\"");
      }
      return facts;
    }
  }
  return Status::Error("stat has no start_brk field");
}

std::optional<uint64_t> StatusField(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':')
      continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
    uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc() || ptr == line.data()) return std::nullopt;
    const std::string_view unit = line.substr(static_cast<size_t>(ptr - line.data()));
    if (!unit.empty() && unit != " kB") return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<uint64_t> KeyedValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
      continue;
    return SingleValue(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

std::optional<uint64_t> SingleValue(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<int> StatusTgid(std::string_view text) {
  const std::optional<uint64_t> tgid = StatusField(text, "Tgid");
  if (!tgid || *tgid > static_cast<uint64_t>(INT_MAX)) return std::nullopt;
  return static_cast<int>(*tgid);
}

std::optional<ThreadSyscall> ParseThreadSyscall(std::string_view text) {
  ThreadSyscall s;
  if (text.substr(0, 7) == "running") {
    s.running = true;
    return s;
  }
  std::string_view rest = text;
  if (!ParseWhole(NextToken(rest), 10, s.nr) || s.nr < -1) return std::nullopt;
  if (s.nr < 0) return s;  // then only the stack and instruction pointers
  for (uint64_t& arg : s.args) {
    std::string_view hex = NextToken(rest);
    if (hex.substr(0, 2) == "0x") hex.remove_prefix(2);
    if (!ParseWhole(hex, 16, arg)) return std::nullopt;
  }
  return s;
}

CallProgress ProgressFromSyscall(std::string_view text, int nr,
                                 const std::array<uint64_t, 6>& args) {
  const std::optional<ThreadSyscall> s = ParseThreadSyscall(text);
  if (!s) return CallProgress::kDone;
  if (s->running) return CallProgress::kUnknown;
  // Blocked outside any call is never inside the admitted one.
  return s->nr >= 0 && s->nr == nr && s->args == args ? CallProgress::kInside : CallProgress::kDone;
}

void AddPids(std::string_view text, std::set<int>* out) {
  for (std::string_view token = NextToken(text); !token.empty(); token = NextToken(text)) {
    int pid = 0;
    if (ParseWhole(token, 10, pid) && pid > 0) out->insert(pid);
  }
}

bool PidListEmpty(std::string_view text) {
  return std::all_of(text.begin(), text.end(), IsSeparator);
}

std::optional<int> ProcEntryPid(std::string_view name) {
  if (name.empty()) return std::nullopt;
  long v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > 1L << 30) return std::nullopt;
  }
  if (v == 0) return std::nullopt;
  return static_cast<int>(v);
}

Result<std::vector<CgroupLine>> ParseProcCgroup(std::string_view text) {
  std::vector<CgroupLine> lines;
  size_t line_no = 0;
  while (!text.empty()) {
    const std::string_view line = NextLine(text);
    ++line_no;
    if (line.empty()) continue;
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    CgroupLine c;
    if (a == std::string_view::npos || !ParseWhole(line.substr(0, a), 10, c.hierarchy_id)) {
      return Status::Error("cgroup line " + std::to_string(line_no) + ": invalid hierarchy id \"" +
                           std::string(line.substr(0, a)) + "\"");
    }
    if (b == std::string_view::npos) {
      return Status::Error("cgroup line " + std::to_string(line_no) + ": no path");
    }
    c.controllers = line.substr(a + 1, b - a - 1);
    c.path = line.substr(b + 1);
    lines.push_back(c);
  }
  return lines;
}

std::optional<MountInfoLine> ParseMountInfoLine(std::string_view line) {
  while (!line.empty() && IsSeparator(line.back())) line.remove_suffix(1);
  // id, parent id, major:minor, root, mount point, mount options.
  std::string_view fixed[6];
  for (std::string_view& f : fixed) {
    f = NextToken(line);
    if (f.empty()) return std::nullopt;
  }
  // Optional fields ("shared:1", "master:2"...) up to the separator.
  for (std::string_view f = NextToken(line); f != "-"; f = NextToken(line)) {
    if (f.empty()) return std::nullopt;
  }
  MountInfoLine m;
  m.root = fixed[3];
  m.mount_point = fixed[4];
  m.fstype = NextToken(line);
  m.source = NextToken(line);
  if (m.fstype.empty() || m.source.empty()) return std::nullopt;
  m.super_options = NextToken(line);
  return m;
}

std::optional<std::string_view> CgroupMountPoint(std::string_view mountinfo,
                                                 std::string_view controllers) {
  while (!mountinfo.empty()) {
    const std::optional<MountInfoLine> m = ParseMountInfoLine(NextLine(mountinfo));
    if (!m || m->root != "/") continue;
    if (controllers.empty()) {
      if (m->fstype == "cgroup2") return m->mount_point;
      continue;
    }
    if (m->fstype != "cgroup") continue;
    // Every controller of the hierarchy appears among the super options (a
    // trailing ',' adds no empty controller).
    bool all = true;
    for (std::string_view want = controllers; !want.empty() && all;) {
      const size_t comma = std::min(want.find(','), want.size());
      all = HasCommaItem(m->super_options, want.substr(0, comma));
      want.remove_prefix(std::min(comma + 1, want.size()));
    }
    if (all) return m->mount_point;
  }
  return std::nullopt;
}

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    const bool octal = field[i] == '\\' && field.size() - i > 3 &&
                       std::all_of(field.begin() + i + 1, field.begin() + i + 4,
                                   [](char c) { return c >= '0' && c <= '7'; });
    if (octal) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::string FsTypeAt(std::string_view mountinfo, std::string_view mount_point) {
  std::string fstype;
  while (!mountinfo.empty()) {
    const size_t nl = mountinfo.find('\n');
    const std::string_view line = mountinfo.substr(0, nl);
    mountinfo.remove_prefix(nl == std::string_view::npos ? mountinfo.size() : nl + 1);
    std::optional<MountInfoLine> m = ParseMountInfoLine(line);
    // Later lines are mounted on top of earlier ones.
    if (m && UnescapeMountField(m->mount_point) == mount_point) fstype = std::string(m->fstype);
  }
  return fstype;
}

}  // namespace ubc
