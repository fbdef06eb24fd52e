/*
 * A UDP socket read and written in batches: recvmmsg() up to `batch` datagrams per readiness,
 * hand them to JavaScript in one call, and send the answers with one sendmmsg().
 *
 * Memory shared with JavaScript (ArrayBuffers it allocated and we hold references to, so their
 * backing stores stay put):
 *   recv      batch slots of `slot` bytes; datagram i is at i * slot
 *   recvMeta  Int32 pairs per slot: [length (-1: truncated, bigger than a slot), peer port]
 *   peers     a JS Array: peers[i] is datagram i's source address as Node prints it
 *   send      the answers, packed at offsets JavaScript chooses
 *   sendMeta  Int32 triples per answer: [offset in send, length, slot of the peer it goes to]
 * callback(count) runs once per batch and returns how many answers it put in send/sendMeta;
 * callback(-errno) reports a socket error. sendTo() sends one datagram to an explicit peer
 * (answers that come later, after the batch is gone).
 *
 * Sending never blocks: what the kernel does not take now (EAGAIN/ENOBUFS) is copied into a
 * bounded FIFO and sent when the socket is writable; beyond the bound it is dropped and counted.
 *
 * Lifetime follows packages/handoff's endpoint: napi_wrap without finalizer plus a strong
 * reference while open; close() removes the wrap, uv_close()s the poll and closes the fd;
 * on_closed frees everything; an async cleanup hook does the same at env teardown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "endpoint.h"

static void on_poll(uv_poll_t* handle, int status, int events);

napi_value int_value(napi_env env, int32_t v) {
  napi_value out = NULL;
  napi_create_int32(env, v, &out);
  return out;
}

void throw_errno(napi_env env, int err, const char* syscall) {
  char code[32], message[160];
  uv_err_name_r(-err, code, sizeof code);
  snprintf(message, sizeof message, "%s: %s (%s)", syscall, strerror(err), code);
  napi_value js_code, js_message, error;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message) != napi_ok ||
      napi_create_error(env, js_code, js_message, &error) != napi_ok)
    return;
  napi_set_named_property(env, error, "errno", int_value(env, -err));
  napi_value js_syscall;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, error, "syscall", js_syscall);
  napi_throw(env, error);
}

/* ---- the send queue ---- */

static void free_queue(endpoint* ep) {
  queued* q = ep->head;
  while (q != NULL) {
    queued* next = q->next;
    free(q);
    q = next;
  }
  ep->head = ep->tail = NULL;
  ep->queued_count = 0;
  ep->queued_bytes = 0;
}

static void set_writable(endpoint* ep, bool writable) {
  if (ep->fd < 0) return;
  int events = UV_READABLE | (writable ? UV_WRITABLE : 0);
  if (events == ep->events) return;
  if (uv_poll_start(&ep->poll, events, on_poll) == 0) ep->events = events;
}

/* Copies one datagram to the queue's tail, or drops it when the queue is full. */
static void enqueue(endpoint* ep, const uint8_t* data, size_t len, const void* peer, socklen_t peer_len) {
  if (ep->queued_count >= ep->max_queue || ep->queued_bytes + len > ep->max_queue_bytes) {
    ep->dropped++;
    return;
  }
  queued* q = malloc(sizeof *q + len);
  if (q == NULL) {
    ep->dropped++;
    return;
  }
  q->next = NULL;
  memcpy(&q->peer, peer, peer_len);
  q->peer_len = peer_len;
  q->len = len;
  memcpy(q->data, data, len);
  if (ep->tail != NULL) ep->tail->next = q;
  else ep->head = q;
  ep->tail = q;
  ep->queued_count++;
  ep->queued_bytes += len;
  ep->queued_total++;
}

static bool retry_later(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

/* Sends from the queue until it is empty or the kernel says "not now". */
static void flush_queue(endpoint* ep) {
  struct mmsghdr msgs[FLUSH_BATCH];
  struct iovec iov[FLUSH_BATCH];
  while (ep->head != NULL && ep->fd >= 0) {
    unsigned n = 0;
    for (queued* q = ep->head; q != NULL && n < FLUSH_BATCH; q = q->next, n++) {
      iov[n].iov_base = q->data;
      iov[n].iov_len = q->len;
      memset(&msgs[n].msg_hdr, 0, sizeof msgs[n].msg_hdr);
      msgs[n].msg_hdr.msg_name = &q->peer;
      msgs[n].msg_hdr.msg_namelen = q->peer_len;
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(ep->fd, msgs, n, MSG_DONTWAIT);
    int done = r;
    if (r < 0) {
      if (errno == EINTR) continue;
      if (retry_later(errno)) break;
      ep->send_errors++; /* the first one cannot go (EPERM, ENETUNREACH, ...): skip it */
      ep->last_send_errno = errno;
      done = 1;
    } else {
      ep->sent += r;
    }
    for (int i = 0; i < done; i++) {
      queued* q = ep->head;
      ep->head = q->next;
      ep->queued_count--;
      ep->queued_bytes -= q->len;
      free(q);
    }
    if (ep->head == NULL) ep->tail = NULL;
  }
  set_writable(ep, ep->head != NULL);
}

/* Sends `n` prepared messages now; what the kernel does not take goes to the queue. */
void send_now(endpoint* ep, struct mmsghdr* msgs, unsigned n) {
  unsigned at = 0;
  if (ep->head != NULL) goto queue_rest; /* keep order behind what waits already */
  while (at < n) {
    int r = sendmmsg(ep->fd, msgs + at, n - at, MSG_DONTWAIT);
    if (r > 0) {
      ep->sent += r;
      at += r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && retry_later(errno)) {
      break;
    } else {
      ep->send_errors++;
      ep->last_send_errno = r < 0 ? errno : EIO;
      at++;
    }
  }
queue_rest:
  for (; at < n; at++) {
    struct msghdr* h = &msgs[at].msg_hdr;
    enqueue(ep, h->msg_iov->iov_base, h->msg_iov->iov_len, h->msg_name, h->msg_namelen);
  }
  if (ep->head != NULL) set_writable(ep, true);
}

/* The answers JavaScript wrote for this batch. */
static void send_answers(endpoint* ep, int32_t count) {
  if (count <= 0) return;
  if ((uint32_t)count > ep->batch) count = ep->batch;
  unsigned n = 0;
  for (int32_t i = 0; i < count; i++) {
    int32_t off = ep->send_meta[i * 3], len = ep->send_meta[i * 3 + 1], slot = ep->send_meta[i * 3 + 2];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > ep->send_cap || slot < 0 ||
        (uint32_t)slot >= ep->batch) {
      ep->send_errors++;
      ep->last_send_errno = EINVAL;
      continue;
    }
    ep->siov[n].iov_base = ep->send + off;
    ep->siov[n].iov_len = len;
    memset(&ep->smsgs[n].msg_hdr, 0, sizeof ep->smsgs[n].msg_hdr);
    ep->smsgs[n].msg_hdr.msg_name = &ep->peers[slot];
    ep->smsgs[n].msg_hdr.msg_namelen = ep->rmsgs[slot].msg_hdr.msg_namelen;
    ep->smsgs[n].msg_hdr.msg_iov = &ep->siov[n];
    ep->smsgs[n].msg_hdr.msg_iovlen = 1;
    n++;
  }
  send_now(ep, ep->smsgs, n);
}

/* ---- receiving ---- */

/* The peer's address as a string, the way Node's dgram prints it. */
static napi_value peer_string(napi_env env, const struct sockaddr_storage* ss, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* a = (const void*)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* a = (const void*)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  } else {
    *port = 0;
  }
  napi_value s = NULL;
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &s);
  return s;
}

static bool same_address(const struct sockaddr_storage* a, const struct sockaddr_storage* b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in*)a)->sin_addr.s_addr == ((const struct sockaddr_in*)b)->sin_addr.s_addr;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6*)a)->sin6_addr, &((const struct sockaddr_in6*)b)->sin6_addr,
                  16) == 0;
  return false;
}

/* Calls the JavaScript callback; returns what it returned (an int), or 0 if it threw. */
static int32_t emit(endpoint* ep, int32_t arg) {
  napi_env env = ep->env;
  napi_value fn, recv, argv[1] = {int_value(env, arg)}, result;
  if (napi_get_reference_value(env, ep->callback, &fn) != napi_ok || fn == NULL) return 0;
  napi_get_undefined(env, &recv);
  if (napi_call_function(env, recv, fn, 1, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
    return 0;
  }
  int32_t replies = 0;
  if (napi_get_value_int32(env, result, &replies) != napi_ok) return 0;
  return replies;
}

static void read_batches(endpoint* ep) {
  napi_env env = ep->env;
  napi_value peers;
  if (napi_get_reference_value(env, ep->peers_ref, &peers) != napi_ok) return;
  for (int round = 0; round < READ_ROUNDS && ep->fd >= 0; round++) {
    for (uint32_t i = 0; i < ep->batch; i++) {
      ep->rmsgs[i].msg_hdr.msg_namelen = sizeof ep->peers[i];
      ep->rmsgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(ep->fd, ep->rmsgs, ep->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      ep->recv_errors++; /* e.g. ECONNREFUSED queued by ICMP: nothing to read, keep serving */
      return;
    }
    if (n == 0) return;
    ep->received += n;
    ep->batches++;
    if (ep->relay != NULL) relay_peers(ep, n); /* raw peers in shared memory, no string */
    napi_value last = NULL;
    for (int i = 0; i < n && ep->relay == NULL; i++) {
      int port = 0;
      napi_value address;
      if (last != NULL && same_address(&ep->peers[i], &ep->peers[i - 1])) {
        address = last;
        port = ntohs(ep->peers[i].ss_family == AF_INET ? ((struct sockaddr_in*)&ep->peers[i])->sin_port
                                                        : ((struct sockaddr_in6*)&ep->peers[i])->sin6_port);
      } else {
        address = peer_string(env, &ep->peers[i], &port);
      }
      last = address;
      napi_set_element(env, peers, i, address);
      bool truncated = (ep->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      if (truncated) ep->truncated++;
      ep->recv_meta[i * 2] = truncated ? -1 : (int32_t)ep->rmsgs[i].msg_len;
      ep->recv_meta[i * 2 + 1] = port;
    }
    int32_t replies = emit(ep, n);
    if (ep->fd < 0) return; /* closed by the callback */
    send_answers(ep, replies);
    if (ep->relay != NULL) relay_forward(ep, n);
    if (ep->fd < 0) return; /* closed by a session error's callback */
    if ((uint32_t)n < ep->batch) return; /* drained */
  }
}

/* ---- lifecycle ---- */

static void release_references(endpoint* ep) {
  napi_env env = ep->env;
  relay_release(ep);
  if (ep->async != NULL) napi_async_destroy(env, ep->async);
  ep->async = NULL;
  napi_ref* refs[] = {&ep->callback, &ep->recv_ref, &ep->recv_meta_ref, &ep->send_ref,
                      &ep->send_meta_ref, &ep->peers_ref, &ep->self};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(env, *refs[i]);
    *refs[i] = NULL;
  }
}

static void free_endpoint(endpoint* ep) {
  relay_free(ep);
  free_queue(ep);
  free(ep->peers);
  free(ep->rmsgs);
  free(ep->riov);
  free(ep->smsgs);
  free(ep->siov);
  free(ep);
}

static void on_closed(uv_handle_t* handle) {
  endpoint* ep = handle->data;
  if (!ep->teardown) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(ep->env, &scope) == napi_ok) {
      release_references(ep);
      napi_close_handle_scope(ep->env, scope);
    }
  }
  if (ep->cleanup != NULL) napi_remove_async_cleanup_hook(ep->cleanup);
  free_endpoint(ep);
}

static void shutdown_endpoint(endpoint* ep) {
  if (ep->fd < 0) return;
  relay_shutdown(ep); /* every session's fd closes with the shared socket */
  ep->events = 0;
  uv_close((uv_handle_t*)&ep->poll, on_closed);
  close(ep->fd);
  ep->fd = -1;
  free_queue(ep); /* datagrams not sent by now are gone, as with any closed UDP socket */
}

static void cleanup_hook(napi_async_cleanup_hook_handle handle, void* arg) {
  endpoint* ep = arg;
  ep->teardown = 1;
  shutdown_endpoint(ep);
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  endpoint* ep = handle->data;
  if (ep->fd < 0) return;
  napi_env env = ep->env;
  napi_handle_scope scope;
  napi_callback_scope callback_scope;
  napi_value resource;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, ep->self, &resource) != napi_ok ||
      napi_open_callback_scope(env, resource, ep->async, &callback_scope) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  if (status < 0) {
    int err = -status, pending = 0;
    socklen_t len = sizeof pending;
    if (getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &pending, &len) == 0 && pending != 0) err = pending;
    ep->events = 0; /* libuv stopped the handle */
    set_writable(ep, ep->head != NULL);
    emit(ep, -err);
  } else {
    if (events & UV_WRITABLE) flush_queue(ep);
    if ((events & UV_READABLE) && ep->fd >= 0) read_batches(ep);
  }
  napi_close_callback_scope(env, callback_scope); /* runs process.nextTick queue and microtasks */
  napi_close_handle_scope(env, scope);
}

endpoint* this_endpoint(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}

static bool buffer_arg(napi_env env, napi_value v, void** data, size_t* len, napi_ref* ref) {
  bool is = false;
  if (napi_is_arraybuffer(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_arraybuffer_info(env, v, data, len) != napi_ok) return false;
  return napi_create_reference(env, v, 1, ref) == napi_ok;
}

/*
 * new UdpBatch(fd, recv: ArrayBuffer, recvMeta: ArrayBuffer, send: ArrayBuffer, sendMeta: ArrayBuffer,
 *              peers: Array, slot: number, batch: number, maxQueue: number, maxQueueBytes: number,
 *              callback: (count: number) => number)
 * Takes ownership of fd only if it returns.
 */
static napi_value endpoint_new(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11], self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  int32_t fd = -1, slot = 0, batch = 0, max_queue = 0;
  int64_t max_queue_bytes = 0;
  bool is_array = false;
  napi_valuetype cb_type = napi_undefined;
  if (argc < 11 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_array(env, argv[5], &is_array) != napi_ok || !is_array ||
      napi_get_value_int32(env, argv[6], &slot) != napi_ok || slot < 512 || slot > 65536 ||
      napi_get_value_int32(env, argv[7], &batch) != napi_ok || batch < 1 || batch > MAX_BATCH ||
      napi_get_value_int32(env, argv[8], &max_queue) != napi_ok || max_queue < 0 ||
      napi_get_value_int64(env, argv[9], &max_queue_bytes) != napi_ok || max_queue_bytes < 0 ||
      napi_typeof(env, argv[10], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "new UdpBatch(fd, recv, recvMeta, send, sendMeta, peers, slot, batch, "
                                     "maxQueue, maxQueueBytes, callback)");
    return NULL;
  }
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  int type = 0;
  socklen_t type_len = sizeof type;
  if (getsockname(fd, (struct sockaddr*)&local, &local_len) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0) {
    throw_errno(env, errno, "getsockname");
    return NULL;
  }
  if (type != SOCK_DGRAM || (local.ss_family != AF_INET && local.ss_family != AF_INET6)) {
    throw_errno(env, ENOTSUP, "UdpBatch: not a UDP socket");
    return NULL;
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;

  endpoint* ep = calloc(1, sizeof *ep);
  if (ep == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  ep->env = env;
  ep->fd = -1;
  ep->family = local.ss_family;
  ep->poll.data = ep;
  ep->batch = batch;
  ep->slot = slot;
  ep->max_queue = max_queue;
  ep->max_queue_bytes = max_queue_bytes;
  size_t recv_len = 0, recv_meta_len = 0, send_meta_len = 0;
  void *recv = NULL, *recv_meta = NULL, *send = NULL, *send_meta = NULL;
  napi_value name;
  napi_create_string_utf8(env, "UdpBatch", NAPI_AUTO_LENGTH, &name);
  ep->peers = calloc(batch, sizeof *ep->peers);
  ep->rmsgs = calloc(batch, sizeof *ep->rmsgs);
  ep->riov = calloc(batch, sizeof *ep->riov);
  ep->smsgs = calloc(batch, sizeof *ep->smsgs);
  ep->siov = calloc(batch, sizeof *ep->siov);
  bool ok = ep->peers && ep->rmsgs && ep->riov && ep->smsgs && ep->siov &&
            buffer_arg(env, argv[1], &recv, &recv_len, &ep->recv_ref) &&
            buffer_arg(env, argv[2], &recv_meta, &recv_meta_len, &ep->recv_meta_ref) &&
            buffer_arg(env, argv[3], &send, &ep->send_cap, &ep->send_ref) &&
            buffer_arg(env, argv[4], &send_meta, &send_meta_len, &ep->send_meta_ref) &&
            recv_len >= (size_t)batch * slot && recv_meta_len >= (size_t)batch * 2 * sizeof(int32_t) &&
            send_meta_len >= (size_t)batch * 3 * sizeof(int32_t) &&
            napi_create_reference(env, argv[5], 1, &ep->peers_ref) == napi_ok &&
            napi_create_reference(env, argv[10], 1, &ep->callback) == napi_ok &&
            napi_async_init(env, self, name, &ep->async) == napi_ok &&
            napi_create_reference(env, self, 1, &ep->self) == napi_ok;
  if (!ok) {
    release_references(ep);
    free_endpoint(ep);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_type_error(env, NULL, "UdpBatch: buffers too small for slot * batch");
    return NULL;
  }
  ep->recv = recv;
  ep->recv_meta = recv_meta;
  ep->send = send;
  ep->send_meta = send_meta;
  for (int32_t i = 0; i < batch; i++) {
    ep->riov[i].iov_base = ep->recv + (size_t)i * slot;
    ep->riov[i].iov_len = slot;
    ep->rmsgs[i].msg_hdr.msg_name = &ep->peers[i];
    ep->rmsgs[i].msg_hdr.msg_iov = &ep->riov[i];
    ep->rmsgs[i].msg_hdr.msg_iovlen = 1;
  }
  int rc = uv_poll_init_socket(loop, &ep->poll, fd);
  if (rc < 0) {
    release_references(ep);
    free_endpoint(ep);
    throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  rc = uv_poll_start(&ep->poll, UV_READABLE, on_poll);
  if (rc < 0 || napi_wrap(env, self, ep, NULL, NULL, NULL) != napi_ok) {
    uv_close((uv_handle_t*)&ep->poll, on_closed);
    if (rc < 0) throw_errno(env, -rc, "uv_poll_start");
    return NULL;
  }
  ep->events = UV_READABLE;
  ep->fd = fd;
  if (napi_add_async_cleanup_hook(env, cleanup_hook, ep, &ep->cleanup) != napi_ok) ep->cleanup = NULL;
  return self;
}

/* Fills a sockaddr for this socket's family from an IP literal; 0 or -errno. */
static int make_peer(endpoint* ep, const char* address, int port, struct sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  struct in_addr v4;
  struct in6_addr v6;
  bool is_v4 = inet_pton(AF_INET, address, &v4) == 1;
  bool is_v6 = !is_v4 && inet_pton(AF_INET6, address, &v6) == 1;
  if (!is_v4 && !is_v6) return -EINVAL;
  if (ep->family == AF_INET6) {
    struct sockaddr_in6* a = (void*)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (is_v4) { /* a dual-stack socket reaches IPv4 peers as ::ffff:a.b.c.d */
      a->sin6_addr.s6_addr[10] = 0xff;
      a->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
    } else {
      a->sin6_addr = v6;
    }
    *len = sizeof *a;
    return 0;
  }
  struct sockaddr_in* a = (void*)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  if (is_v6) {
    if (!IN6_IS_ADDR_V4MAPPED(&v6)) return -EAFNOSUPPORT;
    memcpy(&a->sin_addr, &v6.s6_addr[12], 4);
  } else {
    a->sin_addr = v4;
  }
  *len = sizeof *a;
  return 0;
}

/* sendTo(data: Uint8Array, address: string, port: number): 1 sent, 0 queued, -errno (not sent). */
static napi_value endpoint_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  endpoint* ep = this_endpoint(env, info, &argc, argv);
  if (ep == NULL || ep->fd < 0) return int_value(env, -EBADF);
  void* data = NULL;
  size_t len = 0;
  bool is_typed = false;
  char address[INET6_ADDRSTRLEN + 1];
  size_t address_len = 0;
  int32_t port = 0;
  napi_typedarray_type ta_type;
  napi_value ab;
  size_t ab_offset;
  if (argc < 3 || napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &ta_type, &len, &data, &ab, &ab_offset) != napi_ok ||
      ta_type != napi_uint8_array ||
      napi_get_value_string_latin1(env, argv[1], address, sizeof address, &address_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535) {
    napi_throw_type_error(env, NULL, "sendTo(data: Uint8Array, address: string, port: number)");
    return NULL;
  }
  struct sockaddr_storage peer;
  socklen_t peer_len = 0;
  int rc = make_peer(ep, address, port, &peer, &peer_len);
  if (rc < 0) return int_value(env, rc);
  if (ep->head != NULL) {
    double dropped = ep->dropped;
    enqueue(ep, data, len, &peer, peer_len);
    return int_value(env, ep->dropped > dropped ? -ENOBUFS : 0);
  }
  for (;;) {
    ssize_t r = sendto(ep->fd, data, len, MSG_DONTWAIT, (struct sockaddr*)&peer, peer_len);
    if (r >= 0) {
      ep->sent++;
      return int_value(env, 1);
    }
    if (errno == EINTR) continue;
    if (!retry_later(errno)) {
      ep->send_errors++;
      ep->last_send_errno = errno;
      return int_value(env, -errno);
    }
    double dropped = ep->dropped;
    enqueue(ep, data, len, &peer, peer_len);
    set_writable(ep, ep->head != NULL);
    return int_value(env, ep->dropped > dropped ? -ENOBUFS : 0);
  }
}

void set_number(napi_env env, napi_value obj, const char* key, double v) {
  napi_value value;
  napi_create_double(env, v, &value);
  napi_set_named_property(env, obj, key, value);
}

/* stats(): counters since construction, and the queue right now. */
static napi_value endpoint_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint* ep = this_endpoint(env, info, &argc, NULL);
  napi_value out;
  napi_create_object(env, &out);
  if (ep == NULL) return out;
  set_number(env, out, "received", ep->received);
  set_number(env, out, "batches", ep->batches);
  set_number(env, out, "sent", ep->sent);
  set_number(env, out, "queuedTotal", ep->queued_total);
  set_number(env, out, "queued", ep->queued_count);
  set_number(env, out, "queuedBytes", (double)ep->queued_bytes);
  set_number(env, out, "dropped", ep->dropped);
  set_number(env, out, "truncated", ep->truncated);
  set_number(env, out, "sendErrors", ep->send_errors);
  set_number(env, out, "recvErrors", ep->recv_errors);
  set_number(env, out, "lastSendErrno", ep->last_send_errno);
  relay_stats(ep, out);
  return out;
}

static napi_value endpoint_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_remove_wrap(env, self, &data) != napi_ok || data == NULL) return NULL;
  shutdown_endpoint(data);
  return NULL;
}

static napi_value endpoint_ref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint* ep = this_endpoint(env, info, &argc, NULL);
  if (ep != NULL && ep->fd >= 0) uv_ref((uv_handle_t*)&ep->poll);
  return NULL;
}

static napi_value endpoint_unref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint* ep = this_endpoint(env, info, &argc, NULL);
  if (ep != NULL && ep->fd >= 0) uv_unref((uv_handle_t*)&ep->poll);
  return NULL;
}

/* udpSocket(host: string, port: number, sendBufferSize: number): fd — a bound, non-blocking UDP
 * socket (close-on-exec), for tests and tools; sendBufferSize 0 keeps the kernel default. */
static napi_value udp_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len;
  int32_t port = 0, sndbuf = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_string_latin1(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535 ||
      napi_get_value_int32(env, argv[2], &sndbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "udpSocket(host: string, port: number, sendBufferSize: number)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  endpoint fake = {.family = strchr(host, ':') ? AF_INET6 : AF_INET};
  if (make_peer(&fake, host, port, &ss, &len) < 0) {
    throw_errno(env, EINVAL, "udpSocket: not an IP address");
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket");
    return NULL;
  }
  if ((sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0) ||
      bind(fd, (struct sockaddr*)&ss, len) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "bind");
    return NULL;
  }
  return int_value(env, fd);
}

/* localPort(fd): the port a socket is bound to. */
static napi_value local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "localPort(fd: number)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &len) < 0) {
    throw_errno(env, errno, "getsockname");
    return NULL;
  }
  int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in*)&ss)->sin_port)
                                     : ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
  return int_value(env, port);
}

/* closeFd(fd): 0 or -errno, for an fd no UdpBatch took. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "closeFd(fd: number)");
    return NULL;
  }
  return int_value(env, close(fd) < 0 ? -errno : 0);
}

static void set_function(napi_env env, napi_value target, const char* name, napi_callback fn) {
  napi_value value;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok)
    napi_set_named_property(env, target, name, value);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[16] = {
      {"sendTo", NULL, endpoint_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, endpoint_stats, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, endpoint_ref, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, endpoint_unref, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, endpoint_close, NULL, NULL, NULL, napi_default, NULL},
  };
  size_t count = 5;
  relay_define(methods, &count);
  napi_value cls;
  if (napi_define_class(env, "UdpBatch", NAPI_AUTO_LENGTH, endpoint_new, NULL, count, methods, &cls) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "UdpBatch", cls);
  set_function(env, exports, "udpSocket", udp_socket);
  set_function(env, exports, "localPort", local_port);
  set_function(env, exports, "closeFd", close_fd);
  napi_value max_batch;
  napi_create_int32(env, MAX_BATCH, &max_batch);
  napi_set_named_property(env, exports, "MAX_BATCH", max_batch);
  return exports;
}
