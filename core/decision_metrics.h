// DecisionMetrics: counters of ubcd's decisions, for /metrics.
//
// Decisions by syscall and verdict, and a histogram of decision latency (from
// the notification's arrival to the answer being sent), in fixed buckets. The
// caller decides which decisions to time: two clock reads cost about as much
// as a fast decision itself, so ubcd times a sample (see kLatencySampleEvery).
// Every counter is a relaxed atomic: Record() is on the notification path of
// many threads and must never block. Snapshot() may run concurrently; its
// values are each exact but not one atomic cut across counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace ubc {

enum class MetricSyscall {
  kMmap,
  kMprotect,
  kBrk,
  kMremap,
  kClone,
  kFork,
  kExec,
  kShmget,
  kOther,
  kCount
};
enum class MetricVerdict { kAllowed, kRefused, kUndecided, kCount };

std::string_view MetricSyscallName(MetricSyscall s);  // "mmap", ..., "exec", "shmget", "other"
std::string_view MetricVerdictName(MetricVerdict v);  // "allowed", "refused", "undecided"
MetricSyscall MetricSyscallFor(int x86_64_nr);

// Upper bounds of the latency buckets in seconds (the last bucket is +Inf).
inline constexpr std::array<double, 12> kLatencyBucketsSeconds = {
    5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 1e-1, 1.0};

struct DecisionMetricsSnapshot {
  std::array<std::array<uint64_t, static_cast<size_t>(MetricVerdict::kCount)>,
             static_cast<size_t>(MetricSyscall::kCount)>
      decisions{};
  // Non-cumulative counts per bucket; the extra last one is +Inf.
  std::array<uint64_t, kLatencyBucketsSeconds.size() + 1> latency_buckets{};
  double latency_sum_seconds = 0;
  uint64_t latency_count = 0;
};

// ubcd times the first decision on each notify fd and every 16th after it.
inline constexpr uint32_t kLatencySampleEvery = 16;

class DecisionMetrics {
 public:
  void Record(MetricSyscall syscall, MetricVerdict verdict);
  void RecordLatency(uint64_t latency_ns);
  DecisionMetricsSnapshot Snapshot() const;

 private:
  std::array<std::array<std::atomic<uint64_t>, static_cast<size_t>(MetricVerdict::kCount)>,
             static_cast<size_t>(MetricSyscall::kCount)>
      decisions_{};
  std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> buckets_{};
  std::atomic<uint64_t> latency_sum_ns_{0};
  std::atomic<uint64_t> latency_count_{0};
};

}  // namespace ubc
