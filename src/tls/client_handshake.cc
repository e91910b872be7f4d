#include "tls/client_handshake.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/read_file.h"
#include "tls/cert_loader.h"
#include "tls/groups.h"

namespace tlsgate::tls {

using stats::Counter;

namespace {

// ex_data slots: the handshake in progress, and where new sessions go.
int handshakeIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int sinkIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
// On the origin SSL_CTX: its originContextId, stored as the pointer's value.
int contextIdIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool isNameError(int err) {
  return err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH;
}

bool checksChain(VerifyServerProperties p) {
  return p == VerifyServerProperties::kSignature || p == VerifyServerProperties::kAll;
}
bool checksName(VerifyServerProperties p) {
  return p == VerifyServerProperties::kName || p == VerifyServerProperties::kAll;
}

Counter reasonCounter(int err) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return Counter::kSslOriginVerifyExpired;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return Counter::kSslOriginVerifyUnknownCa;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return Counter::kSslOriginVerifyNameMismatch;
    default:
      return Counter::kSslOriginVerifyOther;
  }
}

// S17: a client certificate (and its chain) for origins that ask, its key checked to match
// now. Read through the bounded reader (D4).
Status useClientCertificate(SSL_CTX* c, const std::string& certFile, const std::string& keyFile) {
  auto certs = readCertificateFile(certFile, file_limit::kCertificate);
  if (!certs) return Error{"", 0, "cannot load the client certificate: " + certs.error().message};
  auto key = readPrivateKeyFile(keyFile);
  if (!key) return Error{"", 0, "cannot load the client key: " + key.error().message};
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    ossl::drainErrors();
    return Error{"", 0, "the client key '" + keyFile + "' does not match '" + certFile + "'"};
  }
  if (SSL_CTX_use_certificate(c, certs->front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(c, key->get()) != 1)
    return Error{"", 0,
                 "cannot use the client certificate '" + certFile + "': " + ossl::drainErrors()};
  for (size_t i = 1; i < certs->size(); ++i) SSL_CTX_add1_chain_cert(c, (*certs)[i].get());
  return Ok{};
}

}  // namespace

const char* toString(ClientHandshakeError e) {
  switch (e) {
    case ClientHandshakeError::kNone:
      return "none";
    case ClientHandshakeError::kVerify:
      return "verify";
    case ClientHandshakeError::kTimeout:
      return "timeout";
    case ClientHandshakeError::kSsl:
      return "ssl";
    case ClientHandshakeError::kSyscall:
      return "syscall";
    case ClientHandshakeError::kCreate:
      return "create";
  }
  return "?";
}

// STYLE rule 7: C callbacks are trampolines to member functions.
struct ClientCallbacks {
  static int verify(int ok, X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* hs =
        ssl ? static_cast<ClientHandshake*>(SSL_get_ex_data(ssl, handshakeIndex())) : nullptr;
    return hs ? hs->onVerify(ok, store) : ok;
  }
  static int newSession(SSL* ssl, SSL_SESSION* session) {
    auto* sink = static_cast<SessionSink*>(SSL_get_ex_data(ssl, sinkIndex()));
    if (!sink) return 0;  // OpenSSL keeps (and frees) it
    sink->store(ossl::UniquePtr<SSL_SESSION>(session));
    return 1;  // ours now
  }
};

void setSessionSink(SSL* ssl, SessionSink* sink) {
  SSL_set_ex_data(ssl, sinkIndex(), sink);
}

uint64_t originContextId(const SSL_CTX* ctx) {
  return reinterpret_cast<uintptr_t>(SSL_CTX_get_ex_data(ctx, contextIdIndex()));
}

Result<ossl::UniquePtr<SSL_CTX>> newOriginContext(const OriginContextParams& params) {
  ossl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  auto fail = [](std::string what) {
    return Error{"", 0, what + (ERR_peek_error() ? ": " + ossl::drainErrors() : "")};
  };
  if (!ctx) return fail("cannot create the origin SSL_CTX");
  SSL_CTX* c = ctx.get();
  static std::atomic<uint64_t> nextId{1};
  SSL_CTX_set_ex_data(c, contextIdIndex(),
                      reinterpret_cast<void*>(
                          static_cast<uintptr_t>(nextId.fetch_add(1, std::memory_order_relaxed))));
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  const std::string& groups = params.groups.empty() ? defaultGroups().client : params.groups;
  if (SSL_CTX_set1_groups_list(c, groups.c_str()) != 1)
    return fail("ssl.client.groups: the library refuses '" + groups + "'");
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // S17: the CAs that sign origins: a file, a directory (hashed names), or the system's.
  if (params.caCerts.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1) return fail("cannot load the system CA store");
  } else {
    struct stat st = {};
    if (::stat(params.caCerts.c_str(), &st) != 0)
      return Error{"", 0, "ssl.client.ca_certs '" + params.caCerts + "': " + std::strerror(errno)};
    // A directory's files are opened by OpenSSL when a lookup needs them; a file is read
    // here, through the bounded reader (D4).
    if (S_ISDIR(st.st_mode)) {
      if (SSL_CTX_load_verify_locations(c, nullptr, params.caCerts.c_str()) != 1)
        return fail("cannot load CA certificates from '" + params.caCerts + "'");
    } else if (auto loaded = loadCaFile(SSL_CTX_get_cert_store(c), params.caCerts); !loaded) {
      return loaded.error();
    }
  }
  SSL_CTX_set_verify_depth(c, static_cast<int>(params.verifyDepth));
  if (!params.cert.empty())
    if (auto st = useClientCertificate(c, params.cert, params.key); !st) return st.error();
  // Sessions go to the connection's per-worker cache, not to OpenSSL's.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, ClientCallbacks::newSession);
  return ctx;
}

ClientHandshake::ClientHandshake(const Params& params, ossl::UniquePtr<BIO> bio,
                                 stats::CounterBlock& counters, HandshakeHooks* hooks)
    : ssl_(SSL_new(params.ctx)),
      origin_(params.origin),
      verification_(params.verification),
      counters_(counters),
      hooks_(hooks) {
  const std::string& sni = params.sni;
  const std::string& alpnWire = params.alpnWire;
  SSL_SESSION* resume = params.resume;
  if (!ssl_) {
    fail(ClientHandshakeError::kCreate, "cannot create the origin SSL: " + ossl::drainErrors());
    return;
  }
  SSL* ssl = ssl_.get();
  SSL_set_ex_data(ssl, handshakeIndex(), this);
  BIO* b = bio.release();
  SSL_set_bio(ssl, b, b);
  SSL_set_connect_state(ssl);
  // S18: the server name, when there is one; a failure is counted and the handshake goes
  // on without it.
  if (!sni.empty() && SSL_set_tlsext_host_name(ssl, sni.c_str()) != 1) {
    counters_.add(Counter::kSslSniNameSetFailure);
    TG_DEBUG(log::kSslError, "origin %s: cannot send SNI '%s': %s", origin_.toString().c_str(),
             log::escaped(sni).c_str(), ossl::drainErrors().c_str());
  }
  if (!alpnWire.empty())
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpnWire.data()),
                        static_cast<unsigned>(alpnWire.size()));
  if (resume) SSL_set_session(ssl, resume);
  const bool verify = verification_.policy != VerifyServerPolicy::kDisabled &&
                      verification_.properties != VerifyServerProperties::kNone;
  if (!verify) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return;
  }
  if (checksName(verification_.properties)) {
    // S19: the name sent, or the origin's IP when none was.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (!sni.empty())
      X509_VERIFY_PARAM_set1_host(param, sni.c_str(), 0);
    else
      X509_VERIFY_PARAM_set1_ip_asc(param, origin_.ipString().c_str());
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, ClientCallbacks::verify);
}

ClientHandshake::~ClientHandshake() {
  if (ssl_) SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
}

int ClientHandshake::onVerify(int ok, X509_STORE_CTX* store) {
  const bool enforced = verification_.policy == VerifyServerPolicy::kEnforced;
  if (!ok) {
    int err = X509_STORE_CTX_get_error(store);
    if (isNameError(err)) {
      // OpenSSL checks the name before the signatures and dates; S19 wants the chain's
      // verdict first, so the name's waits for the end of the chain checks.
      if (checksName(verification_.properties) && !nameError_) nameError_ = err;
      return 1;
    }
    if (!checksChain(verification_.properties)) return 1;  // NAME only: the chain is not ours
    if (!chainError_) chainError_ = err;
    return enforced ? 0 : 1;
  }
  // The last call is the leaf's (depth 0) after every check passed or was let through.
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  if (nameError_ && enforced) return 0;
  // OpenSSL cannot suspend certificate verification: the hooks complete synchronously.
  if (hooks_ && hooks_->run(HookPoint::kVerifyServer) != HookVerdict::kContinue) {
    counters_.add(Counter::kSslHookError);
    // A PERMISSIVE policy let a failure through before the hook refused: still count it.
    if (int err = reportedError()) countVerifyFailure(err);
    fail(ClientHandshakeError::kVerify, "a VERIFY_SERVER hook refused the origin");
    return 0;
  }
  return 1;
}

void ClientHandshake::countVerifyFailure(int err) {
  counters_.add(Counter::kSslOriginVerifyFailure);
  counters_.add(reasonCounter(err));
}

HandshakeWait ClientHandshake::advance() {
  if (state_ != ClientHandshakeState::kHandshaking) return HandshakeWait::kNone;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (state_ != ClientHandshakeState::kHandshaking) {
    ERR_clear_error();  // a callback failed it, and said why
    return HandshakeWait::kNone;
  }
  if (rc != 1) return waitOrFail(rc);
  state_ = ClientHandshakeState::kDone;
  SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
  counters_.add(Counter::kSslSuccessHandshakeOut);
  if (int err = reportedError()) {  // PERMISSIVE: log and count, go on (S17)
    countVerifyFailure(err);
    log::warning(
        "origin %s: certificate verification failed (%s); continuing "
        "(verify_server_policy PERMISSIVE)",
        origin_.toString().c_str(), X509_verify_cert_error_string(err));
  }
  return HandshakeWait::kNone;
}

// S4 on the client side: one outcome per failed SSL_do_handshake.
HandshakeWait ClientHandshake::waitOrFail(int rc) {
  int sysErrno = errno;
  switch (SSL_get_error(ssl_.get(), rc)) {
    case SSL_ERROR_WANT_READ:
      return HandshakeWait::kRead;
    case SSL_ERROR_WANT_WRITE:
      return HandshakeWait::kWrite;
    case SSL_ERROR_SYSCALL: {
      std::string queued = ossl::drainErrors();
      fail(ClientHandshakeError::kSyscall, sysErrno         ? std::strerror(sysErrno)
                                           : queued.empty() ? "the origin closed"
                                                            : queued);
      return HandshakeWait::kNone;
    }
    default: {
      std::string queued = ossl::drainErrors();
      if (int err = reportedError()) {
        countVerifyFailure(err);
        fail(ClientHandshakeError::kVerify,
             std::string("certificate verification failed: ") + X509_verify_cert_error_string(err));
      } else {
        fail(ClientHandshakeError::kSsl, queued.empty() ? "TLS handshake failed" : queued);
      }
      return HandshakeWait::kNone;
    }
  }
}

void ClientHandshake::timeout() {
  if (state_ != ClientHandshakeState::kHandshaking) return;
  counters_.add(Counter::kSslOriginHandshakeTimeout);
  fail(ClientHandshakeError::kTimeout, "client handshake timeout");
}

void ClientHandshake::fail(ClientHandshakeError error, std::string reason) {
  state_ = ClientHandshakeState::kFailed;
  error_ = error;
  reason_ = std::move(reason);
  if (ssl_) SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
  // A verification failure is worth a warning whatever the policy; the rest is debug.
  if (error == ClientHandshakeError::kVerify)
    log::warning("origin %s: %s", origin_.toString().c_str(), log::escaped(reason_).c_str());
  else
    TG_DEBUG(log::kSslError, "origin %s: handshake failed (%s): %s", origin_.toString().c_str(),
             toString(error), log::escaped(reason_).c_str());
}

}  // namespace tlsgate::tls
