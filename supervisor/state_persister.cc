#include "supervisor/state_persister.h"

#include <chrono>
#include <utility>

#include "core/atomic_file.h"
#include "supervisor/log.h"

namespace ubc {

StatePersister::StatePersister(std::string path, std::function<PersistedState()> state,
                               std::function<void()> tick)
    : path_(std::move(path)), state_(std::move(state)), tick_(std::move(tick)) {}

StatePersister::~StatePersister() { Stop(); }

void StatePersister::Start() {
  thread_ = std::thread([this] { Run(); });
}

void StatePersister::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatePersister::WakeSoon() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    soon_ = true;
  }
  wake_.notify_one();
}

Status StatePersister::PersistNow() {
  if (path_.empty()) return Status::Ok();
  std::string text = SerializePersistedState(state_());
  std::lock_guard<std::mutex> lock(write_mu_);
  if (text == last_written_) return Status::Ok();
  if (Status s = WriteFileAtomically(path_, text, 0600); !s.ok()) return s;
  last_written_ = std::move(text);
  return Status::Ok();
}

void StatePersister::Run() {
  for (;;) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      // Refusals and limit changes wake it at once; maxheld alone waits.
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return soon_ || stopping_; });
      soon_ = false;
      stopping = stopping_;
    }
    if (Status s = PersistNow(); !s.ok()) Log(LogLevel::kError, s.message());
    if (stopping) return;
    if (tick_) tick_();
  }
}

}  // namespace ubc
