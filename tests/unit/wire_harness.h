// WireHarness: a real OpenSSL client on memory BIOs talking to tlsgate's production server
// path (socket BIO, handshake buffer, ServerHandshake, then a data-phase pump) over a
// socketpair, with the client's bytes delivered in pieces the test chooses.
//
// Library changes in buffering (how many bytes OpenSSL asks its BIO for, what it keeps,
// what it leaves behind) surface here deterministically instead of as a stall under load:
// each delivery writes one piece into the socket and raises the readiness edge epoll would
// raise, then the server side runs until it waits. Nothing else wakes it, so a reader that
// misses bytes some layer still holds waits forever, and the test sees it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/address.h"
#include "stats/counters.h"
#include "tls/cert_store.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"
#include "tls/socket_bio.h"

namespace tlsgate::testing {

// How the client's bytes are cut into deliveries.
enum class Split {
  kWhole,       // all that the client has written so far, in one piece
  kRecords,     // one TLS record per piece
  kRecordHalf,  // each record cut after its header and in the middle of its body
  kOneByte,     // one byte per piece
};
const char* toString(Split split);

// Cuts `bytes` (a run of TLS records, possibly ending in a partial one) into pieces.
std::vector<std::string> cut(const std::string& bytes, Split split);

class WireHarness {
 public:
  // The client offers `groups` (OpenSSL list syntax, "" = the library's default) and
  // sends `sni` ("" = none).
  WireHarness(const tls::CertStore& store, const tls::ServerParams& params, Split split,
              const std::string& sni = "", const std::string& groups = "");
  ~WireHarness();

  // Runs both handshakes. When `request` is not empty the client writes it right behind
  // its Finished, before anything is delivered, as browsers and curl do. True when the
  // server's handshake is done.
  bool handshake(const std::string& request = "");

  // The server's side after the handshake: `pump` moves what it can and returns false
  // once it has finished or failed. Runs it, delivering the client's pending pieces one by
  // one, until the client has read `expect` bytes or nothing moves any more. Returns what
  // the client read.
  std::string exchange(const std::function<bool()>& pump, size_t expect);

  // Sends `bytes` from the client (application data) without delivering them yet.
  void clientWrite(const std::string& bytes);

  tls::ServerHandshake& server() { return *server_; }
  tls::SocketIo& serverIo() { return io_; }
  SSL* serverSsl() { return serverSsl_.get(); }
  SSL* client() { return client_.get(); }
  stats::CounterBlock& counters() { return counters_; }

 private:
  // Moves what the client wrote into the queue of pieces.
  void collectClientBytes();
  // Writes the next piece into the socket and raises the read edge; false if none is left.
  bool deliverPiece();
  // Moves what the server wrote to the client's input BIO; returns how many bytes.
  size_t serverToClient();

  Split split_;
  int sockets_[2] = {-1, -1};  // [0] the server's, [1] the harness's end
  tls::SocketIo io_;
  net::Address local_;
  net::Address peer_;
  stats::CounterBlock counters_;
  ossl::UniquePtr<SSL_CTX> clientCtx_;
  ossl::UniquePtr<SSL> client_;
  BIO* clientIn_ = nullptr;   // owned by client_
  BIO* clientOut_ = nullptr;  // owned by client_
  std::vector<std::string> pieces_;
  size_t nextPiece_ = 0;
  // Serves the certificate the store selects for the name.
  struct StoreOwner final : tls::HandshakeOwner {
    explicit StoreOwner(const tls::CertStore& s) : store(s) {}
    tls::ServeChoice onClientHello(tls::ClientHelloFacts hello) override;
    const tls::CertStore& store;
    net::Address local;
  };
  StoreOwner owner_;
  std::unique_ptr<tls::ServerHandshake> server_;
  ossl::UniquePtr<SSL> serverSsl_;
};

}  // namespace tlsgate::testing
