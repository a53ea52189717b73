#include "supervisor/membership.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "core/proc_text.h"
#include "supervisor/proc_read.h"

namespace ubc {
namespace {

// The lines of /proc/PID/cgroup, viewing *text; none when it cannot be read.
std::vector<CgroupLine> ReadCgroups(int pid, std::string* text) {
  Result<std::string> read =
      ReadProcFile("/proc/" + std::to_string(pid) + "/cgroup", ProcRecords::kOne);
  if (!read.ok()) return {};
  *text = std::move(read).value();
  Result<std::vector<CgroupLine>> lines = ParseProcCgroup(*text);
  if (!lines.ok()) return {};
  return std::move(lines).value();
}

// Mount point of the cgroup hierarchy with these controllers ("" = cgroup2),
// mounted at its root; "" when there is none.
std::string MountPointOf(std::string_view controllers) {
  Result<std::string> text = ReadProcFile("/proc/self/mountinfo", ProcRecords::kMany);
  if (!text.ok()) return "";
  const std::optional<std::string_view> mount = CgroupMountPoint(*text, controllers);
  return mount ? std::string(*mount) : "";
}

}  // namespace

std::string Membership::Describe() const {
  switch (kind) {
    case Kind::kCgroup:
      return "cgroup " + cgroup_dir;
    case Kind::kPidNamespace:
      return "pid namespace " + std::to_string(pidns_ino);
    case Kind::kObserved:
      break;
  }
  return "observed processes";
}

bool Membership::CgroupHolds(std::string_view path) const {
  if (kind != Kind::kCgroup || cgroup_path.empty()) return false;
  if (path.substr(0, cgroup_path.size()) != cgroup_path) return false;
  return path.size() == cgroup_path.size() || cgroup_path.back() == '/' ||
         path[cgroup_path.size()] == '/';
}

std::string OwnCgroupDir(int init_pid, int runtime_pid, std::string_view controller,
                         std::string_view probe_file) {
  std::string init_text, runtime_text;
  const std::vector<CgroupLine> init_cg = ReadCgroups(init_pid, &init_text);
  const std::vector<CgroupLine> runtime_cg =
      runtime_pid > 0 ? ReadCgroups(runtime_pid, &runtime_text) : std::vector<CgroupLine>{};
  for (const CgroupLine& line : init_cg) {
    bool names = line.controllers.empty();  // cgroup2: the probe file tells
    for (std::string_view rest = line.controllers; !rest.empty() && !names;) {
      const size_t comma = rest.find(',');
      names = rest.substr(0, comma) == controller;
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (!names || line.path == "/") continue;
    auto same = std::find_if(runtime_cg.begin(), runtime_cg.end(), [&](const CgroupLine& r) {
      return r.controllers == line.controllers;
    });
    if (same == runtime_cg.end() || same->path == line.path) continue;
    const std::string mount = MountPointOf(line.controllers);
    if (mount.empty()) continue;
    std::string dir = mount + std::string(line.path);
    if (::access((dir + "/" + std::string(probe_file)).c_str(), R_OK) != 0) continue;
    return dir;
  }
  return "";
}

bool PidNamespaceOf(const std::string& ns_path, dev_t* dev, ino_t* ino) {
  struct stat st {};
  if (::stat(ns_path.c_str(), &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

namespace {

// Whether every process in the cgroup at `dir` is in the pid namespace
// (dev, ino). A runtime without cgroups (crun --cgroup-manager=disabled)
// leaves the init in the cgroup of whoever started the runtime; if the
// runtime itself then sits elsewhere (podman moves conmon), that inherited
// cgroup looks like the container's own but holds the host's processes too.
bool HoldsOnlyNamespaceMembers(const std::string& dir, dev_t dev, ino_t ino) {
  Result<std::string> procs = ReadProcFile(dir + "/cgroup.procs", ProcRecords::kPids);
  if (!procs.ok()) return false;
  std::set<int> pids;
  AddPids(*procs, &pids);
  for (int pid : pids) {
    dev_t d = 0;
    ino_t i = 0;
    // A process that exited meanwhile says nothing either way.
    if (!PidNamespaceOf("/proc/" + std::to_string(pid) + "/ns/pid", &d, &i)) continue;
    if (d != dev || i != ino) return false;
  }
  return true;
}

}  // namespace

Membership DetermineMembership(int init_pid, int runtime_pid) {
  Membership m;
  // The init's pid namespace when it is not ubcd's: a cgroup is the
  // container's only if nothing outside that namespace is in it.
  dev_t dev = 0, own_dev = 0;
  ino_t ino = 0, own_ino = 0;
  const bool own_pidns =
      PidNamespaceOf("/proc/" + std::to_string(init_pid) + "/ns/pid", &dev, &ino) &&
      PidNamespaceOf("/proc/self/ns/pid", &own_dev, &own_ino) && (dev != own_dev || ino != own_ino);
  // A cgroup of the container's own: the init is in a different cgroup than
  // the runtime that started it (runc with cgroups, podman, containerd).
  std::string init_text, runtime_text;
  const std::vector<CgroupLine> init_cg = ReadCgroups(init_pid, &init_text);
  const std::vector<CgroupLine> runtime_cg =
      runtime_pid > 0 ? ReadCgroups(runtime_pid, &runtime_text) : std::vector<CgroupLine>{};
  for (const CgroupLine& line : init_cg) {
    // Prefer hierarchies every process is attached to; named ones like
    // name=systemd are not always managed by the runtime.
    if (line.controllers.substr(0, 5) == "name=") continue;
    auto same = std::find_if(runtime_cg.begin(), runtime_cg.end(), [&](const CgroupLine& r) {
      return r.controllers == line.controllers;
    });
    if (same == runtime_cg.end() || same->path == line.path || line.path == "/") continue;
    std::string mount = MountPointOf(line.controllers);
    if (mount.empty()) continue;
    std::string dir = mount + std::string(line.path);
    if (::access((dir + "/cgroup.procs").c_str(), R_OK) != 0) continue;
    if (own_pidns && !HoldsOnlyNamespaceMembers(dir, dev, ino)) continue;
    m.kind = Membership::Kind::kCgroup;
    m.cgroup_dir = dir;
    m.cgroup_controllers = std::string(line.controllers);
    m.cgroup_path = std::string(line.path);
    return m;
  }
  if (own_pidns) {
    m.kind = Membership::Kind::kPidNamespace;
    m.pidns_dev = dev;
    m.pidns_ino = ino;
    return m;
  }
  m.kind = Membership::Kind::kObserved;
  return m;
}

}  // namespace ubc
