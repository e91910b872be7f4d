// The blind tunnel over real TCP sockets on loopback, driven by a small edge-triggered epoll
// loop: the S10 replay comes first, bytes flow both ways with splice(), half-close passes
// through in each direction, back-pressure bounds what is in flight, errors fail the tunnel.
#include "proxy/blind_tunnel.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tlsgate::proxy {
namespace {

using namespace std::chrono_literals;
using stats::Counter;
using Clock = std::chrono::steady_clock;

// A connected TCP pair on 127.0.0.1: {connecting side, accepted side}, both blocking.
std::pair<Fd, Fd> tcpPair() {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Fd a(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(a.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
  Fd b(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(b.valid());
  // A peer that waits for bytes that never come fails the test instead of hanging it.
  timeval tv{20, 0};
  ::setsockopt(a.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(b.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return {std::move(a), std::move(b)};
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << std::strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads `n` bytes, or up to EOF if n is 0 (blocking, bounded by SO_RCVTIMEO).
std::string receive(int fd, size_t n = 0) {
  std::string out;
  char buf[65536];
  while (n == 0 || out.size() < n) {
    size_t want = n == 0 ? sizeof buf : std::min(sizeof buf, n - out.size());
    ssize_t got = ::recv(fd, buf, want, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// True once the peer's EOF is read (and nothing else arrives before it).
bool atEof(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

std::string pattern(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    out[i] = static_cast<char>(seed >> 24);
  }
  return out;
}

size_t openFds() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

// One tunnel between two TCP pairs: clientPeer ⇄ [client side | tunnel | destination side]
// ⇄ destinationPeer, as a worker would run it.
class TunnelRig {
 public:
  TunnelRig() {
    std::signal(SIGPIPE, SIG_IGN);  // as app/main.cc: splice() into a dead peer → EPIPE
    auto [cp, cs] = tcpPair();
    auto [ds, dp] = tcpPair();
    clientPeer = std::move(cp);
    clientSide_ = std::move(cs);
    destinationSide_ = std::move(ds);
    destinationPeer = std::move(dp);
    ::fcntl(clientSide_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(destinationSide_.get(), F_SETFL, O_NONBLOCK);
    io_.fd = clientSide_.get();
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  }

  void start(std::string replay = {}) {
    int destination = destinationSide_.get();
    tunnel.emplace(io_, std::move(destinationSide_), std::move(replay), counters);
    EXPECT_EQ(tunnel->destinationFd(), destination);
    watch(clientSide_.get(), 0);
    watch(destination, 1);
  }

  // Pumps on every event until the tunnel ends, `until` holds or `limit` passes.
  Progress run(Clock::duration limit, const std::function<bool()>& until = {}) {
    auto deadline = Clock::now() + limit;
    for (;;) {
      Progress p = tunnel->pump();
      if (p != Progress::kWaiting || (until && until()) || Clock::now() > deadline) return p;
      epoll_event events[2];
      int n = ::epoll_wait(epoll_.get(), events, 2, 10);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u32 == 0)
          io_.update(events[i].events);
        else
          tunnel->destinationReady(events[i].events);
      }
    }
  }

  uint64_t toDestination() const { return counters.get(Counter::kTunnelBytesClientToDestination); }
  uint64_t toClient() const { return counters.get(Counter::kTunnelBytesDestinationToClient); }
  int clientSide() const { return clientSide_.get(); }

  Fd clientPeer;
  Fd destinationPeer;
  stats::CounterBlock counters;
  std::optional<BlindTunnel> tunnel;

 private:
  void watch(int fd, uint32_t id) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = id;
    EXPECT_EQ(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), 0);
  }

  Fd clientSide_;
  Fd destinationSide_;
  tls::SocketIo io_;
  Fd epoll_;
};

TEST(BlindTunnel, ReplayArrivesBeforeWhatTheClientSendsNext) {  // S10
  TunnelRig rig;
  sendAll(rig.clientPeer.get(), "after-hello");  // already queued when the tunnel starts
  rig.start("CLIENT-HELLO");
  rig.run(5s, [&] { return rig.toDestination() == 23; });
  EXPECT_EQ(receive(rig.destinationPeer.get(), 23), "CLIENT-HELLOafter-hello");

  sendAll(rig.destinationPeer.get(), "server-hello");
  rig.run(5s, [&] { return rig.toClient() == 12; });
  EXPECT_EQ(receive(rig.clientPeer.get(), 12), "server-hello");
  EXPECT_EQ(rig.toDestination(), 23u);
  EXPECT_EQ(rig.toClient(), 12u);
}

TEST(BlindTunnel, ReplayLargerThanTheSocketBufferIsNotOvertaken) {  // S10
  TunnelRig rig;
  std::string replay = pattern(4 << 20, 1);
  sendAll(rig.clientPeer.get(), "tail");
  rig.start(replay);
  std::string got;
  std::thread reader([&] { got = receive(rig.destinationPeer.get(), replay.size() + 4); });
  rig.run(20s, [&] { return rig.toDestination() == replay.size() + 4; });
  reader.join();
  EXPECT_EQ(got.size(), replay.size() + 4);
  EXPECT_TRUE(got == replay + "tail") << "the replay was reordered or damaged";
}

TEST(BlindTunnel, ClientHalfCloseReachesTheDestinationWhichKeepsSending) {
  TunnelRig rig;
  rig.start();
  sendAll(rig.clientPeer.get(), "request");
  ::shutdown(rig.clientPeer.get(), SHUT_WR);
  EXPECT_EQ(rig.run(500ms), Progress::kWaiting);
  EXPECT_EQ(receive(rig.destinationPeer.get(), 7), "request");
  EXPECT_TRUE(atEof(rig.destinationPeer.get())) << "the client's FIN was not passed on";

  sendAll(rig.destinationPeer.get(), "response");
  EXPECT_EQ(rig.run(500ms), Progress::kWaiting);
  EXPECT_EQ(receive(rig.clientPeer.get(), 8), "response");
  ::shutdown(rig.destinationPeer.get(), SHUT_WR);
  EXPECT_EQ(rig.run(5s), Progress::kFinished);
  EXPECT_TRUE(atEof(rig.clientPeer.get()));
}

TEST(BlindTunnel, DestinationHalfCloseReachesTheClientWhichKeepsSending) {
  TunnelRig rig;
  rig.start();
  sendAll(rig.destinationPeer.get(), "banner");
  ::shutdown(rig.destinationPeer.get(), SHUT_WR);
  EXPECT_EQ(rig.run(500ms), Progress::kWaiting);
  EXPECT_EQ(receive(rig.clientPeer.get(), 6), "banner");
  EXPECT_TRUE(atEof(rig.clientPeer.get())) << "the destination's FIN was not passed on";

  sendAll(rig.clientPeer.get(), "late");
  EXPECT_EQ(rig.run(500ms), Progress::kWaiting);
  EXPECT_EQ(receive(rig.destinationPeer.get(), 4), "late");
  ::shutdown(rig.clientPeer.get(), SHUT_WR);
  EXPECT_EQ(rig.run(5s), Progress::kFinished);
  EXPECT_TRUE(atEof(rig.destinationPeer.get()));
}

TEST(BlindTunnel, Moves16MiBEachWayAtOnceIntact) {
  constexpr size_t kSize = 16 << 20;
  TunnelRig rig;
  std::string up = pattern(kSize, 7), down = pattern(kSize, 8);
  std::string gotUp, gotDown;
  rig.start();
  std::vector<std::thread> peers;
  peers.emplace_back([&] {
    sendAll(rig.clientPeer.get(), up);
    ::shutdown(rig.clientPeer.get(), SHUT_WR);
  });
  peers.emplace_back([&] {
    sendAll(rig.destinationPeer.get(), down);
    ::shutdown(rig.destinationPeer.get(), SHUT_WR);
  });
  peers.emplace_back([&] { gotUp = receive(rig.destinationPeer.get()); });
  peers.emplace_back([&] { gotDown = receive(rig.clientPeer.get()); });
  EXPECT_EQ(rig.run(60s), Progress::kFinished);
  for (auto& t : peers) t.join();
  EXPECT_EQ(gotUp.size(), kSize);
  EXPECT_EQ(gotDown.size(), kSize);
  EXPECT_TRUE(gotUp == up) << "client → destination bytes differ";
  EXPECT_TRUE(gotDown == down) << "destination → client bytes differ";
  EXPECT_EQ(rig.toDestination(), kSize);
  EXPECT_EQ(rig.toClient(), kSize);
}

TEST(BlindTunnel, StopsReadingWhileTheReceiverIsFull) {
  TunnelRig rig;
  rig.start();
  // The client sends until its socket is full; the destination reads nothing.
  ::fcntl(rig.clientPeer.get(), F_SETFL, O_NONBLOCK);
  std::string block = pattern(65536, 3), sent;
  for (Clock::time_point until = Clock::now() + 10s; Clock::now() < until;) {
    ssize_t n = ::send(rig.clientPeer.get(), block.data(), block.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent.append(block, 0, static_cast<size_t>(n));
      continue;
    }
    ASSERT_EQ(errno, EAGAIN);
    // Full. Let the tunnel move what it can; if that made room, the client goes on.
    uint64_t before = rig.toDestination();
    rig.run(100ms);
    if (rig.toDestination() == before) break;
  }
  int queued = 0;
  ::ioctl(rig.clientSide(), FIONREAD, &queued);
  EXPECT_GT(queued, 0) << "the tunnel kept reading from the client while the destination was full";
  EXPECT_LT(rig.toDestination(), sent.size());

  std::string got;
  std::thread reader([&] { got = receive(rig.destinationPeer.get(), sent.size()); });
  rig.run(20s, [&] { return rig.toDestination() == sent.size(); });
  reader.join();
  EXPECT_TRUE(got == sent) << "bytes lost or reordered under back-pressure";
}

TEST(BlindTunnel, DestinationResetFailsTheTunnel) {
  TunnelRig rig;
  rig.start();
  linger reset{1, 0};
  ::setsockopt(rig.destinationPeer.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  rig.destinationPeer.reset();  // RST
  sendAll(rig.clientPeer.get(), "into the void");
  EXPECT_EQ(rig.run(5s), Progress::kFailed);
}

TEST(BlindTunnel, ClientResetFailsTheTunnel) {
  TunnelRig rig;
  rig.start();
  linger reset{1, 0};
  ::setsockopt(rig.clientPeer.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  rig.clientPeer.reset();
  sendAll(rig.destinationPeer.get(), "nobody listens");
  EXPECT_EQ(rig.run(5s), Progress::kFailed);
}

TEST(BlindTunnel, TakeActivityReportsBytesMovedSinceTheLastCall) {
  TunnelRig rig;
  rig.start("hello");
  EXPECT_FALSE(rig.tunnel->takeActivity()) << "nothing has run yet";
  rig.run(200ms, [&] { return rig.toDestination() == 5; });
  EXPECT_TRUE(rig.tunnel->takeActivity()) << "the replay is activity";
  EXPECT_FALSE(rig.tunnel->takeActivity()) << "taking it clears it";
  rig.run(100ms);
  EXPECT_FALSE(rig.tunnel->takeActivity()) << "an idle tunnel has no activity";
  sendAll(rig.destinationPeer.get(), "x");
  rig.run(2s, [&] { return rig.toClient() == 1; });
  EXPECT_TRUE(rig.tunnel->takeActivity());
  EXPECT_FALSE(rig.tunnel->takeActivity());
}

TEST(BlindTunnel, IdleTunnelsHoldNoPipes) {
  constexpr int kTunnels = 20;
  std::vector<std::unique_ptr<TunnelRig>> rigs;
  size_t before = openFds();
  for (int i = 0; i < kTunnels; ++i) {
    auto& rig = *rigs.emplace_back(std::make_unique<TunnelRig>());
    rig.start();
    sendAll(rig.clientPeer.get(), "ping");
    sendAll(rig.destinationPeer.get(), "pong");
    rig.run(2s, [&] { return rig.toDestination() == 4 && rig.toClient() == 4; });
  }
  // Per tunnel: 4 sockets and an epoll fd of the rig. The pipes that carried the bytes are
  // back in the thread's pool, which keeps a few (net/pipe.cc), not 4 fds per tunnel.
  size_t added = openFds() - before;
  EXPECT_LE(added, kTunnels * 5 + 16u);
}

}  // namespace
}  // namespace tlsgate::proxy
