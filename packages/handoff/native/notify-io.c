/*
 * Datagrams on AF_UNIX SOCK_DGRAM, for systemd's notify protocol (sd_notify(3)).
 *
 *   notifySend(address, data, fds) -> 0 or -errno: one non-blocking sendmsg() on a fresh
 *     socket to `address` (a path, or an abstract name when it starts with '@'), with the fds
 *     attached (SCM_RIGHTS) when there are any. The fds stay the caller's.
 *   datagramBind(address) -> fd: a bound, non-blocking, close-on-exec SOCK_DGRAM socket that
 *     receives credentials (SO_PASSCRED), the receiving side of the protocol (tests).
 *   datagramReceive(fd) -> { data, fds, pid } | null (nothing waiting) | throws: one datagram;
 *     the fds received become the caller's.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"

/* Fills `addr` for a path or an '@' abstract name; returns the address length or -errno. */
static int notify_address(const char* address, size_t len, struct sockaddr_un* addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (len == 0 || len >= sizeof(addr->sun_path)) return -EINVAL;
  memcpy(addr->sun_path, address, len);
  if (address[0] == '@') {
    addr->sun_path[0] = '\0'; /* abstract: no terminating NUL counted */
    return (int)(offsetof(struct sockaddr_un, sun_path) + len);
  }
  return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

static int read_address(napi_env env, napi_value value, char* buf, size_t size, size_t* len) {
  return napi_get_value_string_utf8(env, value, buf, size, len) == napi_ok ? 0 : -EINVAL;
}

napi_value handoff_notify_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char address[sizeof(((struct sockaddr_un*)0)->sun_path) + 1];
  size_t address_len = 0;
  if (argc < 2 || read_address(env, argv[0], address, sizeof(address), &address_len) != 0)
    return handoff_int(env, -EINVAL);
  struct sockaddr_un addr;
  int addr_len = notify_address(address, address_len, &addr);
  if (addr_len < 0) return handoff_int(env, addr_len);

  void* data = NULL;
  size_t data_len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[1], &data, &data_len) != napi_ok)
    return handoff_int(env, -EINVAL);

  int fds[HANDOFF_MAX_FDS];
  uint32_t nfds = 0;
  if (argc >= 3) {
    bool is_array = false;
    napi_is_array(env, argv[2], &is_array);
    if (is_array) {
      napi_get_array_length(env, argv[2], &nfds);
      if (nfds > HANDOFF_MAX_FDS) return handoff_int(env, -E2BIG);
      for (uint32_t i = 0; i < nfds; i++) {
        napi_value v;
        int32_t fd = -1;
        napi_get_element(env, argv[2], i, &v);
        if (napi_get_value_int32(env, v, &fd) != napi_ok || fd < 0) return handoff_int(env, -EBADF);
        fds[i] = fd;
      }
    }
  }

  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0) return handoff_int(env, -errno);
  struct iovec iov = { .iov_base = data, .iov_len = data_len };
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg = { .msg_name = &addr, .msg_namelen = (socklen_t)addr_len, .msg_iov = &iov, .msg_iovlen = 1 };
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  int result = n < 0 ? -errno : 0;
  close(sock);
  return handoff_int(env, result);
}

napi_value handoff_datagram_bind(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char address[sizeof(((struct sockaddr_un*)0)->sun_path) + 1];
  size_t address_len = 0;
  struct sockaddr_un addr;
  int addr_len = argc < 1 || read_address(env, argv[0], address, sizeof(address), &address_len) != 0
                     ? -EINVAL
                     : notify_address(address, address_len, &addr);
  if (addr_len < 0) {
    handoff_throw_errno(env, -addr_len, "bind");
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    handoff_throw_errno(env, errno, "socket");
    return NULL;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
      bind(fd, (struct sockaddr*)&addr, (socklen_t)addr_len) < 0) {
    int err = errno;
    close(fd);
    handoff_throw_errno(env, err, "bind");
    return NULL;
  }
  return handoff_int(env, fd);
}

napi_value handoff_datagram_receive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    handoff_throw_errno(env, EBADF, "recvmsg");
    return NULL;
  }
  unsigned char* buf = NULL;
  napi_get_instance_data(env, (void**)&buf);
  struct iovec iov = { .iov_base = buf, .iov_len = HANDOFF_MAX_DATA };
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
  } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  napi_value result;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &result);
      return result;
    }
    handoff_throw_errno(env, errno, "recvmsg");
    return NULL;
  }
  napi_value fds_array, data;
  napi_create_array(env, &fds_array);
  int pid = 0;
  uint32_t count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int* got = (int*)CMSG_DATA(c);
      for (size_t i = 0; i < k; i++) napi_set_element(env, fds_array, count++, handoff_int(env, got[i]));
    } else if (c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      pid = cred.pid;
    }
  }
  napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "data", data);
  napi_set_named_property(env, result, "fds", fds_array);
  napi_set_named_property(env, result, "pid", handoff_int(env, pid));
  napi_set_named_property(env, result, "truncated", handoff_int(env, (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? 1 : 0));
  return result;
}
