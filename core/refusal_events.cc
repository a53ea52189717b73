#include "core/refusal_events.h"

#include <utility>

namespace ubc {

RefusalEvents::RefusalEvents(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void RefusalEvents::Add(RefusalEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (events_.size() == capacity_) {
    events_.pop_front();
    ++dropped_;
  }
  events_.push_back(std::move(event));
}

std::vector<RefusalEvent> RefusalEvents::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {events_.begin(), events_.end()};
}

uint64_t RefusalEvents::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace ubc
