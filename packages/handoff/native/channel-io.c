/*
 * Messages on a connected SOCK_SEQPACKET socket: one sendmsg() per send, a bounded batch of
 * recvmsg() per readiness event. Neither path allocates in C: the control buffers live on
 * the stack and received data lands in the env's receive buffer before it is copied into the
 * Buffer handed to JavaScript.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff.h"

/* Room for HANDOFF_MAX_FDS descriptors in one SCM_RIGHTS message, suitably aligned. */
typedef union {
  struct cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
} fd_control;

/* send(data: Uint8Array, fds: number[] | undefined): 0 when the kernel took the message,
 * otherwise -errno (-EAGAIN: try again when writable). Throws on invalid arguments. */
napi_value handoff_channel_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  endpoint* ep = handoff_endpoint_this(env, info, &argc, argv);
  if (ep == NULL) return handoff_int(env, -EBADF); /* closed */

  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  bool is_typed_array = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "handoff: data must be a Uint8Array");
    return NULL;
  }
  if (length > HANDOFF_MAX_DATA) {
    napi_throw_range_error(env, NULL, "handoff: message data is larger than 65536 bytes");
    return NULL;
  }

  fd_control control;
  uint32_t nfds = 0;
  napi_valuetype fds_type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &fds_type);
  if (fds_type != napi_undefined && fds_type != napi_null) {
    bool is_array = false;
    if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
        napi_get_array_length(env, argv[1], &nfds) != napi_ok) {
      napi_throw_type_error(env, NULL, "handoff: fds must be an array of numbers");
      return NULL;
    }
    if (nfds > HANDOFF_MAX_FDS) {
      napi_throw_range_error(env, NULL, "handoff: more than 16 fds in one message");
      return NULL;
    }
    int* out = (int*)CMSG_DATA(&control.align);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value element;
      int32_t fd = -1;
      if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
          napi_get_value_int32(env, element, &fd) != napi_ok || fd < 0) {
        napi_throw_type_error(env, NULL, "handoff: every fd must be a non-negative integer");
        return NULL;
      }
      memcpy(out + i, &fd, sizeof fd);
    }
  }
  if (length == 0 && nfds == 0) {
    /* On SEQPACKET a zero-length message reads exactly like end-of-file. */
    napi_throw_range_error(env, NULL, "handoff: a message needs data or fds");
    return NULL;
  }
  if (ep->fd < 0) return handoff_int(env, -EBADF);

  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.bytes;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
  }
  ssize_t sent;
  do sent = sendmsg(ep->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  /* SEQPACKET is all or nothing: a message is never partly sent. */
  return handoff_int(env, sent < 0 ? -(errno == EWOULDBLOCK ? EAGAIN : errno) : 0);
}

/* peerCredentials(fd): { pid, uid, gid } of the process at the other end, from SO_PEERCRED.
 * A free function, so that it can run before an Endpoint takes ownership of the fd. */
napi_value handoff_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peerCredentials(fd: non-negative integer)");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    handoff_throw_errno(env, errno, "getsockopt");
    return NULL;
  }
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "pid", handoff_int(env, cred.pid));
  napi_set_named_property(env, result, "uid", handoff_int(env, (int)cred.uid));
  napi_set_named_property(env, result, "gid", handoff_int(env, (int)cred.gid));
  return result;
}

static void close_fds(const int* fds, int count) {
  for (int i = 0; i < count; i++) close(fds[i]);
}

/* Collects the SCM_RIGHTS fds of a received message into fds[HANDOFF_MAX_FDS]. Returns how
 * many; any beyond the limit (only possible from a peer that is not us) are closed and
 * reported through *overflow. */
static int collect_fds(struct msghdr* msg, int* fds, int* overflow) {
  int count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, data + i * sizeof(int), sizeof fd); /* cmsg data may be unaligned */
      if (count < HANDOFF_MAX_FDS) {
        fds[count++] = fd;
      } else {
        close(fd);
        (*overflow)++;
      }
    }
  }
  return count;
}

static void emit_protocol_error(endpoint* ep, const char* reason, ssize_t bytes, int nfds) {
  napi_env env = ep->env;
  napi_value argv[4];
  argv[0] = handoff_int(env, EV_PROTOCOL);
  napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &argv[1]);
  argv[2] = handoff_int(env, (int)bytes);
  argv[3] = handoff_int(env, nfds);
  handoff_emit(ep, 4, argv);
}

/* Hands one message to JavaScript. On failure before the call the fds are closed here. */
static int emit_message(endpoint* ep, size_t length, const int* fds, int nfds) {
  napi_env env = ep->env;
  napi_value argv[3];
  argv[0] = handoff_int(env, EV_MESSAGE);
  if (napi_create_buffer_copy(env, length, ep->recv_buf, NULL, &argv[1]) != napi_ok) goto fail;
  if (nfds == 0) {
    napi_get_undefined(env, &argv[2]);
  } else {
    if (napi_create_array_with_length(env, nfds, &argv[2]) != napi_ok) goto fail;
    for (int i = 0; i < nfds; i++)
      if (napi_set_element(env, argv[2], i, handoff_int(env, fds[i])) != napi_ok) goto fail;
  }
  int result = handoff_emit(ep, 3, argv);
  if (result != EMIT_NOT_RUN) return result; /* JavaScript owns the fds now, even if it threw */
fail:
  close_fds(fds, nfds);
  return -1;
}

/* The peer hung up. JavaScript closes the endpoint; if it did not, stop polling so that a
 * level-triggered EOF cannot spin the loop. */
void handoff_channel_hangup(endpoint* ep) {
  napi_value argv[1] = {handoff_int(ep->env, EV_EOF)};
  handoff_emit(ep, 1, argv);
  if (ep->fd >= 0 && ep->events != 0) {
    uv_poll_stop(&ep->poll);
    ep->events = 0;
  }
}

/* Reads up to HANDOFF_BATCH messages; stops early on EAGAIN, EOF, an error, or close().
 * After a full batch the poll (level-triggered) calls again on the next loop iteration. */
void handoff_channel_readable(endpoint* ep) {
  bool reset = false;
  for (int i = 0; i < HANDOFF_BATCH && ep->fd >= 0; i++) {
    fd_control control;
    struct iovec iov = {.iov_base = ep->recv_buf, .iov_len = HANDOFF_MAX_DATA};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control};
    ssize_t n;
    do n = recvmsg(ep->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == ECONNRESET) {
        /* The peer went away with our messages unread. The kernel reports that once, ahead of
         * the messages it sent before it closed: read on, they come next, then EOF. */
        if (!reset) {
          reset = true;
          continue;
        }
        handoff_channel_hangup(ep);
        return;
      }
      handoff_emit_error(ep, err, "recvmsg");
      return;
    }
    int fds[HANDOFF_MAX_FDS];
    int overflow = 0;
    int nfds = collect_fds(&msg, fds, &overflow);
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || overflow > 0) {
      close_fds(fds, nfds); /* a message we cannot deliver whole is not delivered at all */
      const char* reason = (msg.msg_flags & MSG_TRUNC) ? "message larger than 65536 bytes"
                                                       : "message carried more than 16 fds";
      emit_protocol_error(ep, reason, n, nfds + overflow);
      continue;
    }
    if (n == 0 && nfds == 0) { /* end of file: we never send zero-length messages */
      handoff_channel_hangup(ep);
      return;
    }
    if (emit_message(ep, (size_t)n, fds, nfds) < 0) return;
  }
}
