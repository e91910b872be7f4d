#include "admin/http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "core/thread_name.h"
#include "net/socket.h"

namespace tlsgate::admin {

namespace {

struct Client {
  Fd fd;
  std::chrono::steady_clock::time_point deadline;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool answered = false;
};

std::string serialize(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reasonPhrase(r.status) +
                    "\r\nContent-Type: " + r.contentType +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nConnection: close\r\n";
  if (!r.allow.empty()) out += "Allow: " + r.allow + "\r\n";
  if (!r.location.empty()) out += "Location: " + r.location + "\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

}  // namespace

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 422:
      return "Unprocessable Content";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

Result<std::unique_ptr<HttpServer>> HttpServer::listen(const net::Address& address,
                                                       Handler handler) {
  auto fail = [&](const char* what) {
    return Error{
        "", 0, "admin endpoint " + address.toString() + ": " + what + ": " + std::strerror(errno)};
  };
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), address.sockaddrPtr(), address.length()) != 0) return fail("bind");
  if (::listen(fd.get(), 64) != 0) return fail("listen");
  Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) return fail("eventfd");
  net::Address bound = net::localAddress(fd.get());
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(fd), std::move(wake), bound, std::move(handler)));
}

HttpServer::HttpServer(Fd listenFd, Fd wakeFd, const net::Address& bound, Handler handler)
    : listen_(std::move(listenFd)),
      wake_(std::move(wakeFd)),
      bound_(bound),
      handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  stop_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void HttpServer::start(const std::string& threadName) {
  thread_ = std::thread([this, threadName] {
    nameThisThread(threadName);
    run();
  });
}

void HttpServer::run() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  while (!stop_.load()) {
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back(
        {listen_.get(), static_cast<short>(clients.size() < kMaxClients ? POLLIN : 0), 0});
    for (auto& c : clients)
      fds.push_back({c.fd.get(), static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
    if (::poll(fds.data(), fds.size(), 250) < 0 && errno != EINTR) {
      log::error("admin endpoint: poll: %s", std::strerror(errno));
      return;
    }
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      short ev = fds[i + 2].revents;
      if (!c.answered && (ev & (POLLIN | POLLHUP | POLLERR))) {
        char buf[4096];
        ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
          c.fd.reset();  // the client left before finishing its request
          continue;
        }
        if (n > 0) c.in.append(buf, static_cast<size_t>(n));
        HttpRequest req;
        int r = parseHttpRequest(c.in, req);
        HttpResponse resp;
        if (r == 1) {
          resp = handler_(req);
        } else if (r < 0) {
          resp.status = r == -2 ? 413 : 400;
          resp.body =
              r == -2 ? "{\"error\": \"request too large\"}\n" : "{\"error\": \"bad request\"}\n";
        }
        if (r != 0) {
          c.out = serialize(resp);
          c.answered = true;
        }
      }
      if (c.answered && c.fd.valid()) {
        ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<size_t>(n);
        if (c.sent == c.out.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) c.fd.reset();
      }
      if (c.fd.valid() && now > c.deadline) c.fd.reset();  // kReadTimeout: no slowloris
    }
    std::erase_if(clients, [](const Client& c) { return !c.fd.valid(); });
    if (fds[1].revents & POLLIN) {
      while (clients.size() < kMaxClients) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        clients.push_back(Client{Fd(fd), now + kReadTimeout, {}, {}, 0, false});
      }
    }
  }
}

}  // namespace tlsgate::admin
