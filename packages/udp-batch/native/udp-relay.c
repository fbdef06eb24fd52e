/*
 * The relay's session table: an endpoint (udp-batch.c) that forwards its datagrams to upstream
 * sessions, each a connected UDP socket this file owns, and sends their replies back to the
 * session's client from the endpoint's socket without calling JavaScript.
 *
 * Per batch JavaScript gets the peers raw (peerRaw: [family 4|6, address words...], no string) and
 * writes into `plan` the session id each datagram goes to (-1: none); when the handler returns, each
 * session's datagrams of the batch leave with one sendmmsg on its socket. A session's replies are
 * read with recvmmsg when libuv reports its socket readable (uv_poll_t on the main loop) and sent to
 * the client with sendmmsg through the endpoint's send path (its bounded FIFO on EAGAIN); each one
 * adds to replies[id], a Uint32Array JavaScript reads for idle expiry and metrics. An upstream
 * error (ECONNREFUSED from an ICMP port unreachable) stops the session's reads and calls
 * onSessionError(id, errno) once; JavaScript then closes it.
 *
 * Every session ends in session_close(): by closeSession(id), and for all that are left when the
 * endpoint shuts down (close(), env teardown). It stops the poll, closes the fd, frees the memory
 * when libuv is done with the handle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"

#define REPLY_BATCH 16   /* replies read per recvmmsg */
#define REPLY_ROUNDS 4   /* recvmmsg calls per readiness */
#define REPLY_SLOT 65536 /* bytes per reply slot: nothing below the UDP maximum is cut */
#define MAX_SESSIONS (1 << 24)
#define PEER_WORDS 5 /* peerRaw per datagram: family, then the address in 1 (IPv4) or 4 words */

typedef struct session {
  endpoint* ep;
  uv_poll_t poll;
  int fd;
  int32_t id;
  int failed; /* an error was reported: no more reads, JavaScript closes it */
  struct sockaddr_storage peer;
  socklen_t peer_len;
} session;

typedef struct relay {
  session** sessions;
  uint32_t cap;
  uint32_t active;
  napi_ref peer_raw_ref, plan_ref, replies_ref, on_error;
  uint32_t* peer_raw;
  int32_t* plan;
  uint32_t* replies;
  size_t replies_len;
  /* the reply path (one session at a time: all on the loop's thread) */
  uint8_t* rbuf;
  struct mmsghdr rmsgs[REPLY_BATCH];
  struct iovec riov[REPLY_BATCH];
  struct mmsghdr smsgs[REPLY_BATCH];
  struct iovec siov[REPLY_BATCH];
  /* the forward path: one session's datagrams of a batch */
  struct mmsghdr* fmsgs;
  struct iovec* fiov;
  double forwarded, forward_dropped, forward_errors, replied, reply_truncated, opened, closed;
} relay;

/* ---- sessions ---- */

static void on_session_closed(uv_handle_t* handle) { free(handle->data); }

/* The one place a session ends: out of the table, poll stopped, fd closed, freed after libuv. */
static void session_close(relay* r, session* s) {
  if (r->sessions[s->id] == s) r->sessions[s->id] = NULL;
  r->active--;
  r->closed++;
  if (s->fd >= 0) {
    uv_close((uv_handle_t*)&s->poll, on_session_closed);
    close(s->fd);
    s->fd = -1;
  } else {
    free(s);
  }
}

static session* session_at(relay* r, int32_t id) {
  if (r == NULL || id < 0 || (uint32_t)id >= r->cap) return NULL;
  return r->sessions[id];
}

static void call_on_error(endpoint* ep, session* s, int err) {
  relay* r = ep->relay;
  napi_env env = ep->env;
  napi_value fn, recv, argv[2] = {int_value(env, s->id), int_value(env, err)}, result;
  if (napi_get_reference_value(env, r->on_error, &fn) != napi_ok || fn == NULL) return;
  napi_get_undefined(env, &recv);
  if (napi_call_function(env, recv, fn, 2, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
  }
}

/*
 * Tells JavaScript once that a session's upstream failed (it marks the target down and closes it).
 * `scoped`: already inside a callback scope (a batch); otherwise (a session's own poll) one is
 * opened here, only for this rare call, so the reply path itself never enters JavaScript's scopes.
 */
static void report(endpoint* ep, session* s, int err, bool scoped) {
  if (s->failed) return;
  s->failed = 1;
  if (s->fd >= 0) uv_poll_stop(&s->poll);
  if (scoped) {
    call_on_error(ep, s, err);
    return;
  }
  napi_env env = ep->env;
  napi_handle_scope scope;
  napi_callback_scope callback_scope;
  napi_value resource;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, ep->self, &resource) == napi_ok &&
      napi_open_callback_scope(env, resource, ep->async, &callback_scope) == napi_ok) {
    call_on_error(ep, s, err);
    napi_close_callback_scope(env, callback_scope); /* runs process.nextTick queue and microtasks */
  }
  napi_close_handle_scope(env, scope);
}

/* Replies from upstream, straight to the session's client from the shared socket. */
static void read_replies(endpoint* ep, relay* r, session* s) {
  for (int round = 0; round < REPLY_ROUNDS && s->fd >= 0 && ep->fd >= 0; round++) {
    for (int i = 0; i < REPLY_BATCH; i++) {
      r->rmsgs[i].msg_hdr.msg_flags = 0;
      r->rmsgs[i].msg_hdr.msg_name = NULL;
      r->rmsgs[i].msg_hdr.msg_namelen = 0;
    }
    int n = recvmmsg(s->fd, r->rmsgs, REPLY_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      report(ep, s, errno, false);
      return;
    }
    unsigned out = 0;
    for (int i = 0; i < n; i++) {
      if (r->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        r->reply_truncated++;
        continue;
      }
      r->siov[out].iov_base = r->riov[i].iov_base;
      r->siov[out].iov_len = r->rmsgs[i].msg_len;
      memset(&r->smsgs[out].msg_hdr, 0, sizeof r->smsgs[out].msg_hdr);
      r->smsgs[out].msg_hdr.msg_name = &s->peer;
      r->smsgs[out].msg_hdr.msg_namelen = s->peer_len;
      r->smsgs[out].msg_hdr.msg_iov = &r->siov[out];
      r->smsgs[out].msg_hdr.msg_iovlen = 1;
      out++;
    }
    send_now(ep, r->smsgs, out);
    r->replied += n;
    if ((uint32_t)s->id < r->replies_len) r->replies[s->id] += (uint32_t)n;
    if (n < REPLY_BATCH) return;
  }
}

static void on_session_poll(uv_poll_t* handle, int status, int events) {
  session* s = handle->data;
  endpoint* ep = s->ep;
  if (s->fd < 0 || ep->fd < 0 || ep->relay == NULL) return;
  if (status < 0) {
    int err = -status, pending = 0;
    socklen_t len = sizeof pending;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &pending, &len) == 0 && pending != 0) err = pending;
    report(ep, s, err, false);
  } else if (events & UV_READABLE) {
    read_replies(ep, ep->relay, s);
  }
}

/* ---- the batch hooks (udp-batch.c calls them) ---- */

void relay_peers(endpoint* ep, int n) {
  relay* r = ep->relay;
  for (int i = 0; i < n; i++) {
    const struct sockaddr_storage* ss = &ep->peers[i];
    uint32_t* raw = r->peer_raw + (size_t)i * PEER_WORDS;
    int port = 0;
    if (ss->ss_family == AF_INET) {
      const struct sockaddr_in* a = (const void*)ss;
      raw[0] = 4;
      raw[1] = ntohl(a->sin_addr.s_addr);
      port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
      const struct sockaddr_in6* a = (const void*)ss;
      port = ntohs(a->sin6_port);
      if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* a dual-stack socket's IPv4 client */
        uint32_t v4;
        memcpy(&v4, &a->sin6_addr.s6_addr[12], 4);
        raw[0] = 4;
        raw[1] = ntohl(v4);
      } else {
        raw[0] = 6;
        for (int w = 0; w < 4; w++) {
          uint32_t word;
          memcpy(&word, &a->sin6_addr.s6_addr[w * 4], 4);
          raw[1 + w] = ntohl(word);
        }
      }
    } else {
      raw[0] = 0;
    }
    bool truncated = (ep->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    if (truncated) ep->truncated++;
    ep->recv_meta[i * 2] = truncated ? -1 : (int32_t)ep->rmsgs[i].msg_len;
    ep->recv_meta[i * 2 + 1] = port;
    r->plan[i] = -1; /* JavaScript writes where each goes */
  }
}

/* Each session's datagrams of this batch, in order, with one sendmmsg on its socket. */
void relay_forward(endpoint* ep, int n) {
  relay* r = ep->relay;
  for (int i = 0; i < n && ep->fd >= 0; i++) {
    int32_t id = r->plan[i];
    if (id < 0) continue;
    session* s = session_at(r, id);
    unsigned count = 0;
    for (int j = i; j < n; j++) {
      if (r->plan[j] != id) continue;
      r->plan[j] = -1;
      int32_t len = ep->recv_meta[j * 2];
      if (len < 0) continue;
      r->fiov[count].iov_base = ep->recv + (size_t)j * ep->slot;
      r->fiov[count].iov_len = len;
      memset(&r->fmsgs[count].msg_hdr, 0, sizeof r->fmsgs[count].msg_hdr);
      r->fmsgs[count].msg_hdr.msg_iov = &r->fiov[count];
      r->fmsgs[count].msg_hdr.msg_iovlen = 1;
      count++;
    }
    if (s == NULL || s->fd < 0 || s->failed) {
      r->forward_dropped += count;
      continue;
    }
    unsigned at = 0;
    while (at < count) {
      int sent = sendmmsg(s->fd, r->fmsgs + at, count - at, MSG_DONTWAIT);
      if (sent > 0) {
        at += sent;
        r->forwarded += sent;
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        r->forward_dropped += count - at; /* UDP: what the kernel will not take now is lost */
        break;
      } else {
        r->forward_errors++;
        r->forward_dropped += count - at;
        if (errno == ECONNREFUSED) report(ep, s, errno, true);
        break;
      }
    }
  }
}

void relay_shutdown(endpoint* ep) {
  relay* r = ep->relay;
  if (r == NULL) return;
  for (uint32_t id = 0; id < r->cap; id++)
    if (r->sessions[id] != NULL) session_close(r, r->sessions[id]);
}

void relay_release(endpoint* ep) {
  relay* r = ep->relay;
  if (r == NULL) return;
  napi_ref* refs[] = {&r->peer_raw_ref, &r->plan_ref, &r->replies_ref, &r->on_error};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(ep->env, *refs[i]);
    *refs[i] = NULL;
  }
}

void relay_free(endpoint* ep) {
  relay* r = ep->relay;
  if (r == NULL) return;
  ep->relay = NULL;
  free(r->sessions);
  free(r->rbuf);
  free(r->fmsgs);
  free(r->fiov);
  free(r);
}

void relay_stats(endpoint* ep, napi_value out) {
  relay* r = ep->relay;
  if (r == NULL) return;
  napi_env env = ep->env;
  set_number(env, out, "sessions", r->active);
  set_number(env, out, "sessionsOpened", r->opened);
  set_number(env, out, "sessionsClosed", r->closed);
  set_number(env, out, "forwarded", r->forwarded);
  set_number(env, out, "forwardDropped", r->forward_dropped);
  set_number(env, out, "forwardErrors", r->forward_errors);
  set_number(env, out, "replied", r->replied);
  set_number(env, out, "replyTruncated", r->reply_truncated);
}

/* ---- the methods ---- */

static bool arraybuffer(napi_env env, napi_value v, void** data, size_t* len) {
  bool is = false;
  return napi_is_arraybuffer(env, v, &is) == napi_ok && is && napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
}

/* forwarding(peerRaw: ArrayBuffer, plan: ArrayBuffer, replies: ArrayBuffer, onSessionError(id, errno)) */
static napi_value relay_enable(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  if (ep == NULL || ep->fd < 0 || ep->relay != NULL) {
    napi_throw_error(env, NULL, "forwarding(): closed, or already forwarding");
    return NULL;
  }
  void *peer_raw = NULL, *plan = NULL, *replies = NULL;
  size_t peer_raw_len = 0, plan_len = 0, replies_len = 0;
  napi_valuetype fn_type = napi_undefined;
  if (argc < 4 || !arraybuffer(env, argv[0], &peer_raw, &peer_raw_len) ||
      !arraybuffer(env, argv[1], &plan, &plan_len) || !arraybuffer(env, argv[2], &replies, &replies_len) ||
      peer_raw_len < (size_t)ep->batch * PEER_WORDS * 4 || plan_len < (size_t)ep->batch * 4 ||
      napi_typeof(env, argv[3], &fn_type) != napi_ok || fn_type != napi_function) {
    napi_throw_type_error(env, NULL, "forwarding(peerRaw, plan, replies, onSessionError)");
    return NULL;
  }
  relay* r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  r->rbuf = malloc((size_t)REPLY_BATCH * REPLY_SLOT);
  r->fmsgs = calloc(ep->batch, sizeof *r->fmsgs);
  r->fiov = calloc(ep->batch, sizeof *r->fiov);
  if (r->rbuf == NULL || r->fmsgs == NULL || r->fiov == NULL ||
      napi_create_reference(env, argv[0], 1, &r->peer_raw_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &r->plan_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &r->replies_ref) != napi_ok ||
      napi_create_reference(env, argv[3], 1, &r->on_error) != napi_ok) {
    ep->relay = r;
    relay_release(ep);
    relay_free(ep);
    throw_errno(env, ENOMEM, "forwarding");
    return NULL;
  }
  for (int i = 0; i < REPLY_BATCH; i++) {
    r->riov[i].iov_base = r->rbuf + (size_t)i * REPLY_SLOT;
    r->riov[i].iov_len = REPLY_SLOT;
    r->rmsgs[i].msg_hdr.msg_iov = &r->riov[i];
    r->rmsgs[i].msg_hdr.msg_iovlen = 1;
  }
  r->peer_raw = peer_raw;
  r->plan = plan;
  r->replies = replies;
  r->replies_len = replies_len / 4;
  ep->relay = r;
  return NULL;
}

/* setReplies(replies: ArrayBuffer): a bigger counter array (its first entries copied by JavaScript). */
static napi_value relay_set_replies(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  if (ep == NULL || ep->relay == NULL) return NULL;
  void* data = NULL;
  size_t len = 0;
  napi_ref ref = NULL;
  if (argc < 1 || !arraybuffer(env, argv[0], &data, &len) || napi_create_reference(env, argv[0], 1, &ref) != napi_ok) {
    napi_throw_type_error(env, NULL, "setReplies(replies: ArrayBuffer)");
    return NULL;
  }
  relay* r = ep->relay;
  napi_delete_reference(env, r->replies_ref);
  r->replies_ref = ref;
  r->replies = data;
  r->replies_len = len / 4;
  return NULL;
}

static int target_address(const char* ip, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* a4 = (void*)ss;
  struct sockaddr_in6* a6 = (void*)ss;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
    return 0;
  }
  return -EINVAL;
}

/* Connects session s to ip:port and starts reading its replies; 0 or -errno. */
static int session_connect(endpoint* ep, session* s, const char* ip, int port) {
  struct sockaddr_storage target;
  socklen_t target_len = 0;
  if (target_address(ip, port, &target, &target_len) < 0) return -EINVAL;
  int fd = socket(target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr*)&target, target_len) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  uv_loop_t* loop;
  int rc = napi_get_uv_event_loop(ep->env, &loop) == napi_ok ? uv_poll_init_socket(loop, &s->poll, fd) : -EIO;
  if (rc < 0) {
    close(fd);
    return rc;
  }
  s->poll.data = s;
  s->fd = fd;
  rc = uv_poll_start(&s->poll, UV_READABLE, on_session_poll);
  return rc < 0 ? rc : 0;
}

/*
 * open(id, slot, ip, port): session `id` for the client of datagram `slot` of the batch being
 * handled, connected to ip:port; ip "" only reserves it (connect() later, after a name lookup).
 * 0: it exists until closeSession(id); -errno: it does not (a failed connect closed it).
 */
static napi_value relay_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  int32_t id = -1, slot = -1, port = 0;
  char ip[INET6_ADDRSTRLEN + 1];
  size_t ip_len = 0;
  if (ep == NULL || ep->fd < 0 || ep->relay == NULL) return int_value(env, -EBADF);
  if (argc < 4 || napi_get_value_int32(env, argv[0], &id) != napi_ok || id < 0 || id >= MAX_SESSIONS ||
      napi_get_value_int32(env, argv[1], &slot) != napi_ok || slot < 0 || (uint32_t)slot >= ep->batch ||
      napi_get_value_string_latin1(env, argv[2], ip, sizeof ip, &ip_len) != napi_ok ||
      napi_get_value_int32(env, argv[3], &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_type_error(env, NULL, "open(id, slot, ip, port)");
    return NULL;
  }
  relay* r = ep->relay;
  if ((uint32_t)id >= r->cap) {
    uint32_t cap = r->cap ? r->cap : 1024;
    while (cap <= (uint32_t)id) cap *= 2;
    session** grown = realloc(r->sessions, cap * sizeof *grown);
    if (grown == NULL) return int_value(env, -ENOMEM);
    memset(grown + r->cap, 0, (cap - r->cap) * sizeof *grown);
    r->sessions = grown;
    r->cap = cap;
  }
  if (r->sessions[id] != NULL) return int_value(env, -EEXIST);
  session* s = calloc(1, sizeof *s);
  if (s == NULL) return int_value(env, -ENOMEM);
  s->ep = ep;
  s->fd = -1;
  s->id = id;
  s->peer = ep->peers[slot];
  s->peer_len = ep->rmsgs[slot].msg_hdr.msg_namelen;
  r->sessions[id] = s;
  r->active++;
  r->opened++;
  if ((uint32_t)id < r->replies_len) r->replies[id] = 0;
  if (ip_len == 0) return int_value(env, 0);
  int rc = session_connect(ep, s, ip, port);
  if (rc < 0) session_close(r, s);
  return int_value(env, rc);
}

/* connect(id, ip, port): connects a reserved session; 0 or -errno (it stays reserved: close it). */
static napi_value relay_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  int32_t id = -1, port = 0;
  char ip[INET6_ADDRSTRLEN + 1];
  size_t ip_len = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &id) != napi_ok ||
      napi_get_value_string_latin1(env, argv[1], ip, sizeof ip, &ip_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) {
    napi_throw_type_error(env, NULL, "connect(id, ip, port)");
    return NULL;
  }
  session* s = ep != NULL && ep->fd >= 0 ? session_at(ep->relay, id) : NULL;
  if (s == NULL) return int_value(env, -EBADF);
  if (s->fd >= 0) return int_value(env, -EISCONN);
  return int_value(env, session_connect(ep, s, ip, port));
}

/* sendUpstream(id, data: Uint8Array): one datagram to the session's target; 1 sent, or -errno. */
static napi_value relay_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  int32_t id = -1;
  void* data = NULL;
  size_t len = 0;
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &id) != napi_ok ||
      napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "sendUpstream(id, data: Uint8Array)");
    return NULL;
  }
  session* s = ep != NULL && ep->fd >= 0 ? session_at(ep->relay, id) : NULL;
  if (s == NULL || s->fd < 0) return int_value(env, -EBADF);
  for (;;) {
    ssize_t sent = send(s->fd, data, len, MSG_DONTWAIT);
    if (sent >= 0) {
      ep->relay->forwarded++;
      return int_value(env, 1);
    }
    if (errno != EINTR) {
      ep->relay->forward_dropped++;
      return int_value(env, -errno);
    }
  }
}

/* closeSession(id): ends it (fd closed); false when there was none. */
static napi_value relay_close_session(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  int32_t id = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &id) != napi_ok) {
    napi_throw_type_error(env, NULL, "closeSession(id)");
    return NULL;
  }
  session* s = ep != NULL ? session_at(ep->relay, id) : NULL;
  if (s != NULL) session_close(ep->relay, s);
  napi_get_boolean(env, s != NULL, &out);
  return out;
}

void relay_define(napi_property_descriptor* methods, size_t* count) {
  napi_property_descriptor more[] = {
      {"forwarding", NULL, relay_enable, NULL, NULL, NULL, napi_default, NULL},
      {"setReplies", NULL, relay_set_replies, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, relay_open, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, relay_connect, NULL, NULL, NULL, napi_default, NULL},
      {"sendUpstream", NULL, relay_send, NULL, NULL, NULL, napi_default, NULL},
      {"closeSession", NULL, relay_close_session, NULL, NULL, NULL, napi_default, NULL},
  };
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) methods[(*count)++] = more[i];
}
