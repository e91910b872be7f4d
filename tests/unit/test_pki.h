// TestPki: a throw-away PKI for unit tests, made with OpenSSL's APIs at test time (STYLE
// rule 9): a CA, and leaf certificates with the names, key types and validity asked for,
// written as PEM files into a fresh temporary folder that is removed afterwards.
#pragma once

#include <string>
#include <vector>

namespace tlsgate::testing {

enum class KeyKind { kRsa, kEcdsa };

struct TestCert {
  std::string certFile;
  std::string keyFile;
};

class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // A leaf signed by the CA: subject CN=`cn`, DNS SANs `dns`, files <stem>.crt/.key.
  TestCert issue(const std::string& stem, const std::string& cn,
                 const std::vector<std::string>& dns, KeyKind kind = KeyKind::kEcdsa);

  const std::string& dir() const { return dir_; }
  const std::string& caFile() const { return caFile_; }

 private:
  struct Impl;
  Impl* impl_;
  std::string dir_;
  std::string caFile_;
};

}  // namespace tlsgate::testing
