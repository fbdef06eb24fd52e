/*
 * TCP acceptor: a listening TCP socket (AF_INET or AF_INET6) watched by an endpoint of kind
 * KIND_TCP_ACCEPTOR. On each readiness event it accepts up to TCP_ACCEPT_BATCH connections with
 * accept4(), sets TCP_NODELAY on each, and hands the whole batch to JavaScript in a single
 * EV_TCP_ACCEPT: one flat array, TCP_ACCEPT_FIELDS values per connection
 *   fd, remoteAddress, remotePort, localAddress, localPort
 * so that JavaScript never builds a net.Socket it does not need. Addresses are text
 * (inet_ntop); an IPv4-mapped IPv6 address (::ffff:a.b.c.d, a v4 client on a dual-stack
 * socket) is given as plain IPv4 text.
 *
 * Nothing here blocks and nothing is allocated per connection in C: the batch lives on the
 * stack (about 8 KiB). Only the JavaScript values are created per connection.
 *
 * Fd ownership: accepted fds are the addon's until the batch reaches JavaScript. If it never
 * does (a value could not be created, or JavaScript cannot run), every fd of the batch is closed
 * here. Once the callback ran (also when it threw), all of them are JavaScript's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff.h"

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} tcp_address;

typedef struct {
  int fd;
  tcp_address remote;
  tcp_address local; /* unused when the acceptor has a fixed local address */
} accepted_connection;

/* Writes addr as text into text (INET6_ADDRSTRLEN bytes) and returns its port. An IPv4-mapped
 * IPv6 address is written as plain IPv4 text. */
static int format_address(const tcp_address* addr, char* text) {
  text[0] = '\0';
  if (addr->sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &addr->v4.sin_addr, text, INET6_ADDRSTRLEN);
    return ntohs(addr->v4.sin_port);
  }
  if (addr->sa.sa_family == AF_INET6) {
    if (IN6_IS_ADDR_V4MAPPED(&addr->v6.sin6_addr))
      inet_ntop(AF_INET, &addr->v6.sin6_addr.s6_addr[12], text, INET6_ADDRSTRLEN);
    else
      inet_ntop(AF_INET6, &addr->v6.sin6_addr, text, INET6_ADDRSTRLEN);
    return ntohs(addr->v6.sin6_port);
  }
  return 0;
}

static bool is_wildcard(const tcp_address* addr) {
  if (addr->sa.sa_family == AF_INET) return addr->v4.sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&addr->v6.sin6_addr);
}

/* Reads a JavaScript string holding an IPv4 or IPv6 literal (no host names: nothing here may
 * block on DNS, and no scope ids) into addr with the given port. Returns 0 or EINVAL. */
static int parse_host(napi_env env, napi_value value, uint32_t port, tcp_address* addr) {
  char host[INET6_ADDRSTRLEN + 1];
  size_t length = 0;
  memset(addr, 0, sizeof *addr);
  if (napi_get_value_string_utf8(env, value, host, sizeof host, &length) != napi_ok ||
      length >= sizeof host - 1)
    return EINVAL;
  if (inet_pton(AF_INET, host, &addr->v4.sin_addr) == 1) {
    addr->v4.sin_family = AF_INET;
    addr->v4.sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &addr->v6.sin6_addr) == 1) {
    addr->v6.sin6_family = AF_INET6;
    addr->v6.sin6_port = htons((uint16_t)port);
    return 0;
  }
  return EINVAL;
}

/* tcpListen(host, port, ipv6Only, backlog): { fd, address, port, family }. Throws an errno
 * error (code EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EACCES, EINVAL...) on failure, and then
 * no fd is left open. The fd is non-blocking and close-on-exec. */
napi_value handoff_tcp_listen(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t port = 0, backlog = 0;
  bool v6only = false;
  tcp_address addr;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 || napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_bool(env, argv[2], &v6only) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &backlog) != napi_ok || backlog == 0) {
    napi_throw_type_error(env, NULL,
                          "tcpListen(host: string, port: number, ipv6Only: boolean, backlog: number)");
    return NULL;
  }
  int err = parse_host(env, argv[0], port, &addr);
  if (err != 0) {
    handoff_throw_errno(env, err, "inet_pton");
    return NULL;
  }
  int family = addr.sa.sa_family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    handoff_throw_errno(env, errno, "socket");
    return NULL;
  }
  int one = 1, v6 = v6only ? 1 : 0;
  socklen_t len = family == AF_INET ? sizeof addr.v4 : sizeof addr.v6;
  const char* step = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) step = "setsockopt";
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6) < 0)
    step = "setsockopt";
  else if (bind(fd, &addr.sa, len) < 0) step = "bind";
  else if (listen(fd, (int)(backlog > 0x7fffffff ? 0x7fffffff : backlog)) < 0) step = "listen";
  else if (len = sizeof addr, getsockname(fd, &addr.sa, &len) < 0) step = "getsockname";
  if (step != NULL) {
    err = errno;
    close(fd);
    handoff_throw_errno(env, err, step);
    return NULL;
  }
  char text[INET6_ADDRSTRLEN];
  int bound_port = format_address(&addr, text);
  napi_value result, address;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &address) != napi_ok) {
    close(fd);
    return NULL;
  }
  napi_set_named_property(env, result, "fd", handoff_int(env, fd));
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", handoff_int(env, bound_port));
  napi_set_named_property(env, result, "family", handoff_int(env, family == AF_INET ? 4 : 6));
  return result;
}

/* Called by the Endpoint constructor for KIND_TCP_ACCEPTOR, before it owns fd. A listener bound
 * to one address gives every connection that local address and port, so they are read once
 * here instead of with a getsockname() per connection. Returns 0, or -1 with an exception. */
int handoff_tcp_setup(endpoint* ep, int fd) {
  tcp_address addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, &addr.sa, &len) < 0) {
    handoff_throw_errno(ep->env, errno, "getsockname");
    return -1;
  }
  if (addr.sa.sa_family != AF_INET && addr.sa.sa_family != AF_INET6) {
    handoff_throw_errno(ep->env, EAFNOSUPPORT, "getsockname");
    return -1;
  }
  if (is_wildcard(&addr)) return 0;
  /* napi_create_reference takes objects only (before Node 22), so the text is kept in an
   * array: [localAddress, localPort]. */
  char text[INET6_ADDRSTRLEN];
  int port = format_address(&addr, text);
  napi_value local, value;
  bool pending = false;
  if (napi_create_array_with_length(ep->env, 2, &local) != napi_ok ||
      napi_create_string_latin1(ep->env, text, NAPI_AUTO_LENGTH, &value) != napi_ok ||
      napi_set_element(ep->env, local, 0, value) != napi_ok ||
      napi_set_element(ep->env, local, 1, handoff_int(ep->env, port)) != napi_ok ||
      napi_create_reference(ep->env, local, 1, &ep->local_address) != napi_ok) {
    if (napi_is_exception_pending(ep->env, &pending) == napi_ok && !pending)
      napi_throw_error(ep->env, NULL, "handoff: cannot set up the TCP acceptor");
    return -1;
  }
  return 0;
}

static void close_batch(accepted_connection* batch, int count) {
  for (int i = 0; i < count; i++) close(batch[i].fd);
}

/* The flat EV_TCP_ACCEPT array for a batch, or NULL if a value could not be created. */
static napi_value batch_to_js(endpoint* ep, accepted_connection* batch, int count) {
  napi_env env = ep->env;
  napi_value array, fixed_local = NULL, fixed_port = NULL;
  if (napi_create_array_with_length(env, (size_t)count * TCP_ACCEPT_FIELDS, &array) != napi_ok)
    return NULL;
  if (ep->local_address != NULL) {
    napi_value local;
    if (napi_get_reference_value(env, ep->local_address, &local) != napi_ok || local == NULL ||
        napi_get_element(env, local, 0, &fixed_local) != napi_ok ||
        napi_get_element(env, local, 1, &fixed_port) != napi_ok)
      return NULL;
  }
  char text[INET6_ADDRSTRLEN];
  uint32_t at = 0;
  for (int i = 0; i < count; i++) {
    napi_value values[TCP_ACCEPT_FIELDS];
    values[0] = handoff_int(env, batch[i].fd);
    values[2] = handoff_int(env, format_address(&batch[i].remote, text));
    if (napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &values[1]) != napi_ok) return NULL;
    if (fixed_local != NULL) {
      values[3] = fixed_local;
      values[4] = fixed_port;
    } else {
      values[4] = handoff_int(env, format_address(&batch[i].local, text));
      if (napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &values[3]) != napi_ok) return NULL;
    }
    for (int f = 0; f < TCP_ACCEPT_FIELDS; f++) {
      if (values[f] == NULL || napi_set_element(env, array, at++, values[f]) != napi_ok) return NULL;
    }
  }
  return array;
}

/* Accepts up to TCP_ACCEPT_BATCH connections and emits them as one EV_TCP_ACCEPT. An accept4()
 * failure other than EAGAIN/EINTR/ECONNABORTED ends the batch: the connections accepted before
 * it are delivered first, then EV_ERROR (JavaScript backs off on EMFILE and friends). */
void handoff_tcp_readable(endpoint* ep) {
  accepted_connection batch[TCP_ACCEPT_BATCH];
  int count = 0, err = 0;
  bool need_local = ep->local_address == NULL;
  for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
    accepted_connection* c = &batch[count];
    socklen_t len = sizeof c->remote;
    int fd = accept4(ep->fd, &c->remote.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      err = errno;
      if (err == EINTR || err == ECONNABORTED) {
        err = 0;
        continue;
      }
      if (err == EAGAIN || err == EWOULDBLOCK) err = 0;
      break;
    }
    c->fd = fd;
    /* As net.Server does. Inherited by whoever gets the fd. A failure (the peer already
     * reset) leaves a connection that fails on first use, so it is not an accept error. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    len = sizeof c->local;
    if (need_local && getsockname(fd, &c->local.sa, &len) < 0) memset(&c->local, 0, sizeof c->local);
    count++;
  }
  if (count > 0) {
    napi_value argv[2] = {handoff_int(ep->env, EV_TCP_ACCEPT), batch_to_js(ep, batch, count)};
    if (argv[0] == NULL || argv[1] == NULL) {
      close_batch(batch, count);
      return;
    }
    int result = handoff_emit(ep, 2, argv);
    if (result == EMIT_NOT_RUN) close_batch(batch, count); /* never reached JavaScript */
    if (result != EMIT_OK) return; /* if it threw, JavaScript owns them (and closed the rest) */
  }
  if (err != 0 && ep->fd >= 0) handoff_emit_error(ep, err, "accept4");
}
