// KeyLog: ssl.keylog_file, the NSS key log of every TLS session tlsgate makes.
//
// One line per secret, in the format Wireshark, tshark and curl's SSLKEYLOGFILE share
// ("CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>", ...), for sessions with
// clients and with origins alike. A debugging aid: whoever reads the file can decrypt
// every captured session it covers, so forward secrecy is gone for them; opening it logs a
// warning.
//
// The file is opened append-only with mode 0600 and each line is one write(2) with
// O_APPEND, so the workers (and the key logs of an older and a newer snapshot) append
// whole lines side by side without a lock.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/fd.h"
#include "core/result.h"

namespace tlsgate::tls {

class KeyLog {
 public:
  // A key log for `path`, not opened yet: contexts can be attached to it while a
  // configuration is built and checked; nothing is written before open().
  explicit KeyLog(std::string path) : path_(std::move(path)) {}

  // Whether open() can succeed, found without creating anything (what --check reports):
  // the file is writable, or its folder is there and writable to create it in.
  Status check() const;
  // Opens (creates) the file, when the gateway starts using the configuration; the error
  // says why it cannot be opened.
  Status open();

  // Makes `ctx` write the secrets of its sessions here. The KeyLog must outlive `ctx`.
  void attach(SSL_CTX* ctx) const;

  // Appends `line` and a newline in one write.
  void write(std::string_view line) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  Fd fd_;
};

}  // namespace tlsgate::tls
