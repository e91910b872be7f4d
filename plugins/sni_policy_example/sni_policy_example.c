/* sni_policy_example: decides per server name, as soon as the ClientHello is read, whether
 * tlsgate terminates TLS, passes the connection through untouched, or drops it.
 *
 * tlsgate.yaml:
 *
 *     plugins:
 *       - path: /usr/lib/tlsgate/plugins/sni_policy_example.so
 *         args: [--tunnel, "*.passthrough.example=10.0.0.5:443",
 *                --deny, blocked.example, --default, continue]
 *
 * Arguments (rules are tried in the order given; the first match wins):
 *   --tunnel PATTERN=HOST:PORT   names matching PATTERN are tunnelled blind (TLS is not
 *                                terminated: the ClientHello and everything after it go to
 *                                HOST:PORT, which holds the certificate). Repeatable.
 *   --deny PATTERN               names matching PATTERN are closed at once, no alert, no
 *                                handshake. Repeatable.
 *   --default terminate|continue what happens to every other name, and to connections
 *                                without SNI: "continue" (default) lets tlsgate terminate TLS
 *                                as usual; "terminate" closes them.
 *
 * A PATTERN is an exact name ("a.example") or a wildcard whose left-most label is "*"
 * ("*.example" matches "x.example", not "example" nor "y.x.example"). Matching ignores case.
 *
 * It runs at TLSGATE_HOOK_CLIENT_HELLO: the SNI is known (tlsgate_vconn_sni), nothing has
 * been answered yet, so a tunnel replays the ClientHello to its destination.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsgate/plugin.h"

enum action { ACT_CONTINUE, ACT_TERMINATE, ACT_TUNNEL };

struct rule {
  char* pattern;      /* lowercased; "*.suffix" or an exact name */
  enum action action; /* ACT_TUNNEL or ACT_TERMINATE */
  char* destination;  /* ACT_TUNNEL: "host:port" */
};

/* One per plugin entry of tlsgate.yaml; lives as long as the process. */
struct policy {
  struct rule* rules;
  size_t nrules;
  enum action fallback; /* --default: ACT_CONTINUE or ACT_TERMINATE */
};

/* Does `name` match `pattern`? Both compared without case; "*." covers one label. */
static int matches(const char* pattern, const char* name) {
  if (pattern[0] == '*' && pattern[1] == '.') {
    const char* dot = strchr(name, '.');
    /* the label the '*' stands for must be non-empty and the rest must be equal */
    return dot != NULL && dot != name && strcasecmp(dot, pattern + 1) == 0;
  }
  return strcasecmp(pattern, name) == 0;
}

static void on_client_hello(tlsgate_vconn* vc, tlsgate_hook_point point, void* data) {
  const struct policy* p = data;
  (void)point;
  const char* sni = tlsgate_vconn_sni(vc);
  enum action action = p->fallback;
  const char* destination = NULL;
  if (sni != NULL) {
    for (size_t i = 0; i < p->nrules; i++) {
      if (matches(p->rules[i].pattern, sni)) {
        action = p->rules[i].action;
        destination = p->rules[i].destination;
        break;
      }
    }
  }
  switch (action) {
    case ACT_CONTINUE:
      tlsgate_vconn_reenable(vc);
      break;
    case ACT_TERMINATE:
      tlsgate_vconn_terminate(vc);
      break;
    case ACT_TUNNEL:
      tlsgate_vconn_tunnel(vc, destination);
      break;
  }
}

/* ---- initialisation -------------------------------------------------------------------- */

static void policy_free(struct policy* p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->nrules; i++) {
    free(p->rules[i].pattern);
    free(p->rules[i].destination);
  }
  free(p->rules);
  free(p);
}

static int fail(const char* plugin, struct policy* p, const char* what, const char* value) {
  fprintf(stderr, "sni_policy_example (%s): %s%s%s\n", plugin, what, value ? " " : "",
          value ? value : "");
  fflush(stderr);
  policy_free(p);
  return 1;
}

/* A pattern is a host name, optionally starting with "*." - nothing else may hold a '*'. */
static int valid_pattern(const char* s) {
  if (s[0] == '*') {
    if (s[1] != '.' || s[2] == '\0') return 0;
    s += 2;
  }
  if (*s == '\0' || strlen(s) > 253) return 0;
  for (; *s; s++)
    if (*s == '*' || *s == '/' || *s == '=' || *s == ' ') return 0;
  return 1;
}

/* Appends a rule; takes `pattern` (lowercased here) and `destination` (may be NULL). */
static int add_rule(struct policy* p, char* pattern, enum action action, char* destination) {
  struct rule* rules = realloc(p->rules, (p->nrules + 1) * sizeof *rules);
  if (rules == NULL) {
    free(pattern);
    free(destination);
    return -1;
  }
  p->rules = rules;
  for (char* c = pattern; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  p->rules[p->nrules++] = (struct rule){pattern, action, destination};
  return 0;
}

int tlsgate_plugin_init(int api_version, int argc, const char* const* argv) {
  const char* self = argc > 0 ? argv[0] : "sni_policy_example";
  if (api_version < TLSGATE_PLUGIN_API_VERSION) {
    fprintf(stderr, "sni_policy_example (%s): built for plugin API %d, tlsgate offers only %d\n",
            self, TLSGATE_PLUGIN_API_VERSION, api_version);
    return 1;
  }
  struct policy* p = calloc(1, sizeof *p);
  if (p == NULL) return fail(self, NULL, "out of memory", NULL);
  p->fallback = ACT_CONTINUE;

  /* argv belongs to tlsgate for the duration of this call only: copy what we keep. */
  for (int i = 1; i < argc; i++) {
    const char* arg = argv[i];
    if (strcmp(arg, "--tunnel") != 0 && strcmp(arg, "--deny") != 0 && strcmp(arg, "--default") != 0)
      return fail(self, p, "unknown argument", arg);
    if (i + 1 >= argc) return fail(self, p, "missing value for", arg);
    const char* value = argv[++i];
    if (strcmp(arg, "--tunnel") == 0) {
      const char* eq = strchr(value, '=');
      const char* colon = eq ? strrchr(eq + 1, ':') : NULL;
      if (eq == NULL || colon == NULL || colon == eq + 1 || colon[1] == '\0')
        return fail(self, p, "--tunnel wants PATTERN=HOST:PORT, got", value);
      char* pattern = strndup(value, (size_t)(eq - value));
      if (pattern == NULL) return fail(self, p, "out of memory", NULL);
      if (!valid_pattern(pattern)) {
        free(pattern);
        return fail(self, p, "--tunnel: bad name pattern in", value);
      }
      char* destination = strdup(eq + 1);
      if (destination == NULL) {
        free(pattern);
        return fail(self, p, "out of memory", NULL);
      }
      if (add_rule(p, pattern, ACT_TUNNEL, destination) != 0)
        return fail(self, p, "out of memory", NULL);
    } else if (strcmp(arg, "--deny") == 0) {
      if (!valid_pattern(value)) return fail(self, p, "--deny: bad name pattern", value);
      char* pattern = strdup(value);
      if (pattern == NULL || add_rule(p, pattern, ACT_TERMINATE, NULL) != 0)
        return fail(self, p, "out of memory", NULL);
    } else if (strcmp(value, "continue") == 0) {
      p->fallback = ACT_CONTINUE;
    } else if (strcmp(value, "terminate") == 0) {
      p->fallback = ACT_TERMINATE;
    } else {
      return fail(self, p, "--default wants terminate or continue, got", value);
    }
  }

  if (tlsgate_hook_add(TLSGATE_HOOK_CLIENT_HELLO, on_client_hello, p) != 0) {
    fprintf(stderr, "sni_policy_example (%s): tlsgate_hook_add failed\n", self);
    return 1;
  }
  return 0;
}
