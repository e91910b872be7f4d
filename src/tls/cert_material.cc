#include "tls/cert_material.h"

#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include "core/read_file.h"
#include "core/text.h"
#include "tls/cert_facts.h"
#include "tls/parsed_cert_cache.h"

namespace tlsgate::tls {

namespace {

std::atomic<uint64_t> nextMaterialId{1};

std::string sha256Raw(std::string_view bytes) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string hex(std::string_view raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

size_t heapBytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // beyond the small-string buffer
}

// One PEM block: its label ("CERTIFICATE", "PRIVATE KEY", ...) and its DER.
struct PemBlock {
  std::string label;
  std::string der;
  bool encrypted = false;  // a legacy "Proc-Type: 4,ENCRYPTED" header
  PemBlock() = default;
  PemBlock(PemBlock&&) = default;
  PemBlock& operator=(PemBlock&&) = default;
  ~PemBlock() { OPENSSL_cleanse(der.data(), der.size()); }  // maybe key material
};

// Every block of a PEM text, up to the first that does not decode (as OpenSSL's own
// readers stop there): base64 only, no certificate or key is parsed here.
std::vector<PemBlock> pemBlocks(std::string_view pem) {
  std::vector<PemBlock> blocks;
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* label = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  while (bio && PEM_read_bio(bio.get(), &label, &header, &data, &len) == 1) {
    PemBlock b;
    b.label = label;
    b.der.assign(reinterpret_cast<char*>(data), static_cast<size_t>(len));
    b.encrypted = header && std::strstr(header, "ENCRYPTED");
    OPENSSL_free(label);
    OPENSSL_free(header);
    OPENSSL_clear_free(data, static_cast<size_t>(len));
    blocks.push_back(std::move(b));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  return blocks;
}

bool isCertificate(const std::string& label) {
  return label == "CERTIFICATE" || label == "X509 CERTIFICATE";
}

// The key formats of PEM labels; nothing for other blocks ("EC PARAMETERS", ...).
std::optional<KeyFormat> keyFormatOf(const std::string& label) {
  if (label == "PRIVATE KEY") return KeyFormat::kPkcs8;
  if (label == "EC PRIVATE KEY") return KeyFormat::kEcSec1;
  if (label == "RSA PRIVATE KEY") return KeyFormat::kRsaPkcs1;
  return std::nullopt;
}

// The key type named by a PKCS#8 PrivateKeyInfo's algorithm: a decoder for one type is
// twice as fast as one that tries them all. Null: let the decoder find out.
const char* pkcs8KeyType(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  long len = 0;
  int tag = 0, cls = 0;
  // SEQUENCE { INTEGER version, SEQUENCE { OBJECT algorithm, ... }, OCTET STRING }
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) return nullptr;
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_INTEGER)
    return nullptr;
  p += len;
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
    return nullptr;
  ossl::UniquePtr<ASN1_OBJECT> algorithm(d2i_ASN1_OBJECT(nullptr, &p, end - p));
  switch (algorithm ? OBJ_obj2nid(algorithm.get()) : NID_undef) {
    case NID_X9_62_id_ecPublicKey:
      return "EC";
    case NID_rsaEncryption:
      return "RSA";
    default:
      return nullptr;
  }
}

// OpenSSL 3.0 builds a decoder chain for every key it reads (d2i_AutoPrivateKey: 0.4 ms);
// a chain built once per thread and format, and reused, decodes a P-256 key in 20 µs.
EVP_PKEY* decodeKey(const std::string& der, KeyFormat format) {
  struct Decoder {
    EVP_PKEY* out = nullptr;
    OSSL_DECODER_CTX* ctx = nullptr;
    ~Decoder() { OSSL_DECODER_CTX_free(ctx); }
  };
  // PKCS#8 EC, PKCS#8 RSA, PKCS#8 other, SEC1 EC, PKCS#1 RSA.
  thread_local Decoder decoders[5];
  const char* type = format == KeyFormat::kPkcs8    ? pkcs8KeyType(der)
                     : format == KeyFormat::kEcSec1 ? "EC"
                                                    : "RSA";
  const char* structure = format == KeyFormat::kPkcs8 ? "PrivateKeyInfo" : "type-specific";
  const int slot = format == KeyFormat::kPkcs8 ? (!type            ? 2
                                                  : type[0] == 'E' ? 0
                                                                   : 1)
                                               : (format == KeyFormat::kEcSec1 ? 3 : 4);
  Decoder& d = decoders[slot];
  if (!d.ctx)
    d.ctx = OSSL_DECODER_CTX_new_for_pkey(&d.out, "DER", structure, type,
                                          OSSL_KEYMGMT_SELECT_KEYPAIR, nullptr, nullptr);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  size_t len = der.size();
  d.out = nullptr;
  if (!d.ctx || !OSSL_DECODER_from_data(d.ctx, &p, &len)) {
    EVP_PKEY_free(d.out);
    d.out = nullptr;
    ERR_clear_error();
    p = reinterpret_cast<const unsigned char*>(der.data());  // the general way
    return d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  }
  return std::exchange(d.out, nullptr);
}

}  // namespace

CertMaterial::~CertMaterial() {
  OPENSSL_cleanse(keyDer.data(), keyDer.size());
  if (id != 0) ParsedCertCache::instance().forget(id);
}

size_t CertMaterial::residentBytes() const {
  size_t n = sizeof(*this) + heapBytes(file) + heapBytes(subject) + heapBytes(sha256) +
             heapBytes(keyType) + heapBytes(leafDer) + heapBytes(keyDer) +
             names.capacity() * sizeof(std::string);
  for (const auto& name : names) n += heapBytes(name);
  return n;
}

namespace {

// The curve and point of an EC SubjectPublicKeyInfo; nothing for other keys.
struct EcPublicKey {
  int curve = NID_undef;
  std::string_view point;
};
std::optional<EcPublicKey> ecPublicKeyOf(std::string_view spki) {
  const auto* p = reinterpret_cast<const unsigned char*>(spki.data());
  const unsigned char* end = p + spki.size();
  long len = 0;
  int tag = 0, cls = 0;
  // SEQUENCE { SEQUENCE { OBJECT ecPublicKey, OBJECT curve }, BIT STRING point }
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) return std::nullopt;
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
    return std::nullopt;
  const unsigned char* algEnd = p + len;
  ossl::UniquePtr<ASN1_OBJECT> algorithm(d2i_ASN1_OBJECT(nullptr, &p, algEnd - p));
  if (!algorithm || OBJ_obj2nid(algorithm.get()) != NID_X9_62_id_ecPublicKey) return std::nullopt;
  ossl::UniquePtr<ASN1_OBJECT> curve(d2i_ASN1_OBJECT(nullptr, &p, algEnd - p));
  if (!curve || p != algEnd) return std::nullopt;
  if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_BIT_STRING ||
      len < 2 || *p != 0)  // no unused bits
    return std::nullopt;
  return EcPublicKey{OBJ_obj2nid(curve.get()),
                     std::string_view(reinterpret_cast<const char*>(p + 1), len - 1)};
}

// D3: whether `key` is the private half of the certificate `leafDer` (whose public key is
// `spki`). An EC key is compared as bytes, curve and point; anything else, or bytes that
// differ (a certificate may encode the same point compressed), is compared by OpenSSL on
// the parsed certificate.
bool keyMatches(EVP_PKEY* key, std::string_view spki, const std::string& leafDer) {
  if (auto ec = ecPublicKeyOf(spki); ec && EVP_PKEY_is_a(key, "EC")) {
    char group[64] = "";
    size_t groupLen = 0;
    unsigned char* point = nullptr;
    const size_t pointLen = EVP_PKEY_get1_encoded_public_key(key, &point);
    const bool same =
        EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &groupLen) == 1 &&
        OBJ_sn2nid(group) == ec->curve && pointLen == ec->point.size() &&
        std::memcmp(point, ec->point.data(), pointLen) == 0;
    OPENSSL_free(point);
    if (same) return true;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(leafDer.data());
  ossl::UniquePtr<X509> leaf(d2i_X509(nullptr, &p, static_cast<long>(leafDer.size())));
  const bool same = leaf && X509_check_private_key(leaf.get(), key) == 1;
  ERR_clear_error();
  return same;
}

std::vector<std::string> certificatesOf(std::vector<PemBlock>& blocks) {
  std::vector<std::string> certs;
  for (PemBlock& b : blocks)
    if (isCertificate(b.label)) certs.push_back(std::move(b.der));
  return certs;
}

// The first private key of `blocks`, still DER; encrypted keys are refused (no prompt).
Result<PemBlock> keyBlockOf(std::vector<PemBlock>& blocks, const std::string& what) {
  for (PemBlock& b : blocks)
    if (keyFormatOf(b.label) && !b.encrypted) return std::move(b);
  return Error{"", 0, "no usable private key in " + what + " (missing or encrypted)"};
}

// What a certificate and its key become: checked, described, compact.
Result<std::shared_ptr<const CertMaterial>> makeMaterial(std::vector<std::string> certs,
                                                         PemBlock keyBlock, const std::string& what,
                                                         const std::string& keyWhat,
                                                         ChainPool& chains) {
  const KeyFormat format = *keyFormatOf(keyBlock.label);
  ossl::UniquePtr<EVP_PKEY> key(decodeKey(keyBlock.der, format));
  if (!key) {
    ERR_clear_error();
    return Error{"", 0, "no usable private key in " + keyWhat + " (missing or encrypted)"};
  }
  auto material = std::make_shared<CertMaterial>();
  material->leafDer = std::move(certs.front());
  std::optional<CertFacts> facts = certFactsOfDer(material->leafDer);
  if (!facts) {  // not a certificate the walk reads: OpenSSL says what it is
    const auto* p = reinterpret_cast<const unsigned char*>(material->leafDer.data());
    ossl::UniquePtr<X509> leaf(d2i_X509(nullptr, &p, static_cast<long>(material->leafDer.size())));
    if (!leaf) return Error{"", 0, "cannot use certificate " + what + ": " + ossl::drainErrors()};
    facts = certFactsOf(leaf.get());
  }
  if (!keyMatches(key.get(), facts->publicKey, material->leafDer))
    return Error{"", 0, "private key does not match certificate " + what};
  certs.erase(certs.begin());
  auto chain = chains.intern(certs);
  if (!chain) return chain.error();
  material->id = nextMaterialId.fetch_add(1);
  material->subject = std::move(facts->subject);
  material->names = std::move(facts->names);
  material->notAfter = facts->notAfter;
  material->sha256 = hex(sha256Raw(material->leafDer));
  material->keyType = keyTypeOf(key.get());
  material->keyDer = std::move(keyBlock.der);
  material->keyFormat = format;
  material->chain = std::move(chain.value());
  return std::shared_ptr<const CertMaterial>(std::move(material));
}

// A file read for the store, with what a reload compares it by.
Result<std::string> readStamped(const std::string& path, size_t maxBytes,
                                std::vector<FileStamp>& stamps) {
  auto stamp = statFile(path);
  auto content = readFile(path, maxBytes);
  if (!content) return Error{"", 0, content.error().toString()};
  if (stamp) {
    stamp->sha256 = sha256Raw(*content);
    // Changed within the clock's granularity of now, the file could change again with the
    // same size and mtime: its stat() is then never trusted (git's "racily clean" files).
    const int64_t now = static_cast<int64_t>(std::time(nullptr)) * 1000000000;
    if (stamp->mtimeNs > now - 2000000000) stamp->mtimeNs = -1;
    stamps.push_back(std::move(stamp.value()));
  }
  return content;
}

}  // namespace

ossl::UniquePtr<EVP_PKEY> privateKeyOfPem(std::string_view pem) {
  std::vector<PemBlock> blocks = pemBlocks(pem);
  auto block = keyBlockOf(blocks, "");
  if (!block) return nullptr;
  return ossl::UniquePtr<EVP_PKEY>(decodeKey(block->der, *keyFormatOf(block->label)));
}

Result<FileStamp> statFile(const std::string& path) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) return Error{path, 0, std::strerror(errno)};
  FileStamp s;
  s.path = path;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtimeNs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

std::string CertSource::poolKey() const {
  std::string key = certFile;
  key += '\0';
  key += keyFile;
  for (const auto& f : chainFiles) {
    key += '\0';
    key += f;
  }
  return key;
}

namespace {

// The files of `source` in the order they are read: certificate, key, chain files.
std::vector<std::pair<std::string, size_t>> filesOf(const CertSource& source) {
  std::vector<std::pair<std::string, size_t>> files{{source.certFile, file_limit::kCertificate}};
  if (!source.keyFile.empty() && source.keyFile != source.certFile)
    files.emplace_back(source.keyFile, file_limit::kCertificate);
  for (const auto& f : source.chainFiles) files.emplace_back(f, file_limit::kCaBundle);
  return files;
}

bool sameContent(const std::vector<FileStamp>& now, const std::vector<FileStamp>& before) {
  if (now.size() != before.size()) return false;
  for (size_t i = 0; i < now.size(); ++i)
    if (now[i].path != before[i].path || now[i].sha256 != before[i].sha256) return false;
  return true;
}

// The material of files already read (`contents` in filesOf's order).
Result<std::shared_ptr<const CertMaterial>> materialOf(const CertSource& source,
                                                       std::vector<std::string>& contents,
                                                       ChainPool& chains) {
  const std::string what = "'" + source.certFile + "'";
  std::vector<PemBlock> blocks = pemBlocks(contents[0]);
  std::vector<std::string> certs = certificatesOf(blocks);
  if (certs.empty()) return Error{"", 0, "no PEM certificate in " + what};
  const bool separateKey = !source.keyFile.empty() && source.keyFile != source.certFile;
  const std::string keyWhat = separateKey ? "'" + source.keyFile + "'" : what;
  std::vector<PemBlock> keyBlocks;
  if (separateKey) keyBlocks = pemBlocks(contents[1]);
  auto keyBlock = keyBlockOf(separateKey ? keyBlocks : blocks, keyWhat);
  if (!keyBlock) return keyBlock.error();
  for (size_t i = separateKey ? 2 : 1; i < contents.size(); ++i) {
    std::vector<PemBlock> chainBlocks = pemBlocks(contents[i]);
    std::vector<std::string> chainCerts = certificatesOf(chainBlocks);
    if (chainCerts.empty())
      return Error{"", 0, "no PEM certificate in '" + filesOf(source)[i].first + "'"};
    for (auto& c : chainCerts) certs.push_back(std::move(c));
  }
  const std::string whatWithKey = separateKey ? concat({what, " (key ", keyWhat, ")"}) : what;
  return makeMaterial(std::move(certs), std::move(keyBlock.value()), whatWithKey, keyWhat, chains);
}

}  // namespace

Result<LoadedMaterial> loadMaterial(const CertSource& source, ChainPool& chains,
                                    const LoadedMaterial* previous) {
  LoadedMaterial out;
  std::vector<std::string> contents;
  for (const auto& [path, limit] : filesOf(source)) {
    auto content = readStamped(path, limit, out.stamps);
    if (!content) return content.error();
    contents.push_back(std::move(content.value()));
  }
  auto wipe = [&] {
    for (auto& c : contents) OPENSSL_cleanse(c.data(), c.size());  // maybe key material
  };
  if (previous && sameContent(out.stamps, previous->stamps)) {
    wipe();
    out.material = previous->material;  // touched, not changed
    return out;
  }
  auto material = materialOf(source, contents, chains);
  wipe();
  if (!material) return material.error();
  std::const_pointer_cast<CertMaterial>(material.value())->file = source.certFile;
  out.material = std::move(material.value());
  return out;
}

bool unchangedOnDisk(const LoadedMaterial& loaded) {
  for (const FileStamp& before : loaded.stamps) {
    auto now = statFile(before.path);
    if (!now || now->dev != before.dev || now->ino != before.ino || now->size != before.size ||
        now->mtimeNs != before.mtimeNs)
      return false;
  }
  return !loaded.stamps.empty();
}

Result<std::shared_ptr<const CertMaterial>> materialFromPem(std::string_view certPem,
                                                            std::string_view keyPem,
                                                            const std::string& what,
                                                            ChainPool& chains) {
  std::vector<PemBlock> blocks = pemBlocks(certPem);
  std::vector<std::string> certs = certificatesOf(blocks);
  if (certs.empty()) return Error{"", 0, "no PEM certificate in " + what};
  std::vector<PemBlock> keyBlocks = pemBlocks(keyPem);
  auto keyBlock = keyBlockOf(keyBlocks, what + "'s key");
  if (!keyBlock) return keyBlock.error();
  auto material =
      makeMaterial(std::move(certs), std::move(keyBlock.value()), what, what + "'s key", chains);
  if (material) std::const_pointer_cast<CertMaterial>(material.value())->file = what;
  return material;
}

Result<LiveCert> parseMaterial(const CertMaterial& material) {
  LiveCert live;
  const auto* p = reinterpret_cast<const unsigned char*>(material.leafDer.data());
  live.leaf.reset(d2i_X509(nullptr, &p, static_cast<long>(material.leafDer.size())));
  live.key.reset(decodeKey(material.keyDer, material.keyFormat));
  if (!live.leaf || !live.key)
    return Error{"", 0, "cannot parse certificate '" + material.file + "': " + ossl::drainErrors()};
  return live;
}

Result<std::shared_ptr<const CertChain>> ChainPool::intern(const std::vector<std::string>& ders) {
  std::string digestInput;
  for (const auto& der : ders) {
    digestInput += std::to_string(der.size()) + ':';
    digestInput += der;
  }
  const std::string digest = sha256Raw(digestInput);
  {
    std::lock_guard lock(mutex_);
    if (auto it = byDigest_.find(digest); it != byDigest_.end())
      if (auto alive = it->second.lock()) return alive;
  }
  auto chain = std::make_shared<CertChain>();
  chain->certs.reset(sk_X509_new_null());
  for (const auto& der : ders) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert) return Error{"", 0, "a chain certificate does not parse: " + ossl::drainErrors()};
    sk_X509_push(chain->certs.get(), cert.release());
    chain->derBytes += der.size();
  }
  std::lock_guard lock(mutex_);
  auto& slot = byDigest_[digest];
  if (auto alive = slot.lock()) return alive;  // another thread parsed it meanwhile
  std::shared_ptr<const CertChain> shared = std::move(chain);
  slot = shared;
  return shared;
}

size_t ChainPool::size() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [digest, chain] : byDigest_) n += chain.expired() ? 0 : 1;
  return n;
}

size_t ChainPool::derBytes() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [digest, weak] : byDigest_)
    if (auto chain = weak.lock()) n += chain->derBytes;
  return n;
}

}  // namespace tlsgate::tls
