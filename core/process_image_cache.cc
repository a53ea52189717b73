#include "core/process_image_cache.h"

namespace ubc {

void ProcessImageCache::ExecStarted(int tgid) {
  brk_by_tgid_[tgid] = BreakState{kBreakAtStart, kBreakAtStart, 0};
  exec_pending_.insert(tgid);
  image_counted_.erase(tgid);
}

void ProcessImageCache::PruneGone(const MembersSample& sample,
                                  const std::function<bool(int tid)>& keep_thread) {
  auto gone = [&](int tgid) { return sample.DataPagesOf(tgid) == nullptr; };
  std::erase_if(brk_by_tgid_, [&](const auto& e) { return gone(e.first); });
  std::erase_if(exec_pending_, gone);
  std::erase_if(image_counted_, gone);
  std::erase_if(tgid_by_tid_,
                [&](const auto& e) { return gone(e.second) && !keep_thread(e.first); });
}

void ProcessImageCache::Clear() {
  tgid_by_tid_.clear();
  brk_by_tgid_.clear();
  exec_pending_.clear();
  image_counted_.clear();
}

}  // namespace ubc
