#include "wire_harness.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace tlsgate::testing {

const char* toString(Split split) {
  switch (split) {
    case Split::kWhole:
      return "whole";
    case Split::kRecords:
      return "records";
    case Split::kRecordHalf:
      return "record_half";
    case Split::kOneByte:
      return "one_byte";
  }
  return "?";
}

std::vector<std::string> cut(const std::string& bytes, Split split) {
  std::vector<std::string> pieces;
  if (bytes.empty()) return pieces;
  if (split == Split::kWhole) return {bytes};
  if (split == Split::kOneByte) {
    for (char c : bytes) pieces.emplace_back(1, c);
    return pieces;
  }
  size_t pos = 0;
  while (pos < bytes.size()) {
    constexpr size_t kHeader = 5;
    size_t body = 0;
    if (bytes.size() - pos >= kHeader)
      body = static_cast<unsigned char>(bytes[pos + 3]) << 8 |
             static_cast<unsigned char>(bytes[pos + 4]);
    size_t end = std::min(bytes.size(), pos + kHeader + body);
    if (split == Split::kRecordHalf && end - pos > kHeader) {
      size_t middle = pos + kHeader + body / 2;
      pieces.push_back(bytes.substr(pos, kHeader));
      if (middle > pos + kHeader)
        pieces.push_back(bytes.substr(pos + kHeader, middle - pos - kHeader));
      pieces.push_back(bytes.substr(middle, end - middle));
    } else {
      pieces.push_back(bytes.substr(pos, end - pos));
    }
    pos = end;
  }
  return pieces;
}

tls::ServeChoice WireHarness::StoreOwner::onClientHello(tls::ClientHelloFacts hello) {
  tls::ServeChoice choice;
  choice.entry = store.findByName(hello.sni);
  if (!choice.entry) choice.entry = store.select({}, local);
  return choice;
}

WireHarness::WireHarness(const tls::CertStore& store, const tls::ServerParams& params, Split split,
                         const std::string& sni, const std::string& groups)
    : split_(split),
      local_(*net::parseAddress("127.0.0.1:8443", true)),
      peer_(*net::parseAddress("127.0.0.1:50000", true)),
      owner_(store) {
  owner_.local = local_;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sockets_) != 0)
    throw std::runtime_error("socketpair failed");
  io_.fd = sockets_[0];
  io_.readable = false;  // nothing arrived yet: the first delivery raises the edge
  io_.handshake = std::make_unique<tls::HandshakeBuffer>();
  clientCtx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!groups.empty() && SSL_CTX_set1_groups_list(clientCtx_.get(), groups.c_str()) != 1)
    throw std::runtime_error("client groups not supported: " + groups);
  client_.reset(SSL_new(clientCtx_.get()));
  clientIn_ = BIO_new(BIO_s_mem());
  clientOut_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(clientIn_, -1);
  SSL_set_bio(client_.get(), clientIn_, clientOut_);
  SSL_set_connect_state(client_.get());
  if (!sni.empty()) SSL_set_tlsext_host_name(client_.get(), sni.c_str());
  server_ = std::make_unique<tls::ServerHandshake>(store, params, tls::newSocketBio(&io_), local_,
                                                   peer_, counters_, owner_);
}

WireHarness::~WireHarness() {
  server_.reset();
  serverSsl_.reset();
  for (int fd : sockets_)
    if (fd >= 0) ::close(fd);
}

void WireHarness::collectClientBytes() {
  std::string bytes;
  char buf[16384];
  int n = 0;
  while ((n = BIO_read(clientOut_, buf, sizeof buf)) > 0) bytes.append(buf, n);
  for (auto& piece : cut(bytes, split_)) pieces_.push_back(std::move(piece));
}

bool WireHarness::deliverPiece() {
  if (nextPiece_ == pieces_.size()) return false;
  const std::string& piece = pieces_[nextPiece_++];
  if (::send(sockets_[1], piece.data(), piece.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(piece.size()))
    throw std::runtime_error("socketpair send failed");
  io_.update(EPOLLIN);  // the edge epoll would raise
  return true;
}

size_t WireHarness::serverToClient() {
  char buf[16384];
  ssize_t n = 0;
  size_t moved = 0;
  while ((n = ::recv(sockets_[1], buf, sizeof buf, 0)) > 0) {
    BIO_write(clientIn_, buf, static_cast<int>(n));
    moved += static_cast<size_t>(n);
  }
  if (moved) io_.update(EPOLLOUT);  // the harness emptied the socket: room to write again
  return moved;
}

void WireHarness::clientWrite(const std::string& bytes) {
  if (SSL_write(client_.get(), bytes.data(), static_cast<int>(bytes.size())) !=
      static_cast<int>(bytes.size()))
    throw std::runtime_error("client write failed");
  collectClientBytes();
}

bool WireHarness::handshake(const std::string& request) {
  bool requestSent = request.empty();
  for (int round = 0; round < 1000000; ++round) {
    if (!SSL_is_init_finished(client_.get())) SSL_do_handshake(client_.get());
    if (SSL_is_init_finished(client_.get()) && !requestSent) {
      clientWrite(request);
      requestSent = true;
    }
    collectClientBytes();
    bool delivered = deliverPiece();
    server_->advance();
    serverToClient();
    tls::HandshakeState state = server_->state();
    if (state == tls::HandshakeState::kDone) {
      serverSsl_ = server_->takeSsl();
      io_.endHandshake();
      return true;
    }
    if (state == tls::HandshakeState::kFailed) return false;
    if (!delivered && SSL_is_init_finished(client_.get()) && requestSent &&
        nextPiece_ == pieces_.size() && round > 0)
      return false;  // everything delivered and the server is still waiting
  }
  return false;
}

std::string WireHarness::exchange(const std::function<bool()>& pump, size_t expect) {
  std::string got;
  bool running = true;
  for (;;) {
    if (running) running = pump();
    bool answered = serverToClient() > 0;
    char buf[16384];
    int n = 0;
    while ((n = SSL_read(client_.get(), buf, sizeof buf)) > 0) got.append(buf, n);
    if (got.size() >= expect) return got;
    collectClientBytes();  // an alert or a key update the client sent
    // Only a delivery (a read edge) or room freed in the socket (a write edge) can wake
    // the server: when neither happened, it waits for good.
    if (!deliverPiece() && !answered) return got;
  }
}

}  // namespace tlsgate::testing
