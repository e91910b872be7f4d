// ReactorLink: how a plugin thread reaches a worker's reactor safely. The worker cuts the
// link when it stops, so a completing call that arrives later (a hook that re-enables after
// shutdown began) is dropped instead of touching a reactor that is gone.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "core/reactor.h"

namespace tlsgate::hooks {

class ReactorLink {
 public:
  explicit ReactorLink(Reactor& reactor) : reactor_(&reactor) {}

  // Posts `task` to the reactor; false (task dropped) once the link is cut.
  bool post(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    if (!reactor_) return false;
    reactor_->post(std::move(task));
    return true;
  }
  bool inLoopThread() {
    std::lock_guard lock(mutex_);
    return reactor_ && reactor_->inLoopThread();
  }
  void cut() {
    std::vector<std::function<void()>> atCut;
    {
      std::lock_guard lock(mutex_);
      reactor_ = nullptr;
      atCut.swap(atCut_);
    }
    for (auto& fn : atCut) fn();
  }
  // Runs `fn` when the link is cut (at once if it is already): what must wait for the
  // worker's end, such as the hold on a plugin handle whose hook never completed.
  void onCut(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex_);
      if (reactor_) {
        atCut_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

 private:
  std::mutex mutex_;
  Reactor* reactor_;                          // guarded by mutex_
  std::vector<std::function<void()>> atCut_;  // guarded by mutex_
};

}  // namespace tlsgate::hooks
