// CertLoading: reading the certificates of ssl_multicert.config entries for a CertStore, on
// every core, re-reading only what changed since the store before it (issue 19).
//
// Each distinct certificate source (certificate, key and chain files) is one job, loaded
// once however many entries name it. A job whose files all have the stat() they had for
// the previous store takes that store's material without reading anything; one whose files
// were touched is read, and when the bytes are the same keeps the previous material too.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tls/cert_material.h"
#include "tls/cert_spec.h"

namespace tlsgate::tls {

struct CertStoreStats;

struct LoadedCertificate {
  CertSource source;
  std::string key;                                 // source.poolKey()
  std::shared_ptr<const LoadedMaterial> previous;  // the previous store's, for this source
  std::optional<Result<std::shared_ptr<const LoadedMaterial>>> result;  // set once loaded
  size_t filesRead = 0;
  bool parsed = false;  // a new material (not the previous store's)
};

class CertLoading {
 public:
  using Pool = std::unordered_map<std::string, std::shared_ptr<const LoadedMaterial>>;

  CertLoading(const std::vector<CertSpec>& entries, const Pool* previous, ChainPool& chains);

  // Loads every job. Unless `partial`, jobs of entries after the first entry that failed
  // are not started (the first error in the file is the answer).
  void run(bool partial);

  // Whether every certificate of entry `i` was loaded (or failed).
  bool attempted(size_t entry) const;
  std::vector<LoadedCertificate*> certificatesOf(size_t entry);

  // The certificates loaded, by source, for the next reload; and the counts.
  void keep(Pool& pool, CertStoreStats& stats);

 private:
  void load(size_t job);

  ChainPool& chains_;
  std::vector<LoadedCertificate> jobs_;
  std::vector<size_t> jobEntry_;                // the first entry that names each job
  std::vector<std::vector<size_t>> entryJobs_;  // the jobs of each entry, in its order
  size_t firstError_ = SIZE_MAX;                // entry index, after run()
};

}  // namespace tlsgate::tls
