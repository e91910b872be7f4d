// Names and counters of the server handshake's states and failure classes (S4, S20).
#include "tls/handshake_error.h"

namespace tlsgate::tls {

using stats::Counter;

const char* toString(HandshakeState s) {
  switch (s) {
    case HandshakeState::kStart:
      return "start";
    case HandshakeState::kPreAccept:
      return "pre_accept";
    case HandshakeState::kCreateSession:
      return "create_session";
    case HandshakeState::kAccept:
      return "accept";
    case HandshakeState::kDone:
      return "done";
    case HandshakeState::kStopped:
      return "stopped";
    case HandshakeState::kFailed:
      return "failed";
  }
  return "?";
}

const char* toString(HandshakeError e) {
  switch (e) {
    case HandshakeError::kNone:
      return "none";
    case HandshakeError::kSessionCreate:
      return "session_create";
    case HandshakeError::kSsl:
      return "ssl";
    case HandshakeError::kSyscall:
      return "syscall";
    case HandshakeError::kZeroReturn:
      return "zero_return";
    case HandshakeError::kEof:
      return "eof";
    case HandshakeError::kTimeout:
      return "timeout";
    case HandshakeError::kNoCertificate:
      return "no_certificate";
    case HandshakeError::kTooLarge:
      return "too_large";
    case HandshakeError::kHookError:
      return "hook_error";
    case HandshakeError::kClientCertificate:
      return "client_certificate";
    case HandshakeError::kDenied:
      return "denied";
    case HandshakeError::kAdmissionDenied:
      return "admission_denied";
  }
  return "?";
}

Counter counterFor(HandshakeError e) {
  switch (e) {
    case HandshakeError::kSessionCreate:
      return Counter::kSslSessionCreateFailure;
    case HandshakeError::kSyscall:
      return Counter::kSslErrorSyscall;
    case HandshakeError::kZeroReturn:
      return Counter::kSslErrorZeroReturn;
    case HandshakeError::kEof:
      return Counter::kSslHandshakeEof;
    case HandshakeError::kTimeout:
      return Counter::kSslHandshakeTimeout;
    case HandshakeError::kNoCertificate:
      return Counter::kSslNoCertificate;
    case HandshakeError::kHookError:
      return Counter::kSslHookError;
    case HandshakeError::kClientCertificate:
      return Counter::kSslClientCertificateFailure;
    case HandshakeError::kDenied:
      return Counter::kSniIpAllowDenied;
    case HandshakeError::kAdmissionDenied:
      return Counter::kAdmissionDenied;
    case HandshakeError::kNone:
    case HandshakeError::kSsl:
    case HandshakeError::kTooLarge:
      break;
  }
  return Counter::kSslErrorSsl;
}

}  // namespace tlsgate::tls
