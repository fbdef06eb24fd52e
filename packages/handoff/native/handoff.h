/*
 * Shared declarations of the handoff addon.
 *
 * One native type, the endpoint: a listening or a connected AF_UNIX SOCK_SEQPACKET socket
 * whose readiness is watched by a libuv poll handle on the env's own loop. JavaScript sees it
 * as `new Endpoint(fd, kind, callback)`; everything it notices is reported through
 * `callback(event, ...)` with the EV_* codes below.
 *
 * Fd ownership, in one place:
 *   - An endpoint owns its socket fd from the moment its constructor returns until close()
 *     (or env teardown) closes it. If the constructor throws, the caller still owns the fd.
 *   - A method called on a closed endpoint finds no struct behind the object (the wrap is
 *     removed at close) and does nothing; send() answers -EBADF.
 *   - Fds passed to send() stay owned by the caller: sendmsg() copies them into the kernel.
 *   - Fds received (SCM_RIGHTS) are owned by the addon until handed to JavaScript in an
 *     EV_MESSAGE; on any path where they are not handed over, the addon closes them.
 *   - Fds accepted by a listener are handed to JavaScript in EV_ACCEPT, or closed here.
 *   - Fds accepted by a TCP acceptor (tcp-acceptor.c) are handed to JavaScript in one
 *     EV_TCP_ACCEPT per batch, or all closed here if the batch never reaches JavaScript. Once
 *     delivered, every fd of the batch is JavaScript's (src/tcp-acceptor.ts closes the ones it
 *     does not hand on).
 */
#ifndef HANDOFF_H
#define HANDOFF_H

#include <node_api.h>
#include <uv.h>

#define HANDOFF_MAX_DATA 65536 /* bytes of data in one message */
#define HANDOFF_MAX_FDS 16     /* fds in one message */
#define HANDOFF_BATCH 64       /* messages read (or connections accepted) per readiness event */
#define TCP_ACCEPT_BATCH 128   /* TCP connections accepted per readiness event, in one EV_TCP_ACCEPT */
#define TCP_ACCEPT_FIELDS 5    /* values per connection in an EV_TCP_ACCEPT batch */

enum endpoint_kind { KIND_CHANNEL = 0, KIND_LISTENER = 1, KIND_TCP_ACCEPTOR = 2 };

/* First argument of the JavaScript callback. */
enum endpoint_event {
  EV_MESSAGE = 1,  /* (data: Buffer, fds: number[] | undefined) */
  EV_WRITABLE = 2, /* () the socket can take more messages */
  EV_EOF = 3,      /* () the peer hung up */
  EV_ERROR = 4,    /* (err: Error) a system call failed */
  EV_PROTOCOL = 5, /* (reason: string, bytes: number, fds: number) a bad message was dropped */
  EV_ACCEPT = 6,   /* (fd: number) a listener accepted a connection */
  EV_TCP_ACCEPT = 7, /* (batch: Array) a TCP acceptor accepted connections: per connection
                      * fd, remoteAddress, remotePort, localAddress, localPort (flat) */
};

typedef struct endpoint {
  uv_poll_t poll;          /* poll.data points back at this struct */
  napi_env env;
  int fd;                  /* -1 when not owned (closed, or not yet set up) */
  int kind;                /* enum endpoint_kind */
  int events;              /* UV_READABLE | UV_WRITABLE being polled; 0 when stopped */
  int teardown;            /* the env is being torn down: it may be gone in on_closed */
  napi_async_cleanup_hook_handle cleanup; /* removed by on_closed, which Node waits for */
  napi_ref self;           /* strong while open: an open endpoint is never collected */
  napi_ref callback;       /* the JavaScript event callback */
  napi_async_context async;
  unsigned char* recv_buf; /* the env's receive buffer, HANDOFF_MAX_DATA bytes */
  napi_ref local_address;  /* TCP acceptor bound to one address (not a wildcard): the array
                            * [address text, port], so accepted connections need no
                            * getsockname(); NULL otherwise */
} endpoint;

/* errors.c */
napi_value handoff_errno_error(napi_env env, int err, const char* syscall);
void handoff_throw_errno(napi_env env, int err, const char* syscall);
napi_value handoff_errno_error_js(napi_env env, napi_callback_info info);
napi_value handoff_int(napi_env env, int value);

/* endpoint.c */
napi_value handoff_define_endpoint(napi_env env);
endpoint* handoff_endpoint_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv);
enum emit_result { EMIT_OK = 0, EMIT_THREW = -1, EMIT_NOT_RUN = -2 };
int handoff_emit(endpoint* ep, size_t argc, napi_value* argv);
void handoff_emit_error(endpoint* ep, int err, const char* syscall);

/* channel-io.c */
napi_value handoff_channel_send(napi_env env, napi_callback_info info);
napi_value handoff_peer_credentials(napi_env env, napi_callback_info info);
void handoff_channel_readable(endpoint* ep);
void handoff_channel_hangup(endpoint* ep);

/* listener-io.c */
void handoff_listener_readable(endpoint* ep);
napi_value handoff_listen(napi_env env, napi_callback_info info);
napi_value handoff_connect(napi_env env, napi_callback_info info);
napi_value handoff_close_fd(napi_env env, napi_callback_info info);
napi_value handoff_unlink_socket(napi_env env, napi_callback_info info);

/* tcp-acceptor.c */
napi_value handoff_tcp_listen(napi_env env, napi_callback_info info);
int handoff_tcp_setup(endpoint* ep, int fd);
void handoff_tcp_readable(endpoint* ep);

/* notify-io.c */
napi_value handoff_notify_send(napi_env env, napi_callback_info info);
napi_value handoff_datagram_bind(napi_env env, napi_callback_info info);
napi_value handoff_datagram_receive(napi_env env, napi_callback_info info);

#endif
