#include "supervisor/inflight_slots.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/unique_fd.h"

namespace ubc {

static_assert(std::atomic<uint32_t>::is_always_lock_free);

Result<std::unique_ptr<InflightSlots>> InflightSlots::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return Status::Error("opening " + path + ": " + std::strerror(errno));
  const size_t bytes = sizeof(InflightSlot) * kSlots;
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    return Status::Error("sizing " + path + ": " + std::strerror(errno));
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return Status::Error("mapping " + path + ": " + std::strerror(errno));
  return std::unique_ptr<InflightSlots>(new InflightSlots(static_cast<InflightSlot*>(p), bytes));
}

InflightSlots::InflightSlots(InflightSlot* slots, size_t bytes)
    : slots_(slots), bytes_(bytes), used_(kSlots, false) {}

InflightSlots::~InflightSlots() { ::munmap(slots_, bytes_); }

int InflightSlots::Acquire() {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t i = 0; i < kSlots; ++i) {
    if (!used_[i]) {
      used_[i] = true;
      InflightSlot& s = slots_[i];
      s.deciding.store(0, std::memory_order_relaxed);
      s.id = s.last_id = 0;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void InflightSlots::Claim(int index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= 0 && static_cast<uint32_t>(index) < kSlots) used_[index] = true;
}

void InflightSlots::Release(int index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index >= 0 && static_cast<uint32_t>(index) < kSlots) used_[index] = false;
}

}  // namespace ubc
