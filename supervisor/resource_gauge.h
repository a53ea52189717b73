// ResourceGauge: the rows of a container ubc measures from the kernel
// without deciding calls by them (docs/accounting.md, "Measured rows"):
// numproc, physpages, kmemsize, numfile.
//
// Sources, found once when the container is attached (FindGaugeSources):
//   - numproc: `pids.current` of the container's own pids cgroup, whose
//     `pids.max` the numproc limit is written to and whose `pids.events` max
//     count is the failcnt; else the sum of num_threads over its processes;
//   - physpages: its memory cgroup's usage (memory.current on cgroup2,
//     memory.usage_in_bytes on v1) in pages; else the sum of statm resident;
//   - kmemsize: the memory cgroup's kernel memory in bytes (memory.stat
//     "kernel", or its parts on kernels before 5.18; memory.kmem.usage_in_bytes
//     on v1); not measured without a memory cgroup;
//   - numfile: entries of /proc/PID/fd over its processes.
// The processes are listed from the container's cgroup.procs, or by its pid
// namespace (a /proc scan); with neither, the process rows are not measured.
// The kernel is read at most once per kSampleEveryMs, and only when a report
// asks (status, REST, metrics): never on the notify path, never under a
// decision mutex.
//
// Thread-safety: every method is thread-safe (one mutex; a reader may wait
// for a sample in progress).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/resource_rows.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

struct GaugeSources {
  std::string memory_dir;         // the container's own memory cgroup; "" none
  bool memory_v2 = false;         // memory_dir is a cgroup2 directory
  std::string pids_dir;           // its own pids cgroup; "" none
  std::string procs_dir;          // a cgroup directory listing its processes; "" none
  bool by_pid_namespace = false;  // else: list /proc by this pid namespace
  dev_t pidns_dev = 0;
  ino_t pidns_ino = 0;
};

// Where `init_pid`'s container is measured; `runtime_pid` tells a cgroup of
// its own from the runtime's (membership.h).
GaugeSources FindGaugeSources(int init_pid, int runtime_pid);

class ResourceGauge {
 public:
  static constexpr int64_t kSampleEveryMs = 1000;

  explicit ResourceGauge(GaugeSources sources, int64_t sample_every_ms = kSampleEveryMs)
      : sources_(std::move(sources)), sample_every_ms_(sample_every_ms) {}

  // The measured rows, read now unless the last sample is younger than
  // the sampling period. A row whose source cannot be read keeps its last value.
  MeasuredResources Read();
  // The last sample, reading nothing.
  MeasuredResources Last();

  // The numproc limit (barrier and limit in tasks). With a pids cgroup its
  // pids.max is set to the limit (unlimited: "max"); an error says why not.
  // Without one nothing enforces it (yet): the row shows unlimited bounds.
  Status SetNumprocLimit(const BarrierLimit& tasks);
  bool HasPidsCgroup() const { return !sources_.pids_dir.empty(); }

  // After a restart: what the state file kept.
  void Restore(uint64_t numproc_maxheld, uint64_t numproc_failcnt);

  const GaugeSources& sources() const { return sources_; }

 private:
  std::vector<int> ListProcesses() const;
  void SampleLocked();

  const GaugeSources sources_;
  const int64_t sample_every_ms_;
  std::mutex mu_;
  int64_t sampled_at_ms_ = 0;
  bool sampled_ = false;
  MeasuredResources last_;
  BarrierLimit numproc_limit_{kUnlimitedPages, kUnlimitedPages};
  uint64_t restored_failcnt_ = 0;
  uint64_t restored_maxheld_ = 0;
};

}  // namespace ubc
