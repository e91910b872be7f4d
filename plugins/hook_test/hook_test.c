/* hook_test: a test plugin that registers on tlsgate's TLS hooks and completes each
 * invocation in a configurable way (after ATS's ssl_hook_test). It is also the example to
 * read when writing a plugin against include/tlsgate/plugin.h.
 *
 * tlsgate.yaml:
 *
 *     plugins:
 *       - path: /usr/lib/tlsgate/plugins/hook_test.so
 *         args: [--name, A, --hook, cert, --mode, delay, --ms, "200"]
 *
 * Arguments:
 *   --name NAME    label printed in every line (default "hook_test")
 *   --hook POINT   vconn_start | client_hello | cert | verify_client | vconn_close |
 *                  outbound_start | verify_server; repeat to register on
 *                  several points (at least one is required)
 *   --mode MODE    immediate (default) | delay | never | error | terminate | tunnel
 *   --ms N         delay of the `delay` mode in milliseconds (default 100)
 *   --tunnel DEST  destination of the `tunnel` mode: "host:port", or "original" (default)
 *                  for the connection's original destination
 *
 * Every invocation prints one line to stderr:
 *
 *     hook_test[NAME]: POINT id=ID sni=SNI|- count=N ja4=JA4|-
 *
 * where N counts this instance's invocations at POINT so far and JA4 is the client's
 * fingerprint (tlsgate_vconn_ja4(), from client_hello on), then completes the hook as
 * the mode says. At vconn_close the hook always just re-enables (delayed in `delay` mode).
 *
 * The same .so may be listed several times with different arguments; dlopen() returns the
 * same handle each time, so the configuration lives in one struct per tlsgate_plugin_init()
 * call, handed to tlsgate_hook_add() as `data` — never in globals.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlsgate/plugin.h"

enum mode { MODE_IMMEDIATE, MODE_DELAY, MODE_NEVER, MODE_ERROR, MODE_TERMINATE, MODE_TUNNEL };

static const char* const kModeNames[] = {"immediate", "delay",     "never",
                                         "error",     "terminate", "tunnel"};

static const char* const kOptions[] = {"--name", "--hook", "--mode", "--ms", "--tunnel"};

/* Indexed by tlsgate_hook_point; NULL = not offered by this plugin. */
static const char* const kPointNames[TLSGATE_HOOK_COUNT] = {
    [TLSGATE_HOOK_VCONN_START] = "vconn_start",
    [TLSGATE_HOOK_CLIENT_HELLO] = "client_hello",
    [TLSGATE_HOOK_CERT] = "cert",
    [TLSGATE_HOOK_VERIFY_CLIENT] = "verify_client",
    [TLSGATE_HOOK_VCONN_CLOSE] = "vconn_close",
    [TLSGATE_HOOK_OUTBOUND_START] = "outbound_start",
    [TLSGATE_HOOK_VERIFY_SERVER] = "verify_server",
};

/* One per plugin entry of tlsgate.yaml; lives as long as the process. */
struct config {
  struct config* next; /* in `configs` */
  char* name;
  enum mode mode;
  long ms;
  char* tunnel; /* NULL = original destination */
  atomic_ulong count[TLSGATE_HOOK_COUNT];
};

/* Every config whose arguments were valid. Only a list of pointers: it keeps them
 * reachable until exit (tlsgate may drop its hook chains first; a leak checker would then
 * report them) and each instance still has its own struct. Written only by
 * tlsgate_plugin_init(), which runs on tlsgate's main thread. */
static struct config* configs;

/* A re-enable to be made later by a thread of ours. */
struct delayed {
  tlsgate_vconn* vc;
  const struct config* cfg;
  tlsgate_hook_point point;
  unsigned long long id;
};

/* One line, one write(): lines of concurrent connections never interleave. */
static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fputs(line, stderr);
  fflush(stderr);
}

static void* delay_thread(void* arg) {
  struct delayed* d = arg;
  struct timespec ts = {d->cfg->ms / 1000, (d->cfg->ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  /* The accessors are off limits here (not the connection's thread): the id was taken in
   * the callback. Completing calls are allowed from any thread. */
  say("hook_test[%s]: %s id=%llu reenable from thread\n", d->cfg->name, kPointNames[d->point],
      d->id);
  tlsgate_vconn_reenable(d->vc);
  free(d);
  return NULL;
}

static void reenable_later(tlsgate_vconn* vc, const struct config* cfg, tlsgate_hook_point point,
                           unsigned long long id) {
  struct delayed* d = malloc(sizeof *d);
  pthread_t thread;
  pthread_attr_t attr;
  int rc = -1;
  if (d != NULL) {
    *d = (struct delayed){vc, cfg, point, id};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, delay_thread, d);
    pthread_attr_destroy(&attr);
  }
  if (rc != 0) { /* never leave the connection held because we could not start a thread */
    say("hook_test[%s]: %s id=%llu cannot start a thread, reenabling now\n", cfg->name,
        kPointNames[point], id);
    free(d);
    tlsgate_vconn_reenable(vc);
  }
}

static void on_hook(tlsgate_vconn* vc, tlsgate_hook_point point, void* data) {
  struct config* cfg = data;
  unsigned long long id = tlsgate_vconn_id(vc);
  const char* sni = tlsgate_vconn_sni(vc);
  const char* ja4 = tlsgate_vconn_ja4(vc);
  unsigned long n = atomic_fetch_add(&cfg->count[point], 1) + 1;
  say("hook_test[%s]: %s id=%llu sni=%s count=%lu ja4=%s\n", cfg->name, kPointNames[point], id,
      sni != NULL ? sni : "-", n, ja4 != NULL ? ja4 : "-");

  if (point == TLSGATE_HOOK_VCONN_CLOSE && cfg->mode != MODE_DELAY) {
    tlsgate_vconn_reenable(vc); /* at close, completing calls only release the connection */
    return;
  }
  switch (cfg->mode) {
    case MODE_IMMEDIATE:
      tlsgate_vconn_reenable(vc);
      break;
    case MODE_DELAY:
      reenable_later(vc, cfg, point, id);
      break;
    case MODE_NEVER:
      break; /* held until ssl.handshake_timeout_in */
    case MODE_ERROR:
      tlsgate_vconn_reenable_error(vc);
      break;
    case MODE_TERMINATE:
      tlsgate_vconn_terminate(vc);
      break;
    case MODE_TUNNEL:
      tlsgate_vconn_tunnel(vc, cfg->tunnel);
      break;
  }
}

static int lookup(const char* const* names, int count, const char* s) {
  for (int i = 0; i < count; i++) {
    if (names[i] != NULL && strcmp(names[i], s) == 0) return i;
  }
  return -1;
}

/* Reports a bad argument; frees cfg (nothing was registered with it yet). */
static int fail(const char* plugin, struct config* cfg, const char* what, const char* value) {
  fprintf(stderr, "hook_test (%s): %s%s%s\n", plugin, what, value ? " " : "", value ? value : "");
  fflush(stderr);
  if (cfg != NULL) {
    free(cfg->name);
    free(cfg->tunnel);
    free(cfg);
  }
  return 1;
}

/* strdup() that replaces *dst (so that repeated options do not leak). */
static int set_string(char** dst, const char* value) {
  char* copy = strdup(value);
  if (copy == NULL) return -1;
  free(*dst);
  *dst = copy;
  return 0;
}

int tlsgate_plugin_init(int api_version, int argc, const char* const* argv) {
  const char* self = argc > 0 ? argv[0] : "hook_test";
  if (api_version < TLSGATE_PLUGIN_API_VERSION) {
    fprintf(stderr, "hook_test (%s): built for plugin API %d, tlsgate offers only %d\n", self,
            TLSGATE_PLUGIN_API_VERSION, api_version);
    return 1;
  }
  struct config* cfg = calloc(1, sizeof *cfg);
  if (cfg == NULL) return fail(self, NULL, "out of memory", NULL);
  if (set_string(&cfg->name, "hook_test") != 0) return fail(self, cfg, "out of memory", NULL);
  cfg->mode = MODE_IMMEDIATE;
  cfg->ms = 100;
  int points[TLSGATE_HOOK_COUNT] = {0};
  int npoints = 0;

  /* argv belongs to tlsgate for the duration of this call only: copy what we keep. Once
   * registered, cfg and its strings live until the process exits. */
  for (int i = 1; i < argc; i++) {
    const char* arg = argv[i];
    if (lookup(kOptions, (int)(sizeof kOptions / sizeof kOptions[0]), arg) < 0)
      return fail(self, cfg, "unknown argument", arg);
    if (i + 1 >= argc) return fail(self, cfg, "missing value for", arg);
    const char* value = argv[++i];
    if (strcmp(arg, "--name") == 0) {
      if (set_string(&cfg->name, value) != 0) return fail(self, cfg, "out of memory", NULL);
    } else if (strcmp(arg, "--hook") == 0) {
      int p = lookup(kPointNames, TLSGATE_HOOK_COUNT, value);
      if (p < 0) return fail(self, cfg, "unknown hook point", value);
      if (!points[p]) npoints++;
      points[p] = 1;
    } else if (strcmp(arg, "--mode") == 0) {
      int m = lookup(kModeNames, (int)(sizeof kModeNames / sizeof kModeNames[0]), value);
      if (m < 0) return fail(self, cfg, "unknown mode", value);
      cfg->mode = (enum mode)m;
    } else if (strcmp(arg, "--ms") == 0) {
      char* end;
      errno = 0;
      long ms = strtol(value, &end, 10);
      if (errno != 0 || end == value || *end != '\0' || ms < 0 || ms > 3600000)
        return fail(self, cfg, "--ms wants milliseconds (0..3600000), got", value);
      cfg->ms = ms;
    } else if (strcmp(arg, "--tunnel") == 0) {
      free(cfg->tunnel);
      cfg->tunnel = NULL;
      if (strcmp(value, "original") != 0 && set_string(&cfg->tunnel, value) != 0)
        return fail(self, cfg, "out of memory", NULL);
    }
  }
  if (npoints == 0) return fail(self, cfg, "give at least one --hook POINT", NULL);

  cfg->next = configs;
  configs = cfg;
  for (int p = 0; p < TLSGATE_HOOK_COUNT; p++) {
    if (points[p] && tlsgate_hook_add((tlsgate_hook_point)p, on_hook, cfg) != 0) {
      /* cfg may already be in a chain: keep it, tlsgate stops anyway. */
      fprintf(stderr, "hook_test (%s): tlsgate_hook_add failed for %s\n", self, kPointNames[p]);
      return 1;
    }
  }
  return 0;
}
