/*
 * Socket setup: listen on a path, connect to one, accept, and the small fd/path helpers.
 * All sockets are AF_UNIX SOCK_SEQPACKET, non-blocking and close-on-exec from birth.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"

#define SOCKET_FLAGS (SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC)

/* Reads a JavaScript string into addr. Throws and returns -1 if it cannot be a socket path. */
static int get_address(napi_env env, napi_value value, struct sockaddr_un* addr) {
  size_t length = 0;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "handoff: path must be a string");
    return -1;
  }
  if (length == 0 || length >= sizeof addr->sun_path) {
    handoff_throw_errno(env, length == 0 ? EINVAL : ENAMETOOLONG, "socket path");
    return -1;
  }
  napi_get_value_string_utf8(env, value, addr->sun_path, sizeof addr->sun_path, &length);
  if (strlen(addr->sun_path) != length) {
    napi_throw_type_error(env, NULL, "handoff: path must not contain NUL");
    return -1;
  }
  return 0;
}

/* A socket file at the path is removed only if nobody listens on it any more.
 * Returns 0, or the errno to fail with (EADDRINUSE when a live listener owns the path). */
static int remove_stale_socket(const struct sockaddr_un* addr) {
  struct stat st;
  if (lstat(addr->sun_path, &st) < 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISSOCK(st.st_mode)) return 0; /* not ours to remove: bind() reports EADDRINUSE */
  int probe = socket(AF_UNIX, SOCKET_FLAGS, 0);
  if (probe < 0) return errno;
  int err = connect(probe, (const struct sockaddr*)addr, sizeof *addr) < 0 ? errno : 0;
  close(probe);
  if (err == 0 || err == EAGAIN || err == EPROTOTYPE) return EADDRINUSE; /* alive */
  if (err != ECONNREFUSED) return err;
  if (unlink(addr->sun_path) < 0 && errno != ENOENT) return errno;
  return 0;
}

/* listen(path, mode, backlog): { fd, dev, ino }. Throws an errno error on failure.
 * chmod() happens before listen(): until then every connect() is refused, so no process can
 * get in while the file still has the umask's mode. */
napi_value handoff_listen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct sockaddr_un addr;
  uint32_t mode = 0, backlog = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || get_address(env, argv[0], &addr) < 0) return NULL;
  if (napi_get_value_uint32(env, argv[1], &mode) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &backlog) != napi_ok) {
    napi_throw_type_error(env, NULL, "listen(path: string, mode: number, backlog: number)");
    return NULL;
  }
  int err = remove_stale_socket(&addr);
  if (err != 0) {
    handoff_throw_errno(env, err, "listen");
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCKET_FLAGS, 0);
  if (fd < 0) {
    handoff_throw_errno(env, errno, "socket");
    return NULL;
  }
  const char* step = "bind";
  struct stat st;
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    err = errno;
    close(fd); /* the path was not created: nothing to unlink */
    handoff_throw_errno(env, err, step);
    return NULL;
  }
  if (chmod(addr.sun_path, mode & 07777) < 0) step = "chmod";
  else if (listen(fd, (int)backlog) < 0) step = "listen";
  else if (stat(addr.sun_path, &st) < 0) step = "stat";
  else step = NULL;
  if (step != NULL) {
    err = errno;
    unlink(addr.sun_path); /* we created it with bind() */
    close(fd);
    handoff_throw_errno(env, err, step);
    return NULL;
  }
  napi_value result, dev, ino;
  napi_create_object(env, &result);
  napi_create_double(env, (double)st.st_dev, &dev);
  napi_create_double(env, (double)st.st_ino, &ino);
  napi_set_named_property(env, result, "fd", handoff_int(env, fd));
  napi_set_named_property(env, result, "dev", dev);
  napi_set_named_property(env, result, "ino", ino);
  return result;
}

/* connect(path): a connected fd, or -errno (ENOENT, ECONNREFUSED, EAGAIN when the listener's
 * backlog is full, EACCES...). A Unix socket connect() never blocks and never goes
 * "in progress": it succeeds or fails right away. */
napi_value handoff_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct sockaddr_un addr;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || get_address(env, argv[0], &addr) < 0) return NULL;
  int fd = socket(AF_UNIX, SOCKET_FLAGS, 0);
  if (fd < 0) return handoff_int(env, -errno);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    int err = errno == EWOULDBLOCK ? EAGAIN : errno;
    close(fd);
    return handoff_int(env, -err);
  }
  return handoff_int(env, fd);
}

/* Accepts up to HANDOFF_BATCH connections, each handed to JavaScript as EV_ACCEPT(fd). */
void handoff_listener_readable(endpoint* ep) {
  for (int i = 0; i < HANDOFF_BATCH && ep->fd >= 0; i++) {
    int fd = accept4(ep->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      handoff_emit_error(ep, err, "accept4"); /* EMFILE and friends: JavaScript backs off */
      return;
    }
    napi_value argv[2] = {handoff_int(ep->env, EV_ACCEPT), handoff_int(ep->env, fd)};
    if (argv[1] == NULL) {
      close(fd);
      return;
    }
    int result = handoff_emit(ep, 2, argv);
    if (result == EMIT_NOT_RUN) close(fd); /* never reached JavaScript */
    if (result != EMIT_OK) return;         /* if it threw, JavaScript owns fd */
  }
}

/* closeFd(fd): 0 or -errno. */
napi_value handoff_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "closeFd(fd: non-negative integer)");
    return NULL;
  }
  /* Linux releases the fd even when close() says EINTR: never retry. */
  return handoff_int(env, close(fd) < 0 && errno != EINTR ? -errno : 0);
}

/* unlinkSocket(path, dev, ino): removes the path only if it is still the socket file that
 * listen() created (same device and inode), so a newer listener's file is never removed. */
napi_value handoff_unlink_socket(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct sockaddr_un addr;
  double dev = 0, ino = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || get_address(env, argv[0], &addr) < 0) return NULL;
  napi_get_value_double(env, argv[1], &dev);
  napi_get_value_double(env, argv[2], &ino);
  struct stat st;
  bool removed = lstat(addr.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) && (double)st.st_dev == dev &&
                 (double)st.st_ino == ino && unlink(addr.sun_path) == 0;
  napi_value result;
  napi_get_boolean(env, removed, &result);
  return result;
}
