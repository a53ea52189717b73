#include "core/vz_config.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/meminfo_mode.h"
#include "core/vz_value.h"

namespace ubc {
namespace {

bool IsNameChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (!first && c >= '0' && c <= '9');
}

Status LineError(int line, const std::string& what) {
  return Status::Error("line " + std::to_string(line) + ": " + what);
}

// Why an OpenVZ parameter has no counterpart; empty for the mapped ones.
std::string WhyNotMapped(const std::string& name) {
  static const std::map<std::string, std::string> kReasons = {
      {"KMEMSIZE", "kernel memory is measured (the memory cgroup's), not limited, by ubc"},
      {"PHYSPAGES", "resident pages are measured, not limited; bound RAM with the memory cgroup"},
      {"SWAPPAGES", "ubc has no swap beancounter; use the memory cgroup's memory.swap.max"},
      {"VMGUARPAGES", "guarantees are not enforced by ubc"},
      {"OOMGUARPAGES", "guarantees are not enforced by ubc"},
      {"NUMFILE", "open files are measured, not limited; use RLIMIT_NOFILE"},
      {"AVNUMPROC", "a sizing hint of vzsplit, not a limit"},
      {"NUMTCPSOCK", "not tracked by ubc"},
      {"NUMOTHERSOCK", "not tracked by ubc"},
      {"NUMFLOCK", "not tracked by ubc"},
      {"NUMPTY", "not tracked by ubc"},
      {"NUMSIGINFO", "not tracked by ubc"},
      {"TCPSNDBUF", "not tracked by ubc"},
      {"TCPRCVBUF", "not tracked by ubc"},
      {"OTHERSOCKBUF", "not tracked by ubc"},
      {"DGRAMRCVBUF", "not tracked by ubc"},
      {"DCACHESIZE", "not tracked by ubc"},
      {"NUMIPTENT", "not tracked by ubc"},
  };
  auto it = kReasons.find(name);
  if (it != kReasons.end()) return it->second;
  return "not a beancounter ubc knows (disk, CPU, network and identity settings belong to the "
         "engine)";
}

}  // namespace

Result<std::vector<VzParameter>> ParseVzConfig(std::string_view text) {
  std::vector<VzParameter> out;
  std::map<std::string, size_t> index;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string_view::npos || line[i] == '#') continue;
    const size_t name_start = i;
    if (!IsNameChar(line[i], true)) {
      return LineError(line_no,
                       "expected NAME=value, found \"" + std::string(line.substr(i, 32)) + "\"");
    }
    while (i < line.size() && IsNameChar(line[i], false)) ++i;
    const std::string name(line.substr(name_start, i - name_start));
    if (i >= line.size() || line[i] != '=') {
      return LineError(line_no, "no '=' after " + name);
    }
    ++i;
    std::string value;
    char quote = 0;
    bool closed = true;
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (quote == '\'') {
        if (c == '\'') {
          quote = 0;
          closed = true;
        } else {
          value += c;
        }
      } else if (c == '\\' && i + 1 < line.size()) {
        value += line[++i];
      } else if (quote == '"') {
        if (c == '"') {
          quote = 0;
          closed = true;
        } else {
          value += c;
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        closed = false;
      } else if (c == ' ' || c == '\t') {
        // The value ends; only a comment may follow.
        const size_t rest = line.find_first_not_of(" \t", i);
        if (rest != std::string_view::npos && line[rest] != '#') {
          return LineError(line_no, name + ": unquoted blank in the value");
        }
        break;
      } else if (c == '#' && value.empty()) {
        break;
      } else {
        value += c;
      }
    }
    if (!closed) return LineError(line_no, name + ": unterminated quote");
    if (auto it = index.find(name); it != index.end()) {
      out[it->second].value = value;
    } else {
      index[name] = out.size();
      out.push_back({name, value, line_no});
    }
  }
  return out;
}

Result<VzConversion> ConvertVzConfig(const std::vector<VzParameter>& params,
                                     std::string_view ctid) {
  nlohmann::ordered_json doc;
  doc["$comment"] = "imported from OpenVZ container " + std::string(ctid) + " (ubcctl import-vz)";
  nlohmann::ordered_json match = {{"ids", nlohmann::json::array({std::string(ctid)})}};
  VzConversion out;
  nlohmann::ordered_json limits = nlohmann::ordered_json::object();
  for (const VzParameter& p : params) {
    const std::string where = p.name + " (line " + std::to_string(p.line) + ")";
    if (p.name == "PRIVVMPAGES" || p.name == "SHMPAGES" || p.name == "LOCKEDPAGES") {
      Result<BarrierLimit> bl = ParseVzBarrierLimit(p.value);
      if (!bl.ok()) return bl.status().Wrap(where);
      std::string key = p.name;
      for (char& c : key) c = static_cast<char>(c - 'A' + 'a');
      limits[key] = FormatVzBarrierLimit(*bl);
      out.mapped.push_back(p.name);
    } else if (p.name == "NUMPROC") {
      Result<BarrierLimit> bl = ParseVzCountBarrierLimit(p.value);
      if (!bl.ok()) return bl.status().Wrap(where);
      limits["numproc"] = FormatVzBarrierLimit(*bl);
      out.mapped.push_back(p.name);
    } else if (p.name == "MEMINFO") {
      Result<MeminfoMode> mode = ParseMeminfoMode(p.value);
      if (!mode.ok()) return mode.status().Wrap(where);
      limits["meminfo"] = FormatMeminfoMode(*mode);
      out.mapped.push_back(p.name);
    } else if (p.name == "NAME") {
      if (!p.value.empty()) match["names"] = nlohmann::json::array({p.value});
    } else {
      out.not_mapped.push_back(p.name + ": " + WhyNotMapped(p.name));
    }
  }
  if (out.mapped.empty()) {
    return Status::Error(
        "no parameter ubc enforces (PRIVVMPAGES, SHMPAGES, LOCKEDPAGES, NUMPROC, "
        "MEMINFO); nothing to write");
  }
  doc["match"] = match;
  for (auto& [key, value] : limits.items()) doc[key] = value;
  out.json_text = doc.dump(2) + "\n";
  return out;
}

}  // namespace ubc
