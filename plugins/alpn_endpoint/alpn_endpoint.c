/* alpn_endpoint: registers the endpoint of one ALPN protocol (S14), e.g. an ACME
 * TLS-ALPN-01 responder for "acme-tls/1", and routes connections that negotiate it.
 *
 * tlsgate.yaml:
 *
 *     plugins:
 *       - path: /usr/lib/tlsgate/plugins/alpn_endpoint.so
 *         args: [--protocol, acme-tls/1, --to, "127.0.0.1:9000",
 *                --refuse, blocked.example]
 *
 * Arguments:
 *   --protocol NAME   the ALPN protocol (required). tlsgate offers it to clients unless
 *                     ssl.alpn lists the offer explicitly.
 *   --to TARGET       where connections that negotiated it go: "host:port" (plaintext relay)
 *                     or "builtin:inspect" (default).
 *   --refuse NAME     connections whose SNI is NAME are refused (the client gets a
 *                     close_notify). Repeatable up to 16 times.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsgate/plugin.h"

#define MAX_REFUSED 16

struct config {
  char* protocol;
  char* to;
  char* refused[MAX_REFUSED];
  int nrefused;
};

static struct config cfg; /* filled once in init, read-only afterwards */

static const char* route(const tlsgate_endpoint_info* info, void* data) {
  const struct config* c = data;
  for (int i = 0; i < c->nrefused; ++i)
    if (info->sni && strcasecmp(info->sni, c->refused[i]) == 0) return NULL;
  return c->to;
}

static int fail(const char* self, const char* what, const char* value) {
  fprintf(stderr, "%s: %s%s%s\n", self, what, value ? " " : "", value ? value : "");
  return -1;
}

int tlsgate_plugin_init(int api_version, int argc, const char* const* argv) {
  const char* self = argc > 0 ? argv[0] : "alpn_endpoint";
  if (api_version < TLSGATE_PLUGIN_API_VERSION)
    return fail(self, "built for a newer plugin API version", NULL);
  /* argv is tlsgate's only during this call: copy what we keep. */
  for (int i = 1; i < argc; i += 2) { /* --flag value pairs */
    if (i + 1 >= argc) return fail(self, "missing value after", argv[i]);
    const char* value = argv[i + 1];
    if (strcmp(argv[i], "--protocol") == 0) {
      cfg.protocol = strdup(value);
    } else if (strcmp(argv[i], "--to") == 0) {
      cfg.to = strdup(value);
    } else if (strcmp(argv[i], "--refuse") == 0) {
      if (cfg.nrefused == MAX_REFUSED) return fail(self, "too many --refuse", NULL);
      cfg.refused[cfg.nrefused++] = strdup(value);
    } else {
      return fail(self, "unknown argument", argv[i]);
    }
  }
  if (!cfg.protocol) return fail(self, "give --protocol NAME", NULL);
  if (!cfg.to) cfg.to = strdup("builtin:inspect");
  if (tlsgate_endpoint_register(cfg.protocol, route, &cfg) != 0)
    return fail(self, "cannot register an endpoint for", cfg.protocol);
  return 0;
}
