// HookRunner and the plugin handle (S13): a hook that holds a connection may complete it
// from its own thread at any time, also after the connection closed and after its worker
// stopped; the handle it calls through must still be there.
#include "hooks/hook_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "core/reactor.h"
#include "hooks/hook_registry.h"
#include "hooks/reactor_link.h"
#include "hooks/vconn.h"
#include "tls/cert_store.h"
#include "tlsgate/plugin.h"

namespace tlsgate::hooks {
namespace {

tlsgate_vconn* heldHandle = nullptr;

// A hook that keeps the connection: it returns without completing its turn.
void holdingHook(tlsgate_vconn* vc, tlsgate_hook_point, void*) {
  heldHandle = vc;
}

struct NoHost final : HookHost {
  void onHookCompleted() override { ++completed; }
  int completed = 0;
};

class HookRunnerTest : public ::testing::Test {
 protected:
  // The registry is the process's: registered once for every test of this binary run.
  static void SetUpTestSuite() {
    ASSERT_TRUE(HookRegistry::instance().add(TLSGATE_HOOK_VCONN_START, holdingHook, nullptr));
    HookRegistry::instance().freeze();
  }
  // A connection whose VCONN_START hook holds it, then closes (S13).
  void closeWhileHeld() {
    auto store = tls::CertStore::build({}, "ssl_multicert.config", tls::ServerParams{});
    ASSERT_TRUE(store.ok()) << store.error().message;
    HookRunner runner(link_, host_, **store, net::Address{}, net::Address{});
    EXPECT_EQ(runner.run(tls::HookPoint::kVconnStart), tls::HookVerdict::kPending);
    ASSERT_EQ(heldHandle, runner.handle());
  }
  Reactor reactor_;
  std::shared_ptr<ReactorLink> link_ = std::make_shared<ReactorLink>(reactor_);
  NoHost host_;
};

// The worker stops after the connection closed, then the hook completes from its thread.
// Before the handle was kept, stopping the worker freed it and this call used freed memory
// (AddressSanitizer: heap-use-after-free; without it, a crash at shutdown on Debian 13).
TEST_F(HookRunnerTest, ACompletionAfterTheWorkerStoppedFindsTheHandle) {
  closeWhileHeld();
  link_->cut();
  ASSERT_EQ(heldHandle->heldTurns.load(), 1) << "the turn is still the hook's";
  std::thread([] { tlsgate_vconn_reenable(heldHandle); }).join();
  EXPECT_EQ(heldHandle->heldTurns.load(), 0) << "the call ended the turn";
  EXPECT_EQ(heldHandle->runner, nullptr);
  EXPECT_EQ(host_.completed, 0) << "no connection is driven after its close";
}

// The hook completes after the close but before the worker stops: the completion is
// posted to the worker, which finds the turn cancelled and only releases it.
TEST_F(HookRunnerTest, ACompletionAfterTheCloseIsCancelled) {
  closeWhileHeld();
  tlsgate_vconn* handle = heldHandle;
  handle->ref();  // the test's own look at the handle after the turn is released
  std::thread([handle] { tlsgate_vconn_reenable(handle); }).join();
  reactor_.post([this] { reactor_.stop(); });  // after the completion posted before it
  reactor_.run();
  EXPECT_EQ(handle->heldTurns.load(), 0);
  EXPECT_EQ(host_.completed, 0);
  EXPECT_EQ(handle->refs.load(), 2) << "the test's reference and the runner's keep-alive";
  link_->cut();
  handle->unref();
}

}  // namespace
}  // namespace tlsgate::hooks
