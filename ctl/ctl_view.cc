#include "ctl/ctl_view.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "core/http_request.h"
#include "core/units.h"
#include "core/vz_value.h"

namespace ubc {
namespace {

using nlohmann::json;

std::string Row(const char* format, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

// "16.4M" style sizes for a human; pages stay the authoritative unit.
std::string HumanBytes(uint64_t pages) {
  if (pages == kUnlimitedPages) return "unlimited";
  double bytes = static_cast<double>(pages) * kPageBytes;
  const char* units[] = {"B", "K", "M", "G", "T", "P"};
  size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(units)) {
    bytes /= 1024;
    ++u;
  }
  return Row(u == 0 ? "%.0f%s" : "%.1f%s", bytes, units[u]);
}

// The standard phrase (core/http_request.h), or "HTTP 599" for one it lacks.
std::string ReasonPhrase(int status) {
  const std::string_view phrase = HttpReason(status);
  return phrase == "Unknown" ? "HTTP " + std::to_string(status) : std::string(phrase);
}

// Throws nlohmann's exceptions on a missing or mistyped field.
BeancounterValues ValuesFromJson(const json& b) {
  BeancounterValues v;
  v.held_pages = b.at("held").at("pages").get<uint64_t>();
  v.maxheld_pages = b.at("maxheld").at("pages").get<uint64_t>();
  v.barrier_pages = b.at("barrier").at("pages").get<uint64_t>();
  v.limit_pages = b.at("limit").at("pages").get<uint64_t>();
  v.failcnt = b.at("failcnt").get<uint64_t>();
  return v;
}

}  // namespace

Result<CtlContainer> CtlContainerFromJson(const json& doc) {
  try {
    CtlContainer c;
    c.id = doc.at("id").get<std::string>();
    c.state = doc.at("state").get<std::string>();
    c.processes = doc.at("processes").get<uint64_t>();
    c.notify_fds = doc.at("notify_fds").get<uint64_t>();
    c.profile = doc.at("profile").get<std::string>();
    c.profile_source = doc.value("profile_source", "");
    c.membership = doc.value("membership", "");
    const json& beancounters = doc.at("beancounters");
    const json& p = beancounters.at("privvmpages");
    c.privvmpages = ValuesFromJson(p);
    c.source = p.value("source", "");
    c.source_detail = p.value("source_detail", "");
    if (auto s = beancounters.find("shmpages"); s != beancounters.end()) {
      c.shmpages = ValuesFromJson(*s);
      c.shm_source = s->value("source", "");
      c.shm_source_detail = s->value("source_detail", "");
    }
    if (auto rows = doc.find("resources"); rows != doc.end() && rows->is_array()) {
      for (const json& r : *rows) {
        CtlResourceRow row;
        row.resource = r.at("resource").get<std::string>();
        row.tracking = r.value("tracking", "");
        row.held = r.at("held").get<uint64_t>();
        row.maxheld = r.at("maxheld").get<uint64_t>();
        row.barrier = r.at("barrier").get<uint64_t>();
        row.limit = r.at("limit").get<uint64_t>();
        row.failcnt = r.at("failcnt").get<uint64_t>();
        c.resources.push_back(std::move(row));
      }
    }
    if (auto l = beancounters.find("lockedpages"); l != beancounters.end()) {
      c.lockedpages = ValuesFromJson(*l);
      c.locked_source = l->value("source", "");
      c.locked_source_detail = l->value("source_detail", "");
    }
    return c;
  } catch (const std::exception& e) {
    return Status::Error(std::string("unexpected container document from ubcd: ") + e.what());
  }
}

Result<std::vector<CtlContainer>> CtlContainersFromJson(const json& doc) {
  if (!doc.is_object() || !doc.contains("containers") || !doc["containers"].is_array()) {
    return Status::Error("unexpected container list from ubcd: no \"containers\" array");
  }
  std::vector<CtlContainer> out;
  for (const json& entry : doc["containers"]) {
    Result<CtlContainer> c = CtlContainerFromJson(entry);
    if (!c.ok()) return c.status();
    out.push_back(std::move(c).value());
  }
  return out;
}

std::string RenderStatus(const std::vector<CtlContainer>& containers) {
  std::string out =
      "Version: 2.5\n" + Row("%10s  %-12s %20s %20s %20s %20s %20s  %s\n", "uid", "resource",
                             "held", "maxheld", "barrier", "limit", "failcnt", "");
  bool any_unenforced = false;
  for (const CtlContainer& c : containers) {
    const std::string uid = c.id + ":";
    bool first = true;
    for (const CtlResourceRow& r : c.resources) {
      const bool enforced = r.tracking == "enforced";
      any_unenforced = any_unenforced || !enforced;
      out +=
          Row("%10s  %-12s %20llu %20llu %20llu %20llu %20llu  %s\n", first ? uid.c_str() : "",
              r.resource.c_str(), static_cast<unsigned long long>(r.held),
              static_cast<unsigned long long>(r.maxheld),
              static_cast<unsigned long long>(r.barrier), static_cast<unsigned long long>(r.limit),
              static_cast<unsigned long long>(r.failcnt), enforced ? "" : r.tracking.c_str());
      first = false;
    }
  }
  if (any_unenforced) {
    out +=
        "measured: read from the kernel, not refused by ubc; untracked: not counted (held 0, "
        "unlimited)\n";
  }
  return out;
}

double HeldPercentOfBarrier(const BeancounterValues& v) {
  if (v.barrier_pages == 0 || v.barrier_pages == kUnlimitedPages) return 0;
  return 100.0 * static_cast<double>(v.held_pages) / static_cast<double>(v.barrier_pages);
}

std::string RenderTop(std::vector<CtlContainer> containers, const std::string& title) {
  std::stable_sort(containers.begin(), containers.end(),
                   [](const CtlContainer& a, const CtlContainer& b) {
                     const double pa = HeldPercentOfBarrier(a.privvmpages);
                     const double pb = HeldPercentOfBarrier(b.privvmpages);
                     return pa != pb ? pa > pb : a.id < b.id;
                   });
  std::string out = title + "\n";
  out += Row("%-24s %-8s %5s %4s %12s %12s %12s %12s %8s %7s\n", "ID", "STATE", "PROCS", "FDS",
             "HELD", "MAXHELD", "BARRIER", "LIMIT", "FAILCNT", "%BAR");
  for (const CtlContainer& c : containers) {
    const BeancounterValues& v = c.privvmpages;
    const std::string id = c.id.size() > 24 ? c.id.substr(0, 23) + "~" : c.id;
    out += Row(
        "%-24s %-8s %5llu %4llu %12s %12s %12s %12s %8llu %6.1f%%\n", id.c_str(), c.state.c_str(),
        static_cast<unsigned long long>(c.processes), static_cast<unsigned long long>(c.notify_fds),
        FormatVzValuePages(v.held_pages).c_str(), FormatVzValuePages(v.maxheld_pages).c_str(),
        FormatVzValuePages(v.barrier_pages).c_str(), FormatVzValuePages(v.limit_pages).c_str(),
        static_cast<unsigned long long>(v.failcnt), HeldPercentOfBarrier(v));
  }
  if (containers.empty()) out += "(no containers)\n";
  return out;
}

std::string RenderContainer(const CtlContainer& c) {
  const BeancounterValues& v = c.privvmpages;
  std::string out;
  out += "id:          " + c.id + "\n";
  out += "state:       " + c.state + "\n";
  out += "processes:   " + std::to_string(c.processes) + "\n";
  out += "notify fds:  " + std::to_string(c.notify_fds) + "\n";
  out += "profile:     " + c.profile + " (from " + c.profile_source + ")\n";
  out += "membership:  " + c.membership + "\n";
  const auto section = [&out](const char* name, const BeancounterValues& values,
                              const std::string& source, const std::string& detail) {
    out += std::string(name) + "  (pages of 4096 bytes; limits from " + source +
           (detail.empty() || detail == source ? "" : " " + detail) + ")\n";
    const auto line = [&out](const char* field, uint64_t pages) {
      out += Row("  %-8s %20s  %s\n", field, FormatVzValuePages(pages).c_str(),
                 HumanBytes(pages).c_str());
    };
    line("held", values.held_pages);
    line("maxheld", values.maxheld_pages);
    line("barrier", values.barrier_pages);
    line("limit", values.limit_pages);
    out += Row("  %-8s %20llu\n", "failcnt", static_cast<unsigned long long>(values.failcnt));
  };
  section("privvmpages", v, c.source, c.source_detail);
  if (!c.shm_source.empty()) section("shmpages   ", c.shmpages, c.shm_source, c.shm_source_detail);
  if (!c.locked_source.empty()) {
    section("lockedpages", c.lockedpages, c.locked_source, c.locked_source_detail);
  }
  return out;
}

Result<std::string> RenderEvents(const json& doc) {
  try {
    const json& events = doc.at("events");
    std::string out = Row("%-30s %8s %-16s %-9s %10s %10s %-8s %10s %s\n", "TIME", "PID", "COMM",
                          "SYSCALL", "REQUESTED", "HELD", "CHECKED", "BOUND", "RETURNED");
    for (const json& e : events) {
      out += Row(
          "%-30s %8lld %-16s %-9s %10llu %10llu %-8s %10s %s\n",
          e.at("time").get<std::string>().c_str(), e.at("pid").get<long long>(),
          e.at("comm").get<std::string>().c_str(), e.at("syscall").get<std::string>().c_str(),
          e.at("requested_pages").get<unsigned long long>(),
          e.at("held_pages").get<unsigned long long>(), e.at("checked").get<std::string>().c_str(),
          FormatVzValuePages(e.at("bound_pages").get<uint64_t>()).c_str(),
          e.at("returned").get<std::string>().c_str());
    }
    if (events.empty()) out += "(no refusals)\n";
    return out;
  } catch (const std::exception& e) {
    return Status::Error(std::string("unexpected events document from ubcd: ") + e.what());
  }
}

std::string DescribeErrorReply(int http_status, const std::string& body) {
  std::string message;
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
    message = doc["error"].get<std::string>();
  } else {
    message = body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
  }
  std::string out = "ubcd refused the request (" + std::to_string(http_status) + " " +
                    ReasonPhrase(http_status) + ")";
  if (!message.empty()) out += ": " + message;
  if (http_status == 401) out += " (see --token-file; reading it needs root)";
  return out;
}

std::string PercentEncodeSegment(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += Row("%%%02X", static_cast<unsigned>(c));
    }
  }
  return out;
}

}  // namespace ubc
