// PublishedValue<T>: a small value one thread publishes and any thread reads
// without a lock (a sequence lock).
//
// The writer stores the value word by word between two increments of a
// sequence number; a reader retries while the number is odd or changed under
// it. Writing costs a handful of plain stores, reading never blocks the
// writer: this is how the decision path shows its counters to status readers
// without letting them near its mutex. T must be trivially copyable and a
// multiple of 8 bytes. Exactly one writer at a time (the owner serialises
// Publish calls); Read() is safe from any number of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ubc {

template <typename T>
class PublishedValue {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert(sizeof(T) % sizeof(uint64_t) == 0);
  static constexpr size_t kWords = sizeof(T) / sizeof(uint64_t);

 public:
  PublishedValue() { Publish(T{}); }

  void Publish(const T& value) {
    uint64_t words[kWords];
    std::memcpy(words, &value, sizeof words);
    const uint64_t seq = seq_.load(std::memory_order_relaxed);
    seq_.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (size_t i = 0; i < kWords; ++i) words_[i].store(words[i], std::memory_order_relaxed);
    seq_.store(seq + 2, std::memory_order_release);
  }

  T Read() const {
    uint64_t words[kWords];
    for (;;) {
      const uint64_t before = seq_.load(std::memory_order_acquire);
      if (before & 1) continue;  // a write is under way
      for (size_t i = 0; i < kWords; ++i) words[i] = words_[i].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == before) break;
    }
    T value;
    std::memcpy(&value, words, sizeof value);
    return value;
  }

 private:
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> words_[kWords];
};

}  // namespace ubc
