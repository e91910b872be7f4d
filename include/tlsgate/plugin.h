/* tlsgate plugin ABI.
 *
 * A plugin is a shared object loaded with dlopen() from tlsgate.yaml:
 *
 *     plugins:
 *       - path: /usr/lib/tlsgate/plugins/hook_test.so
 *         args: [--hook, cert, --mode, delay, --ms, "200"]
 *
 * It exports one function, tlsgate_plugin_init(), called once at startup on the main thread
 * before any connection is accepted. There it registers hooks with tlsgate_hook_add(). The
 * functions declared here are exported by the tlsgate executable; a plugin links against
 * nothing and resolves them when it is loaded.
 *
 * Hooks. Each hook point runs its callbacks in registration order (a chain). A callback
 * receives the connection's handle and must finish its turn with exactly one completing
 * call — tlsgate_vconn_reenable(), _reenable_error(), _tunnel() or _terminate() — either
 * before it returns or later, from any thread. Until then the connection is held: the
 * handshake does not advance (it is bounded by ssl.handshake_timeout_in). A completing call
 * made from another thread is posted to the connection's own thread and takes effect there.
 *
 * Lifetime (SPEC S13). A held connection is never freed under its hook: if the client goes
 * away or the handshake times out while a hook holds it, the connection is closed but kept
 * until the hook's completing call, which then does nothing but release it. VCONN_CLOSE runs
 * exactly once per connection, whatever happened. The accessors (tlsgate_vconn_sni() & co.)
 * may only be called inside a callback, on the connection's thread; completing calls and
 * tlsgate_vconn_use_cert*() may be made from anywhere while the hook holds the connection.
 */
#ifndef TLSGATE_PLUGIN_H
#define TLSGATE_PLUGIN_H

#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TLSGATE_PLUGIN_API_VERSION: the version of this header, raised by one with every change.
 * A version only adds to the ones before it: a function, once declared here, keeps its
 * signature and meaning, so a tlsgate runs every plugin built for its version or an older
 * one. tlsgate_plugin_init() receives the version tlsgate implements and should refuse to
 * start (return non-zero) when it is LOWER than the one the plugin was built with: that
 * tlsgate lacks functions the plugin may call.
 *
 *   1  the first version.
 *   2  adds tlsgate_vconn_ja4(). A plugin built for version 1 that refuses any version but
 *      its own (as version 1 of this header advised) refuses version 2: rebuild it, and
 *      check `api_version < TLSGATE_PLUGIN_API_VERSION` instead. */
#define TLSGATE_PLUGIN_API_VERSION 2

typedef struct tlsgate_vconn tlsgate_vconn; /* one client connection (opaque) */
typedef struct ssl_st SSL;                  /* OpenSSL's, for advanced use */

/* tlsgate_hook_point: where a chain runs. */
typedef enum tlsgate_hook_point {
  /* PRE_ACCEPT (S7): after accept, before any byte is read. */
  TLSGATE_HOOK_VCONN_START = 0,
  /* From OpenSSL's ClientHello callback: SNI, ALPN, JA4, versions and ciphers are readable. */
  TLSGATE_HOOK_CLIENT_HELLO = 1,
  /* SNI/CERT (S10): from the certificate callback, after tlsgate selected the certificate
   * from ssl_multicert.config; a hook may replace it. */
  TLSGATE_HOOK_CERT = 2,
  /* With ssl.verify_client MODERATE or STRICT: the client presented a certificate and it
   * verified. Runs inside OpenSSL's verify callback, which OpenSSL 3.0 cannot suspend on a
   * server: the callback must complete its turn before it returns — reenable accepts,
   * reenable_error or terminate rejects (the client gets an alert); a hook that still holds
   * the connection when its callback returns fails the handshake. */
  TLSGATE_HOOK_VERIFY_CLIENT = 3,
  /* Once per connection, when it ends, whatever the reason. Completing calls made here only
   * release the connection. */
  TLSGATE_HOOK_VCONN_CLOSE = 4,
  /* Towards an origin (partial_blind_route, routes with tls: true): the TCP connection to the
   * origin is up, the client handshake has not started. May hold the connection; reenable
   * goes on, reenable_error or terminate close it (the client gets a close_notify). */
  TLSGATE_HOOK_OUTBOUND_START = 5,
  /* Towards an origin: OpenSSL verified the origin's certificate as the policy asks (or the
   * policy is PERMISSIVE). Runs inside OpenSSL's verify callback: like VERIFY_CLIENT it must
   * complete its turn before it returns; reenable_error or terminate fail the handshake. */
  TLSGATE_HOOK_VERIFY_SERVER = 6,
  TLSGATE_HOOK_COUNT = 7
} tlsgate_hook_point;

/* tlsgate_hook_fn: a hook callback. `data` is what was given to tlsgate_hook_add(). */
typedef void (*tlsgate_hook_fn)(tlsgate_vconn* vc, tlsgate_hook_point point, void* data);

/* tlsgate_plugin_init: the one symbol a plugin must export. `argv` holds the `args` of its
 * tlsgate.yaml entry (argv[0] is the plugin's path). Returns 0 on success; anything else
 * stops tlsgate with an error naming the plugin. */
int tlsgate_plugin_init(int api_version, int argc, const char* const* argv);

/* tlsgate_hook_add: appends `fn` to the chain of `point`. Only during tlsgate_plugin_init().
 * Returns 0, or -1 for a bad point or when called later. */
int tlsgate_hook_add(tlsgate_hook_point point, tlsgate_hook_fn fn, void* data);

/* ---- completing calls: exactly one per callback invocation, from any thread ---------- */

/* tlsgate_vconn_reenable: continue with the next hook of the chain, then the handshake. */
void tlsgate_vconn_reenable(tlsgate_vconn* vc);

/* tlsgate_vconn_reenable_error: fail the handshake and close. At CLIENT_HELLO the client
 * gets a handshake_failure alert; at CERT an internal_error alert (OpenSSL's certificate
 * callback cannot choose its alert; ATS behaves the same); at VCONN_START, when nothing has
 * been read yet, the connection is closed without an alert. */
void tlsgate_vconn_reenable_error(tlsgate_vconn* vc);

/* tlsgate_vconn_terminate: close the connection now, without an alert. */
void tlsgate_vconn_terminate(tlsgate_vconn* vc);

/* tlsgate_vconn_tunnel: turn the connection into a blind tunnel to `destination`
 * ("host:port", resolved by tlsgate), or to the connection's original destination when
 * NULL. Bytes already received (the ClientHello) are replayed to the destination first
 * (S10). Not allowed at VCONN_CLOSE (acts as reenable). */
void tlsgate_vconn_tunnel(tlsgate_vconn* vc, const char* destination);

/* ---- inside a callback, on the connection's thread --------------------------------- */

/* tlsgate_vconn_sni: the server name the client asked for, or NULL. At VCONN_START: NULL. */
const char* tlsgate_vconn_sni(tlsgate_vconn* vc);

/* tlsgate_vconn_ja4: the JA4 fingerprint of the client's ClientHello (FoxIO's JA4, TLS over
 * TCP: "t13d1516h2_8daaf6152771_e5627efa2ab1"), from CLIENT_HELLO on; NULL at VCONN_START.
 * Since version 2. */
const char* tlsgate_vconn_ja4(tlsgate_vconn* vc);

/* tlsgate_vconn_alpn_offered: the client's ALPN list in wire format (length-prefixed
 * names), or NULL (*len = 0) when it offered none or the ClientHello is not read yet. */
const unsigned char* tlsgate_vconn_alpn_offered(tlsgate_vconn* vc, size_t* len);

/* tlsgate_vconn_client_addr / _local_addr: the peer's and our address. */
const struct sockaddr* tlsgate_vconn_client_addr(tlsgate_vconn* vc);
const struct sockaddr* tlsgate_vconn_local_addr(tlsgate_vconn* vc);

/* tlsgate_vconn_ssl: the connection's SSL (NULL at VCONN_START). Do not free it, do not
 * change its BIOs; reading the ClientHello (SSL_client_hello_get0_*) at CLIENT_HELLO is the
 * intended use. */
SSL* tlsgate_vconn_ssl(tlsgate_vconn* vc);

/* ---- certificates: from any thread ------------------------------------------------ */

typedef struct tlsgate_cert tlsgate_cert; /* a server certificate ready to serve (opaque) */

/* tlsgate_cert_from_pem: parses a certificate (PEM; its chain may follow the leaf) and its
 * private key (PEM) into a context with tlsgate's TLS settings. Safe and meant to be called
 * on a plugin's own thread: parsing keys is the expensive part of loading a certificate.
 * Returns NULL on failure, with the reason in err (if given). The caller owns one reference. */
tlsgate_cert* tlsgate_cert_from_pem(const char* cert_pem, size_t cert_len, const char* key_pem,
                                    size_t key_len, char* err, size_t err_len);

/* tlsgate_cert_ref / tlsgate_cert_release: reference counting; a connection that serves a
 * certificate holds its own reference. */
tlsgate_cert* tlsgate_cert_ref(tlsgate_cert* cert);
void tlsgate_cert_release(tlsgate_cert* cert);

/* tlsgate_vconn_use_cert: at CERT, serve `cert` instead of the selected one. May be called
 * from any thread while the hook holds the connection, before its completing call.
 * Returns 0, or -1 when the connection is not held at CERT. */
int tlsgate_vconn_use_cert(tlsgate_vconn* vc, tlsgate_cert* cert);

/* tlsgate_vconn_use_cert_name: like tlsgate_vconn_use_cert() with the ssl_multicert.config
 * entry that would be chosen for `name` (exact, then wildcard). Returns 0, or -1 if none. */
int tlsgate_vconn_use_cert_name(tlsgate_vconn* vc, const char* name);

/* tlsgate_vconn_id: a number unique to the connection within this process, for logs. */
unsigned long long tlsgate_vconn_id(tlsgate_vconn* vc);

/* --- ALPN endpoints (S14) ------------------------------------------------------------ */

/* What an endpoint learns of a connection whose handshake just completed. Valid during the
 * call only. */
typedef struct tlsgate_endpoint_info {
  const char* protocol;               /* the negotiated ALPN protocol */
  const char* sni;                    /* the server name the client asked for, or NULL */
  const struct sockaddr* client_addr; /* the client (after any PROXY header) */
  const struct sockaddr* local_addr;  /* the address the client connected to */
} tlsgate_endpoint_info;

/* tlsgate_endpoint_fn: decides where a connection that negotiated the endpoint's protocol
 * goes, on the connection's worker thread (do not block). Returns "host:port" (the
 * plaintext is relayed there; a name is resolved off the event loop), "builtin:inspect",
 * or NULL to refuse (the client gets a close_notify). The string is copied before the
 * call returns. */
typedef const char* (*tlsgate_endpoint_fn)(const tlsgate_endpoint_info* info, void* data);

/* tlsgate_endpoint_register: makes `fn` the endpoint of ALPN protocol `protocol`. The
 * protocol is offered to clients unless ssl.alpn lists the offer explicitly; routes of
 * tlsgate.yaml and sni.yaml for the same protocol take precedence. Only during
 * tlsgate_plugin_init(); 0 on success, -1 for a bad name or a protocol taken already. */
int tlsgate_endpoint_register(const char* protocol, tlsgate_endpoint_fn fn, void* data);

#ifdef __cplusplus
}
#endif

#endif /* TLSGATE_PLUGIN_H */
