/* cert_loader: serves certificates from a directory of PEM files, loaded on demand when a
 * client asks for a name (like OpenResty's ssl_certificate_by_lua). Meant for very many
 * certificates: none is read at startup, the most recently used ones stay in memory.
 *
 * tlsgate.yaml:
 *
 *     plugins:
 *       - path: /usr/lib/tlsgate/plugins/cert_loader.so
 *         args: [--dir, /etc/tlsgate/certs, --threads, "2", --cache, "1000"]
 *
 * Arguments:
 *   --dir DIR     folder of PEM files, one per name (required)
 *   --threads N   worker threads that read and parse files (default 2, 1..64)
 *   --cache N     certificates kept in memory, least recently used evicted (default 1000)
 *   --delay-ms N  wait N ms before reading each file (default 0): stands for slow storage, so
 *                 that tests can see the reactor serve other clients while loads queue up
 *
 * Files. DIR/<name>.pem holds the certificate, its chain and its private key, in any order
 * (OpenSSL's PEM readers skip the blocks they are not looking for). A name without its own
 * file falls back to the wildcard file of its parent domain: a.b.example.com is served from
 * DIR/"*.b.example.com.pem" when DIR/a.b.example.com.pem does not exist.
 *
 * How a handshake goes, at tlsgate's CERT hook:
 *   - no SNI, or an SNI that is not a plain host name: keep tlsgate's own certificate;
 *   - the name is in the cache: serve that certificate at once, on the connection's thread;
 *   - otherwise: queue a job and return WITHOUT completing the hook. The connection is held
 *     (its handshake waits) while the reactor thread goes on serving other clients. A worker
 *     thread reads the file and parses it with tlsgate_cert_from_pem() - parsing the private
 *     key is the expensive part, and it happens here, off the reactor - puts the result in
 *     the cache, then completes the hook from the worker thread (tlsgate_vconn_use_cert() +
 *     tlsgate_vconn_reenable(); tlsgate posts the completion to the connection's thread).
 *     Clients asking for a name already being loaded wait for that same load.
 *   - no file, or a file that does not parse: re-enable without a certificate, so tlsgate's
 *     own selection (ssl_multicert.config) is served. Counted as a fallback.
 *
 * The cache is keyed by the host name served. A wildcard file is cached once under its own
 * name ("*.b.example.com", a key no SNI can produce since '*' is refused) and every name it
 * serves gets its own entry sharing that certificate (each entry holds one reference), so a
 * wildcard file is parsed once, not once per name. Names without a file are not remembered:
 * a file added later is found by the next request.
 *
 * With the environment variable CERT_LOADER_VERBOSE set, every load prints one line to
 * stderr:  cert_loader: loaded <file> (<n> cached)   and every fallback a line saying why.
 *
 * Configuration lives in one struct per tlsgate_plugin_init() call (hook data), never in
 * globals, so the .so may be listed several times with different folders.
 */
#define _GNU_SOURCE /* pthread_setname_np */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsgate/plugin.h"

#define MAX_NAME 253           /* longest DNS name */
#define MAX_FILE (1024 * 1024) /* a certificate file larger than this is refused */
#define MAX_THREADS 64

/* A waiting connection: held at CERT until the load of its name completes. */
struct waiter {
  tlsgate_vconn* vc;
  struct waiter* next;
};

/* One cache slot. LOADING slots are in the hash table (so that concurrent misses for the
 * same name find them) and in the job queue, but not in the LRU list and not counted
 * against the capacity. READY slots are in the hash table and the LRU list. */
enum slot_state { SLOT_LOADING, SLOT_READY };

struct slot {
  char* key; /* host name, or "*.parent" for a wildcard file */
  enum slot_state state;
  tlsgate_cert* cert;               /* READY: one reference owned by this slot */
  struct waiter* waiters;           /* LOADING: connections to complete when done */
  struct slot* hash_next;           /* bucket chain */
  struct slot *lru_prev, *lru_next; /* READY: LRU list, most recent first */
  struct slot* queue_next;          /* LOADING: job queue */
};

struct loader {
  char* dir;
  long threads;
  long capacity;
  long delay_ms;
  int verbose;

  /* One mutex guards the table, the LRU list and the job queue. It is never held while a
   * file is read or parsed, nor while calling into tlsgate. */
  pthread_mutex_t lock;
  pthread_cond_t work; /* signalled when a job is queued */
  struct slot** buckets;
  size_t nbuckets; /* a power of two */
  struct slot lru; /* sentinel: lru.lru_next is the most recent */
  long cached;     /* READY slots */
  struct slot *queue_head, *queue_tail;

  /* Counters, for the verbose lines and a debugger: cache hits, files parsed, wildcard
   * certificates shared from the cache, connections given tlsgate's own certificate because
   * no file served them, and out-of-memory fallbacks. */
  atomic_ulong hits, loads, shared, fallbacks, errors;
};

/* ---- logging --------------------------------------------------------------------------- */

/* One line, one write(): lines of concurrent threads never interleave. */
static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fputs(line, stderr);
  fflush(stderr);
}

/* ---- names ----------------------------------------------------------------------------- */

/* Copies `sni` into out (MAX_NAME + 1 bytes), lowercased. Returns 0 if it is a name we may
 * build a path from: only [a-z0-9.-], no "..", not starting or ending with '.', at most
 * 253 characters. Anything else (including '/' and '*') returns -1. */
static int sanitise(const char* sni, char* out) {
  size_t n = strlen(sni);
  if (n == 0 || n > MAX_NAME) return -1;
  for (size_t i = 0; i < n; i++) {
    char c = sni[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return -1;
    out[i] = c;
  }
  out[n] = '\0';
  if (out[0] == '.' || out[n - 1] == '.' || strstr(out, "..") != NULL) return -1;
  return 0;
}

/* The wildcard that covers `name`: "*." + everything after the first label, written to out
 * (MAX_NAME + 3 bytes). Returns -1 for a single-label name. */
static int wildcard_of(const char* name, char* out, size_t out_len) {
  const char* dot = strchr(name, '.');
  if (dot == NULL || dot[1] == '\0') return -1;
  return snprintf(out, out_len, "*%s", dot) < (int)out_len ? 0 : -1;
}

/* ---- hash table and LRU list (call with the lock held) ------------------------------- */

static size_t hash_of(const char* s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

static struct slot* table_find(struct loader* l, const char* key) {
  for (struct slot* s = l->buckets[hash_of(key) & (l->nbuckets - 1)]; s; s = s->hash_next)
    if (strcmp(s->key, key) == 0) return s;
  return NULL;
}

static void table_insert(struct loader* l, struct slot* s) {
  struct slot** b = &l->buckets[hash_of(s->key) & (l->nbuckets - 1)];
  s->hash_next = *b;
  *b = s;
}

static void table_remove(struct loader* l, struct slot* s) {
  for (struct slot** p = &l->buckets[hash_of(s->key) & (l->nbuckets - 1)]; *p;
       p = &(*p)->hash_next) {
    if (*p == s) {
      *p = s->hash_next;
      return;
    }
  }
}

static void lru_unlink(struct slot* s) {
  s->lru_prev->lru_next = s->lru_next;
  s->lru_next->lru_prev = s->lru_prev;
}

static void lru_push_front(struct loader* l, struct slot* s) {
  s->lru_prev = &l->lru;
  s->lru_next = l->lru.lru_next;
  l->lru.lru_next->lru_prev = s;
  l->lru.lru_next = s;
}

static struct slot* slot_new(const char* key) {
  struct slot* s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->key = strdup(key);
  if (s->key == NULL) {
    free(s);
    return NULL;
  }
  return s;
}

/* Makes s (not in the LRU list yet) a READY slot holding `cert` (its reference is taken
 * over), most recent, then evicts from the cold end down to the capacity. Evicted
 * certificates are appended to *evicted, to be released after unlocking. */
static void make_ready(struct loader* l, struct slot* s, tlsgate_cert* cert,
                       struct slot** evicted) {
  s->state = SLOT_READY;
  s->cert = cert;
  lru_push_front(l, s);
  l->cached++;
  while (l->cached > l->capacity) {
    struct slot* old = l->lru.lru_prev;
    lru_unlink(old);
    table_remove(l, old);
    l->cached--;
    old->queue_next = *evicted;
    *evicted = old;
  }
}

/* Releases slots evicted by make_ready(); without the lock (releasing a certificate may free
 * an SSL_CTX). */
static void free_slots(struct slot* list) {
  while (list != NULL) {
    struct slot* next = list->queue_next;
    if (list->cert != NULL) tlsgate_cert_release(list->cert);
    free(list->key);
    free(list);
    list = next;
  }
}

/* ---- loading (worker threads) ---------------------------------------------------------- */

/* Reads DIR/<stem>.pem into a malloc'ed buffer. Returns NULL with errno set (ENOENT when the
 * file does not exist). */
static char* read_pem(const struct loader* l, const char* stem, size_t* len, char* path,
                      size_t path_len) {
  snprintf(path, path_len, "%s/%s.pem", l->dir, stem);
  /* O_NONBLOCK: a FIFO or device planted in DIR must not block a worker in open(). */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat st;
  char* buf = NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
    errno = EINVAL;
    goto out;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) goto out;
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(buf);
      buf = NULL;
      errno = n == 0 ? EINVAL : errno;
      goto out;
    }
    got += (size_t)n;
  }
  buf[got] = '\0';
  *len = got;
out:;
  int saved = errno;
  close(fd);
  errno = saved;
  return buf;
}

static int has_private_key(const char* pem) {
  return strstr(pem, "-----BEGIN PRIVATE KEY-----") != NULL ||
         strstr(pem, "-----BEGIN RSA PRIVATE KEY-----") != NULL ||
         strstr(pem, "-----BEGIN EC PRIVATE KEY-----") != NULL;
}

/* Reads and parses DIR/<stem>.pem. Returns a certificate (one reference for the caller), or
 * NULL; *missing tells "no such file" (a normal fallback) from a broken file. */
static tlsgate_cert* load_file(struct loader* l, const char* stem, int* missing) {
  char path[4096];
  size_t len = 0;
  *missing = 0;
  if (l->delay_ms > 0) {
    struct timespec pause = {l->delay_ms / 1000, (l->delay_ms % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
  }
  char* pem = read_pem(l, stem, &len, path, sizeof path);
  if (pem == NULL) {
    *missing = errno == ENOENT || errno == ENOTDIR;
    if (!*missing && l->verbose) say("cert_loader: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  tlsgate_cert* cert = NULL;
  char err[256] = "";
  if (!has_private_key(pem)) {
    snprintf(err, sizeof err, "no PRIVATE KEY block");
  } else {
    /* The whole file twice: the certificate reader skips the key block and the key reader
     * skips the certificates. This is the expensive call, and it runs on our thread. */
    cert = tlsgate_cert_from_pem(pem, len, pem, len, err, sizeof err);
  }
  free(pem);
  if (cert == NULL) say("cert_loader: cannot use %s: %s\n", path, err);
  return cert;
}

/* Finds the certificate for `name` (sanitised): its own file, else the wildcard file of its
 * parent domain, reusing a wildcard already in the cache. Returns one reference, or NULL.
 * When a file was parsed, its name goes to `loaded` (else it is left empty). */
static tlsgate_cert* resolve(struct loader* l, const char* name, char* loaded, size_t loaded_len) {
  int missing;
  loaded[0] = '\0';
  tlsgate_cert* cert = load_file(l, name, &missing);
  if (cert != NULL) {
    snprintf(loaded, loaded_len, "%s.pem", name);
    return cert;
  }
  if (!missing) return NULL; /* a broken own file does not fall back to the wildcard */

  char wild[MAX_NAME + 3];
  if (wildcard_of(name, wild, sizeof wild) != 0) return NULL;
  pthread_mutex_lock(&l->lock);
  struct slot* s = table_find(l, wild);
  if (s != NULL && s->state == SLOT_READY) {
    lru_unlink(s); /* it is being used: keep it warm */
    lru_push_front(l, s);
    cert = tlsgate_cert_ref(s->cert);
  }
  pthread_mutex_unlock(&l->lock);
  if (cert != NULL) {
    atomic_fetch_add(&l->shared, 1);
    return cert;
  }

  cert = load_file(l, wild, &missing);
  if (cert == NULL) return NULL;
  snprintf(loaded, loaded_len, "%s.pem", wild);
  /* Cache the wildcard under its own name too, so the next name it covers shares it. Two
   * workers may have parsed it at the same time: the first one in wins. */
  struct slot* evicted = NULL;
  pthread_mutex_lock(&l->lock);
  if (table_find(l, wild) == NULL) {
    struct slot* ws = slot_new(wild);
    if (ws != NULL) {
      table_insert(l, ws);
      make_ready(l, ws, tlsgate_cert_ref(cert), &evicted);
    }
  }
  pthread_mutex_unlock(&l->lock);
  free_slots(evicted);
  return cert;
}

static void* worker(void* arg) {
  struct loader* l = arg;
  for (;;) {
    pthread_mutex_lock(&l->lock);
    while (l->queue_head == NULL) pthread_cond_wait(&l->work, &l->lock);
    struct slot* s = l->queue_head;
    l->queue_head = s->queue_next;
    if (l->queue_head == NULL) l->queue_tail = NULL;
    s->queue_next = NULL;
    pthread_mutex_unlock(&l->lock);

    /* s is LOADING: nobody else touches it except to add waiters (under the lock). */
    char loaded[MAX_NAME + 8];
    tlsgate_cert* cert = resolve(l, s->key, loaded, sizeof loaded);

    struct slot* evicted = NULL;
    pthread_mutex_lock(&l->lock);
    struct waiter* waiters = s->waiters;
    s->waiters = NULL;
    if (cert != NULL) {
      /* The slot gets its own reference; ours stays valid for the waiters below even if
       * another thread evicts the slot as soon as we unlock. */
      make_ready(l, s, tlsgate_cert_ref(cert), &evicted);
    } else {
      table_remove(l, s);
      s->queue_next = evicted;
      evicted = s; /* freed below, with no certificate */
    }
    long cached = l->cached;
    pthread_mutex_unlock(&l->lock);
    if (loaded[0] != '\0') {
      atomic_fetch_add(&l->loads, 1);
      if (l->verbose) say("cert_loader: loaded %s (%ld cached)\n", loaded, cached);
    }

    /* Complete every waiting connection from this thread (tlsgate posts the completion to
     * the connection's own thread). tlsgate_vconn_use_cert takes a reference of its own. */
    while (waiters != NULL) {
      struct waiter* w = waiters;
      waiters = w->next;
      if (cert != NULL) {
        tlsgate_vconn_use_cert(w->vc, cert);
      } else {
        atomic_fetch_add(&l->fallbacks, 1);
      }
      tlsgate_vconn_reenable(w->vc);
      free(w);
    }
    if (cert != NULL)
      tlsgate_cert_release(cert);
    else if (l->verbose)
      say("cert_loader: no certificate for %s, tlsgate's own is served (%lu fallbacks)\n", s->key,
          atomic_load(&l->fallbacks));
    free_slots(evicted);
  }
  return NULL;
}

/* ---- the CERT hook (the connection's thread) ------------------------------------------- */

static void on_cert(tlsgate_vconn* vc, tlsgate_hook_point point, void* data) {
  struct loader* l = data;
  (void)point;
  const char* sni = tlsgate_vconn_sni(vc);
  char name[MAX_NAME + 1];
  if (sni == NULL || sanitise(sni, name) != 0) {
    tlsgate_vconn_reenable(vc); /* keep the certificate tlsgate selected */
    return;
  }

  struct waiter* w = NULL;
  pthread_mutex_lock(&l->lock);
  struct slot* s = table_find(l, name);
  if (s != NULL && s->state == SLOT_READY) { /* hit: serve it now */
    lru_unlink(s);
    lru_push_front(l, s);
    tlsgate_cert* cert = tlsgate_cert_ref(s->cert); /* outlives an eviction after unlock */
    pthread_mutex_unlock(&l->lock);
    atomic_fetch_add(&l->hits, 1);
    tlsgate_vconn_use_cert(vc, cert);
    tlsgate_cert_release(cert);
    tlsgate_vconn_reenable(vc);
    return;
  }

  /* Miss: wait for the load in progress, or start one. */
  w = malloc(sizeof *w);
  if (w == NULL) goto fallback;
  w->vc = vc;
  if (s == NULL) {
    s = slot_new(name);
    if (s == NULL) goto fallback;
    s->state = SLOT_LOADING;
    table_insert(l, s);
    if (l->queue_tail != NULL)
      l->queue_tail->queue_next = s;
    else
      l->queue_head = s;
    l->queue_tail = s;
    pthread_cond_signal(&l->work);
  }
  w->next = s->waiters;
  s->waiters = w;
  pthread_mutex_unlock(&l->lock);
  return; /* held: a worker completes the hook */

fallback:
  pthread_mutex_unlock(&l->lock);
  free(w);
  atomic_fetch_add(&l->errors, 1);
  tlsgate_vconn_reenable(vc);
}

/* ---- initialisation -------------------------------------------------------------------- */

static void loader_free(struct loader* l) {
  if (l == NULL) return;
  free(l->dir);
  free(l->buckets);
  free(l);
}

/* Reports a bad argument; frees l (no thread started and nothing registered yet). */
static int fail(const char* plugin, struct loader* l, const char* what, const char* value) {
  fprintf(stderr, "cert_loader (%s): %s%s%s\n", plugin, what, value ? " " : "", value ? value : "");
  fflush(stderr);
  loader_free(l);
  return 1;
}

static int parse_count(const char* value, long min, long max, long* out) {
  char* end;
  errno = 0;
  long n = strtol(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || n < min || n > max) return -1;
  *out = n;
  return 0;
}

/* Reads the arguments into l; non-zero (l freed) on a bad one. argv belongs to tlsgate for
 * the duration of the init call only: what is kept is copied. */
static int parse_args(struct loader* l, const char* self, int argc, const char* const* argv) {
  for (int i = 1; i < argc; i++) {
    const char* arg = argv[i];
    if (strcmp(arg, "--dir") != 0 && strcmp(arg, "--threads") != 0 && strcmp(arg, "--cache") != 0 &&
        strcmp(arg, "--delay-ms") != 0)
      return fail(self, l, "unknown argument", arg);
    if (i + 1 >= argc) return fail(self, l, "missing value for", arg);
    const char* value = argv[++i];
    if (strcmp(arg, "--dir") == 0) {
      char* copy = strdup(value);
      if (copy == NULL) return fail(self, l, "out of memory", NULL);
      free(l->dir);
      l->dir = copy;
    } else if (strcmp(arg, "--threads") == 0) {
      if (parse_count(value, 1, MAX_THREADS, &l->threads) != 0)
        return fail(self, l, "--threads wants 1..64, got", value);
    } else if (strcmp(arg, "--delay-ms") == 0) {
      if (parse_count(value, 0, 60000, &l->delay_ms) != 0)
        return fail(self, l, "--delay-ms wants 0..60000, got", value);
    } else if (parse_count(value, 1, 100000000, &l->capacity) != 0) {
      return fail(self, l, "--cache wants a number of certificates (1..100000000), got", value);
    }
  }
  if (l->dir == NULL) return fail(self, l, "--dir DIR is required", NULL);
  struct stat st;
  if (stat(l->dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(self, l, "--dir is not a readable folder:", l->dir);
  return 0;
}

/* Registers the CERT hook and starts the worker threads. */
static int start(struct loader* l, const char* self) {
  /* Register first: once a thread runs, l can no longer be freed. */
  if (tlsgate_hook_add(TLSGATE_HOOK_CERT, on_cert, l) != 0) {
    fprintf(stderr, "cert_loader (%s): tlsgate_hook_add failed\n", self);
    return 1; /* l may be in the chain: keep it, tlsgate stops anyway */
  }
  for (long t = 0; t < l->threads; t++) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, worker, l);
    pthread_attr_destroy(&attr);
    if (rc == 0) pthread_setname_np(thread, "cert_loader"); /* as `top -H` shows it */
    if (rc != 0) {
      fprintf(stderr, "cert_loader (%s): cannot start a worker thread: %s\n", self, strerror(rc));
      return 1;
    }
  }
  return 0;
}

int tlsgate_plugin_init(int api_version, int argc, const char* const* argv) {
  const char* self = argc > 0 ? argv[0] : "cert_loader";
  if (api_version < TLSGATE_PLUGIN_API_VERSION) {
    fprintf(stderr, "cert_loader (%s): built for plugin API %d, tlsgate offers only %d\n", self,
            TLSGATE_PLUGIN_API_VERSION, api_version);
    return 1;
  }
  struct loader* l = calloc(1, sizeof *l);
  if (l == NULL) return fail(self, NULL, "out of memory", NULL);
  l->threads = 2;
  l->capacity = 1000;
  l->verbose = getenv("CERT_LOADER_VERBOSE") != NULL;
  if (parse_args(l, self, argc, argv) != 0) return 1;
  /* About two buckets per cached certificate; LOADING slots just lengthen chains. */
  l->nbuckets = 16;
  while (l->nbuckets < (size_t)l->capacity * 2 && l->nbuckets < ((size_t)1 << 26))
    l->nbuckets <<= 1;
  l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
  if (l->buckets == NULL) return fail(self, l, "out of memory", NULL);
  l->lru.lru_next = l->lru.lru_prev = &l->lru;
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->work, NULL);
  return start(l, self);
}
