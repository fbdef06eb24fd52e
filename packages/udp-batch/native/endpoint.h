/*
 * The endpoint (udp-batch.c) as the relay's session table (udp-relay.c) sees it: one shared UDP
 * socket read with recvmmsg, written with sendmmsg, and, when forwarding() was called, the
 * upstream sessions whose replies leave from it.
 */
#ifndef SWITCHYARD_UDP_ENDPOINT_H
#define SWITCHYARD_UDP_ENDPOINT_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define MAX_BATCH 1024
#define READ_ROUNDS 8   /* batches per readiness before the loop gets its turn again */
#define FLUSH_BATCH 64  /* queued datagrams per sendmmsg */

typedef struct queued {
  struct queued* next;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  size_t len;
  uint8_t data[];
} queued;

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int family;
  int events;
  int teardown;
  napi_ref self, callback, recv_ref, recv_meta_ref, send_ref, send_meta_ref, peers_ref;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;

  uint8_t* recv;
  int32_t* recv_meta;
  uint8_t* send;
  size_t send_cap;
  int32_t* send_meta;
  uint32_t batch;
  uint32_t slot;
  struct sockaddr_storage* peers;
  struct mmsghdr* rmsgs;
  struct iovec* riov;
  struct mmsghdr* smsgs;
  struct iovec* siov;

  queued* head;
  queued* tail;
  uint32_t queued_count, max_queue;
  size_t queued_bytes, max_queue_bytes;

  double received, batches, sent, queued_total, dropped, truncated, send_errors, recv_errors;
  int last_send_errno;

  struct relay* relay; /* udp-relay.c: sessions, NULL until forwarding() */
} endpoint;

/* udp-batch.c */
napi_value int_value(napi_env env, int32_t v);
void throw_errno(napi_env env, int err, const char* syscall);
endpoint* this_endpoint(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv);
void send_now(endpoint* ep, struct mmsghdr* msgs, unsigned n);
void set_number(napi_env env, napi_value obj, const char* key, double v);

/* udp-relay.c */
void relay_peers(endpoint* ep, int n);
void relay_forward(endpoint* ep, int n);
void relay_shutdown(endpoint* ep);
void relay_release(endpoint* ep);
void relay_free(endpoint* ep);
void relay_stats(endpoint* ep, napi_value out);
void relay_define(napi_property_descriptor* methods, size_t* count);

#endif


