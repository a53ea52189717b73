// ubcctl: command-line client of ubcd's REST API (docs/rest-api.md).
//
// Thin wiring: parses arguments, makes one or a few HTTP calls through
// ctl/http_client.h and prints with ctl/ctl_view.h. Reads need nothing; `set`
// needs the bearer token from --token-file (root-only by default). Exit codes:
// 0 done, 1 ubcd unreachable or refused, 2 usage error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/atomic_file.h"
#include "core/container_config.h"
#include "core/file_reader.h"
#include "core/vz_config.h"
#include "core/vz_value.h"
#include "ctl/ctl_view.h"
#include "ctl/http_client.h"

namespace {

using nlohmann::json;

constexpr char kUsage[] =
    "usage: ubcctl [--url URL] [--token-file FILE] COMMAND\n"
    "  status [ID]                     /proc/user_beancounters rows (all, or one container),\n"
    "                                  rows ubc does not enforce marked measured/untracked\n"
    "  get ID [--json]                 one container: counters in pages and bytes, limit sources\n"
    "  set ID [--privvmpages B[:L]] [--shmpages B[:L]] [--lockedpages B[:L]] [--numproc B[:L]]\n"
    "                                  change barrier:limit live (vzctl syntax: pages, K/M/G/T,\n"
    "                                  unlimited; numproc in tasks, no suffixes); needs the\n"
    "                                  token file\n"
    "  events ID [--json]              the container's most recent refusals\n"
    "  top [--once] [-n N] [-d SEC]    containers sorted by held/barrier, refreshed every SEC\n"
    "  import-vz FILE... [--dir DIR] [--force]\n"
    "                                  OpenVZ CTID.conf files into containers.d files\n"
    "                                  (DIR/vz-CTID.json; stdout without --dir), reporting\n"
    "                                  every parameter not mapped\n"
    "                                  (default 2) until interrupted, or N times\n"
    "options:\n"
    "  --url URL          ubcd's REST API (default http://127.0.0.1:8765, or $UBC_URL)\n"
    "  --token-file FILE  bearer token for `set` (default /etc/ubc/api-token)\n";

constexpr auto kTimeout = std::chrono::seconds(10);
// ubcd refuses larger token files (supervisor/api_token.cc).
constexpr size_t kMaxTokenFileBytes = 4096;

struct Options {
  std::string url = "http://127.0.0.1:8765";
  std::string token_file = "/etc/ubc/api-token";
  std::vector<std::string> args;  // command and its arguments
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "ubcctl: %s\n%s", message.c_str(), kUsage);
  return 2;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "ubcctl: %s\n", message.c_str());
  return 1;
}

void Print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

// A GET that must answer 200 with JSON; anything else becomes a message.
ubc::Result<json> GetJson(const Options& o, const std::string& path) {
  ubc::Result<ubc::HttpReply> reply = ubc::HttpCall(o.url, "GET", path, "", "", kTimeout);
  if (!reply.ok()) return reply.status();
  if (reply->http_status != 200) {
    return ubc::Status::Error(ubc::DescribeErrorReply(reply->http_status, reply->body));
  }
  json doc = json::parse(reply->body, nullptr, false);
  if (doc.is_discarded()) return ubc::Status::Error("ubcd answered " + path + " with invalid JSON");
  return doc;
}

ubc::Result<std::string> ReadToken(const std::string& path) {
  // A pipe is fine too (--token-file <(sudo cat /etc/ubc/api-token)).
  ubc::Result<std::string> read = ubc::ReadFileBounded(
      path, kMaxTokenFileBytes, {.what = "token file", .regular_file_only = false});
  if (!read.ok()) {
    // Open and read errors (not "larger than") get the usual reason and cure.
    if (read.status().error_number() == 0) return read.status();
    return ubc::Status::Error(read.status().message() +
                              " (it is root-only: run as root, or pass --token-file)");
  }
  std::string token = std::move(read).value();
  const size_t begin = token.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return ubc::Status::Error("token file " + path + " is empty");
  token = token.substr(begin, token.find_last_not_of(" \t\r\n") - begin + 1);
  return token;
}

std::string ContainerPath(const std::string& id) {
  return "/v1/containers/" + ubc::PercentEncodeSegment(id);
}

int Status(const Options& o) {
  if (o.args.size() > 2) return Usage("status takes at most one container id");
  // From the JSON rows, which say what each row is: the text endpoint
  // (/v1/user_beancounters, `ubcd --status`) keeps OpenVZ's layout for scripts.
  if (o.args.size() == 1) {
    ubc::Result<json> doc = GetJson(o, "/v1/containers");
    if (!doc.ok()) return Fail(doc.status().message());
    ubc::Result<std::vector<ubc::CtlContainer>> all = ubc::CtlContainersFromJson(*doc);
    if (!all.ok()) return Fail(all.status().message());
    Print(ubc::RenderStatus(*all));
    return 0;
  }
  ubc::Result<json> doc = GetJson(o, ContainerPath(o.args[1]));
  if (!doc.ok()) return Fail(doc.status().message());
  ubc::Result<ubc::CtlContainer> c = ubc::CtlContainerFromJson(*doc);
  if (!c.ok()) return Fail(c.status().message());
  Print(ubc::RenderStatus({*c}));
  return 0;
}

// "VERB ID [--json]": the usage error's exit code, or nullopt when fine.
std::optional<int> IdAndJsonFlag(const Options& o, const std::string& verb, std::string* id,
                                 bool* as_json) {
  for (size_t i = 1; i < o.args.size(); ++i) {
    if (o.args[i] == "--json") {
      *as_json = true;
    } else if (id->empty()) {
      *id = o.args[i];
    } else {
      return Usage(verb + " takes one container id");
    }
  }
  if (id->empty()) return Usage(verb + " needs a container id");
  return std::nullopt;
}

int Get(const Options& o) {
  bool as_json = false;
  std::string id;
  if (std::optional<int> bad = IdAndJsonFlag(o, "get", &id, &as_json)) return *bad;
  ubc::Result<json> doc = GetJson(o, ContainerPath(id));
  if (!doc.ok()) return Fail(doc.status().message());
  if (as_json) {
    Print(doc->dump(2) + "\n");
    return 0;
  }
  ubc::Result<ubc::CtlContainer> c = ubc::CtlContainerFromJson(*doc);
  if (!c.ok()) return Fail(c.status().message());
  Print(ubc::RenderContainer(*c));
  return 0;
}

int Set(const Options& o) {
  std::string id;
  std::map<std::string, std::string> values;  // beancounter -> vzctl value
  for (size_t i = 1; i < o.args.size(); ++i) {
    const std::string& a = o.args[i];
    bool matched = false;
    for (const std::string name : {"privvmpages", "shmpages", "lockedpages", "numproc"}) {
      const std::string flag = "--" + name;
      if (a == flag && i + 1 < o.args.size()) {
        values[name] = o.args[++i];
        matched = true;
      } else if (a.rfind(flag + "=", 0) == 0) {
        values[name] = a.substr(flag.size() + 1);
        matched = true;
      }
    }
    if (matched) continue;
    if (id.empty() && a.rfind("--", 0) != 0) {
      id = a;
    } else {
      return Usage("unexpected argument \"" + a + "\" to set");
    }
  }
  if (id.empty() || values.empty()) {
    return Usage(
        "set needs ID and one of --privvmpages, --shmpages, --lockedpages, --numproc B[:L]");
  }
  // Checked here too so a typo is named before any token is read.
  json body = json::object();
  std::string summary;
  for (const auto& [name, text] : values) {
    // numproc counts tasks: no size suffixes.
    ubc::Result<ubc::BarrierLimit> bl =
        name == "numproc" ? ubc::ParseVzCountBarrierLimit(text) : ubc::ParseVzBarrierLimit(text);
    if (!bl.ok()) return Usage("--" + name + ": " + bl.status().message());
    body[name] = {{"barrier", bl->barrier_pages}, {"limit", bl->limit_pages}};
    summary += (summary.empty() ? "" : ", ") + name + " " + ubc::FormatVzBarrierLimit(*bl);
  }
  ubc::Result<std::string> token = ReadToken(o.token_file);
  if (!token.ok()) return Fail(token.status().message());
  ubc::Result<ubc::HttpReply> reply =
      ubc::HttpCall(o.url, "PATCH", ContainerPath(id), body.dump(), *token, kTimeout);
  if (!reply.ok()) return Fail(reply.status().message());
  if (reply->http_status != 200) {
    return Fail(ubc::DescribeErrorReply(reply->http_status, reply->body));
  }
  json doc = json::parse(reply->body, nullptr, false);
  ubc::Result<ubc::CtlContainer> c = ubc::CtlContainerFromJson(doc);
  if (!c.ok()) return Fail(c.status().message());
  Print(c->id + ": " + summary + " (privvmpages held " + std::to_string(c->privvmpages.held_pages) +
        ", failcnt " + std::to_string(c->privvmpages.failcnt) + "; shmpages held " +
        std::to_string(c->shmpages.held_pages) + ", failcnt " +
        std::to_string(c->shmpages.failcnt) + "; lockedpages held " +
        std::to_string(c->lockedpages.held_pages) + ", failcnt " +
        std::to_string(c->lockedpages.failcnt) + ")\n");
  return 0;
}

int Events(const Options& o) {
  bool as_json = false;
  std::string id;
  if (std::optional<int> bad = IdAndJsonFlag(o, "events", &id, &as_json)) return *bad;
  ubc::Result<json> doc = GetJson(o, ContainerPath(id) + "/events");
  if (!doc.ok()) return Fail(doc.status().message());
  if (as_json) {
    Print(doc->dump(2) + "\n");
    return 0;
  }
  ubc::Result<std::string> text = ubc::RenderEvents(*doc);
  if (!text.ok()) return Fail(text.status().message());
  Print(*text);
  return 0;
}

int Top(const Options& o) {
  long iterations = -1;  // until interrupted
  double interval_seconds = 2;
  for (size_t i = 1; i < o.args.size(); ++i) {
    const std::string& a = o.args[i];
    char* end = nullptr;
    if (a == "--once") {
      iterations = 1;
    } else if ((a == "-n" || a == "--iterations") && i + 1 < o.args.size()) {
      iterations = std::strtol(o.args[++i].c_str(), &end, 10);
      if (*end != '\0' || iterations < 1) return Usage("-n needs a positive count");
    } else if ((a == "-d" || a == "--delay") && i + 1 < o.args.size()) {
      interval_seconds = std::strtod(o.args[++i].c_str(), &end);
      if (*end != '\0' || !(interval_seconds > 0)) return Usage("-d needs positive seconds");
    } else {
      return Usage("unexpected argument \"" + a + "\" to top");
    }
  }
  // Like top: redraw in place on a terminal, append frames otherwise.
  const bool redraw = ::isatty(STDOUT_FILENO) != 0 && iterations != 1;
  for (long n = 0; iterations < 0 || n < iterations; ++n) {
    if (n > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(interval_seconds));
    }
    ubc::Result<json> doc = GetJson(o, "/v1/containers");
    if (!doc.ok()) return Fail(doc.status().message());
    ubc::Result<std::vector<ubc::CtlContainer>> list = ubc::CtlContainersFromJson(*doc);
    if (!list.ok()) return Fail(list.status().message());
    const std::time_t now = std::time(nullptr);
    struct tm tm = {};
    localtime_r(&now, &tm);
    char clock[16];
    std::strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    const std::string title = std::string("ubcctl top - ") + clock + " - " + o.url + " - " +
                              std::to_string(list->size()) + " containers (pages of 4096 bytes)";
    if (redraw) Print("\033[H\033[2J");
    Print(ubc::RenderTop(std::move(list).value(), title));
    if (!redraw && (iterations < 0 || n + 1 < iterations)) Print("\n");
    std::fflush(stdout);
  }
  return 0;
}

// OpenVZ's /etc/vz/conf/CTID.conf files into containers.d files
// (core/vz_config.h). Needs no ubcd and no token.
int ImportVz(const Options& o) {
  std::string dir;
  bool force = false;
  std::vector<std::string> files;
  for (size_t i = 1; i < o.args.size(); ++i) {
    const std::string& a = o.args[i];
    if (a == "--dir" && i + 1 < o.args.size()) {
      dir = o.args[++i];
    } else if (a.rfind("--dir=", 0) == 0) {
      dir = a.substr(6);
    } else if (a == "--force") {
      force = true;
    } else if (a.rfind("--", 0) == 0) {
      return Usage("unexpected option \"" + a + "\" to import-vz");
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return Usage("import-vz needs at least one CTID.conf file");
  int failed = 0;
  for (const std::string& path : files) {
    std::string base = path.substr(path.rfind('/') + 1);
    const std::string ctid =
        base.size() > 5 && base.ends_with(".conf") ? base.substr(0, base.size() - 5) : base;
    const auto fail = [&](const std::string& why) {
      std::fprintf(stderr, "ubcctl: %s: %s\n", path.c_str(), why.c_str());
      ++failed;
    };
    ubc::Result<std::string> text = ubc::ReadFileBounded(path, 1 << 20);
    if (!text.ok()) {
      fail(text.status().message());
      continue;
    }
    ubc::Result<std::vector<ubc::VzParameter>> params = ubc::ParseVzConfig(*text);
    if (!params.ok()) {
      fail(params.status().message());
      continue;
    }
    ubc::Result<ubc::VzConversion> out = ubc::ConvertVzConfig(*params, ctid);
    if (!out.ok()) {
      fail(out.status().message());
      continue;
    }
    const std::string target = dir.empty() ? "" : dir + "/vz-" + ctid + ".json";
    // What ubcd will read: the same parser and schema.
    if (ubc::Result<ubc::ContainerConfig> check =
            ubc::ParseContainerConfig(out->json_text, target.empty() ? "-" : target);
        !check.ok()) {
      fail(check.status().message());
      continue;
    }
    if (target.empty()) {
      Print(out->json_text);
    } else {
      struct stat st {};
      if (!force && ::stat(target.c_str(), &st) == 0) {
        fail(target + " exists (--force replaces it)");
        continue;
      }
      if (ubc::Status s = ubc::WriteFileAtomically(target, out->json_text, 0644); !s.ok()) {
        fail(s.message());
        continue;
      }
    }
    std::string mapped;
    for (const std::string& m : out->mapped) mapped += (mapped.empty() ? "" : ", ") + m;
    std::fprintf(stderr, "%s: %s%s (%s)\n", path.c_str(), target.empty() ? "" : "wrote ",
                 target.empty() ? "converted" : target.c_str(), mapped.c_str());
    for (const std::string& n : out->not_mapped) {
      std::fprintf(stderr, "%s: not mapped: %s\n", path.c_str(), n.c_str());
    }
  }
  if (failed == 0 && !dir.empty()) {
    std::fprintf(stderr, "send ubcd SIGHUP to read %s again\n", dir.c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("UBC_URL"); env != nullptr && *env != '\0') o.url = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--token-file" && i + 1 < argc) {
      o.token_file = argv[++i];
    } else if (a.rfind("--token-file=", 0) == 0) {
      o.token_file = a.substr(13);
    } else if (a == "--url" && i + 1 < argc) {
      o.url = argv[++i];
    } else if (a.rfind("--url=", 0) == 0) {
      o.url = a.substr(6);
    } else {
      o.args.push_back(a);
    }
  }
  while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
  if (o.args.empty()) return Usage("no command");
  const std::string& command = o.args[0];
  if (command == "status") return Status(o);
  if (command == "get") return Get(o);
  if (command == "set") return Set(o);
  if (command == "events") return Events(o);
  if (command == "top") return Top(o);
  if (command == "import-vz") return ImportVz(o);
  return Usage("unknown command \"" + command + "\"");
}
