#include "tls/cert_loading.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/signal_free_thread.h"
#include "stats/counters.h"
#include "tls/cert_store.h"

namespace tlsgate::tls {

namespace {

// The certificate sources of one entry: ssl_cert_name[i] with ssl_key_name[i]; ssl_ca_name
// pairs with ssl_cert_name when both lists have the same length (one chain per key type),
// otherwise every chain file applies to every certificate.
std::vector<CertSource> sourcesOf(const CertSpec& e) {
  std::vector<CertSource> out;
  for (size_t i = 0; i < e.certFiles.size(); ++i) {
    CertSource s;
    s.certFile = e.certFiles[i];
    s.keyFile = e.keyFiles.empty() ? "" : e.keyFiles[i];
    s.chainFiles = e.caFiles;
    if (e.caFiles.size() == e.certFiles.size() && e.certFiles.size() > 1)
      s.chainFiles = {e.caFiles[i]};
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

CertLoading::CertLoading(const std::vector<CertSpec>& entries, const Pool* previous,
                         ChainPool& chains)
    : chains_(chains), entryJobs_(entries.size()) {
  size_t sources = 0;
  for (const CertSpec& e : entries) sources += e.certFiles.size();
  // Never reallocated below: jobByKey's views point into the jobs' keys.
  jobs_.reserve(sources);
  std::unordered_map<std::string_view, size_t> jobByKey;
  jobByKey.reserve(sources);
  for (size_t i = 0; i < entries.size(); ++i)
    for (CertSource& source : sourcesOf(entries[i])) {
      LoadedCertificate job;
      job.key = source.poolKey();
      if (auto it = jobByKey.find(job.key); it != jobByKey.end()) {
        entryJobs_[i].push_back(it->second);
        continue;
      }
      if (previous)
        if (auto before = previous->find(job.key); before != previous->end())
          job.previous = before->second;
      job.source = std::move(source);
      entryJobs_[i].push_back(jobs_.size());
      jobs_.push_back(std::move(job));
      jobByKey.emplace(jobs_.back().key, jobs_.size() - 1);
      jobEntry_.push_back(i);
    }
}

void CertLoading::load(size_t j) {
  LoadedCertificate& job = jobs_[j];
  if (job.previous && unchangedOnDisk(*job.previous)) {
    job.result.emplace(job.previous);  // shared: nothing is copied
    return;
  }
  auto loaded = loadMaterial(job.source, chains_, job.previous.get());
  if (!loaded) {
    job.result.emplace(loaded.error());
    job.filesRead = 1;  // at least tried
    return;
  }
  job.filesRead = loaded->stamps.size();
  job.parsed = !job.previous || loaded->material != job.previous->material;
  job.result.emplace(std::make_shared<const LoadedMaterial>(std::move(loaded.value())));
}

// Loading a certificate costs some 50 µs of parsing and key checks: 100,000 are seconds of
// work, spread here over every core.
void CertLoading::run(bool partial) {
  constexpr size_t kJobsPerThread = 256;  // below this a thread is not worth starting
  const size_t n = jobs_.size();
  std::atomic<size_t> next{0};
  std::atomic<size_t> firstError{SIZE_MAX};
  auto work = [&] {
    for (size_t j; (j = next.fetch_add(1)) < n;) {
      if (!partial && jobEntry_[j] > firstError.load()) continue;
      load(j);
      if (*jobs_[j].result) continue;
      size_t seen = firstError.load();
      while (jobEntry_[j] < seen && !firstError.compare_exchange_weak(seen, jobEntry_[j])) {
      }
    }
  };
  const size_t threads =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 1 + n / kJobsPerThread);
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.push_back(startSignalFreeThread(work));
  work();
  for (auto& h : helpers) h.join();
  firstError_ = partial ? SIZE_MAX : firstError.load();
}

bool CertLoading::attempted(size_t entry) const {
  return entry <= firstError_;
}

std::vector<LoadedCertificate*> CertLoading::certificatesOf(size_t entry) {
  std::vector<LoadedCertificate*> out;
  for (size_t j : entryJobs_[entry]) out.push_back(&jobs_[j]);
  return out;
}

void CertLoading::keep(Pool& pool, CertStoreStats& stats) {
  pool.reserve(jobs_.size());
  for (LoadedCertificate& job : jobs_) {
    stats.filesRead += job.filesRead;
    if (!job.result || !*job.result) continue;
    ++stats.certificates;
    (job.parsed ? stats.parsed : stats.reused) += 1;
    stats.residentBytes += job.result->value()->material->residentBytes();
    pool.emplace(std::move(job.key), std::move(job.result->value()));
  }
  stats.residentBytes += chains_.derBytes();
}

}  // namespace tlsgate::tls
