#include "core/decision_metrics.h"

#include "core/syscall_classifier.h"

namespace ubc {

std::string_view MetricSyscallName(MetricSyscall s) {
  switch (s) {
    case MetricSyscall::kMmap:
      return "mmap";
    case MetricSyscall::kMprotect:
      return "mprotect";
    case MetricSyscall::kBrk:
      return "brk";
    case MetricSyscall::kMremap:
      return "mremap";
    case MetricSyscall::kClone:
      return "clone";
    case MetricSyscall::kFork:
      return "fork";
    case MetricSyscall::kExec:
      return "exec";
    case MetricSyscall::kShmget:
      return "shmget";
    case MetricSyscall::kOther:
    case MetricSyscall::kCount:
      break;
  }
  return "other";
}

std::string_view MetricVerdictName(MetricVerdict v) {
  switch (v) {
    case MetricVerdict::kAllowed:
      return "allowed";
    case MetricVerdict::kRefused:
      return "refused";
    case MetricVerdict::kUndecided:
    case MetricVerdict::kCount:
      break;
  }
  return "undecided";
}

MetricSyscall MetricSyscallFor(int nr) {
  switch (nr) {
    case x86_64_nr::kMmap:
      return MetricSyscall::kMmap;
    case x86_64_nr::kMprotect:
      return MetricSyscall::kMprotect;
    case x86_64_nr::kBrk:
      return MetricSyscall::kBrk;
    case x86_64_nr::kMremap:
      return MetricSyscall::kMremap;
    case x86_64_nr::kClone:
      return MetricSyscall::kClone;
    case x86_64_nr::kFork:
      return MetricSyscall::kFork;
    case x86_64_nr::kExecve:
    case x86_64_nr::kExecveat:
      return MetricSyscall::kExec;
    case x86_64_nr::kShmget:
      return MetricSyscall::kShmget;
    default:
      return MetricSyscall::kOther;
  }
}

void DecisionMetrics::Record(MetricSyscall syscall, MetricVerdict verdict) {
  decisions_[static_cast<size_t>(syscall)][static_cast<size_t>(verdict)].fetch_add(
      1, std::memory_order_relaxed);
}

void DecisionMetrics::RecordLatency(uint64_t latency_ns) {
  const double seconds = static_cast<double>(latency_ns) * 1e-9;
  size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket]) {
    ++bucket;
  }
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(latency_ns, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
}

DecisionMetricsSnapshot DecisionMetrics::Snapshot() const {
  DecisionMetricsSnapshot s;
  for (size_t i = 0; i < decisions_.size(); ++i) {
    for (size_t j = 0; j < decisions_[i].size(); ++j) {
      s.decisions[i][j] = decisions_[i][j].load(std::memory_order_relaxed);
    }
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    s.latency_buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  s.latency_sum_seconds =
      static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.latency_count = latency_count_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ubc
