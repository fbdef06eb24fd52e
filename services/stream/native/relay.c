/*
 * The stream relay: one thread per process moves the bytes of every relayed TCP connection with
 * splice(2) through a pipe per direction, driven by epoll, so no byte reaches JavaScript. JavaScript
 * hands over two connected fds (client, upstream) and bytes to write upstream first (PROXY header,
 * the bytes the edge read to route); the relay owns the fds from then on, closes them, and reports
 * each end once: [id, bytes client->upstream, bytes upstream->client, reason].
 *
 * Endings: by default both sides are closed when either one ends (after what it sent is delivered);
 * with half-open, a FIN is passed on (shutdown SHUT_WR) and both close when both have ended.
 * An error, an idle timeout or closeAll() closes both at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PIPE_SIZE (256 * 1024)
#define ROUNDS 8

enum {
  END_CLOSED = 0,
  END_BOTH = 1,
  END_IDLE = 2,
  END_ERROR = 3,
  END_SHUTDOWN = 4,
  /* The relay's own connect to the target failed or timed out: the client fd is NOT closed, it is
   * handed back to JavaScript (which tries another target, or closes it). */
  END_CONNECT_FAILED = 5,
  END_CONNECT_TIMEOUT = 6
};

typedef struct conn conn_t;
typedef struct {
  conn_t* conn;
  int side;
} side_t;

struct conn {
  uint32_t id;
  int fd[2];      /* 0: client, 1: upstream */
  int pipe[2][2]; /* pipe[d]: direction d, 0 client->upstream, 1 upstream->client */
  size_t inpipe[2];
  int eof[2];  /* direction d's source sent FIN */
  int shut[2]; /* direction d's destination got our FIN */
  uint32_t registered[2];
  uint8_t* prefix;
  size_t prefix_len, prefix_off;
  uint64_t bytes[2];
  int64_t last_ms;
  uint32_t idle_ms;
  int half_open;
  int connecting; /* upstream connect in progress: wait for EPOLLOUT, then SO_ERROR */
  int64_t connect_deadline_ms;
  side_t sides[2];
  int dead;
  conn_t *prev, *next;
};

typedef struct {
  uint32_t id;
  uint64_t in, out;
  int reason;
} ended_t;

typedef struct pending {
  conn_t* conn;
  struct pending* next;
} pending_t;

static struct {
  int started;
  int epfd, wakefd;
  pthread_t thread;
  pthread_mutex_t lock;
  pending_t* queue;
  int close_all, stop;
  conn_t* head;
  conn_t* graveyard; /* finished in this epoll batch; freed after it (other events may name them) */
  uint32_t active;
  napi_threadsafe_function tsfn;
} R;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(conn_t* c, int reason) {
  ended_t* e = malloc(sizeof *e);
  if (e == NULL) return;
  e->id = c->id;
  e->in = c->bytes[0];
  e->out = c->bytes[1];
  e->reason = reason;
  if (napi_call_threadsafe_function(R.tsfn, e, napi_tsfn_nonblocking) != napi_ok) free(e);
}

static void finish(conn_t* c, int reason) {
  if (c->dead) return;
  c->dead = 1;
  int keep_client = reason == END_CONNECT_FAILED || reason == END_CONNECT_TIMEOUT;
  for (int i = 0; i < 2; i++) {
    if (i == 0 && keep_client) {
      epoll_ctl(R.epfd, EPOLL_CTL_DEL, c->fd[0], NULL);
      close(c->pipe[0][0]);
      close(c->pipe[0][1]);
      continue;
    }
    /* Removed by hand: closing our fd does not end the registration while another process (the
     * edge, before it closes its copy) still holds the same open file. */
    epoll_ctl(R.epfd, EPOLL_CTL_DEL, c->fd[i], NULL);
    close(c->fd[i]);
    close(c->pipe[i][0]);
    close(c->pipe[i][1]);
  }
  if (c->prev) c->prev->next = c->next;
  else R.head = c->next;
  if (c->next) c->next->prev = c->prev;
  R.active--;
  report(c, reason);
  c->next = R.graveyard;
  R.graveyard = c;
}

static void bury(void) {
  while (R.graveyard) {
    conn_t* c = R.graveyard;
    R.graveyard = c->next;
    free(c->prefix);
    free(c);
  }
}

/* Moves what it can in direction d; returns -1 on a socket error, else what the fds wait for. */
static int pump_direction(conn_t* c, int d, uint32_t want[2]) {
  int src = c->fd[d], dst = c->fd[1 - d];
  if (d == 0 && c->prefix_off < c->prefix_len) {
    ssize_t n = send(dst, c->prefix + c->prefix_off, c->prefix_len - c->prefix_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        want[1 - d] |= EPOLLOUT;
        return 0;
      }
      return -1;
    }
    c->prefix_off += (size_t)n;
    if (c->prefix_off < c->prefix_len) {
      want[1 - d] |= EPOLLOUT;
      return 0;
    }
  }
  for (int round = 0; round < ROUNDS; round++) {
    while (c->inpipe[d] > 0) {
      ssize_t n = splice(c->pipe[d][0], NULL, dst, NULL, c->inpipe[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        if (errno == EAGAIN) {
          want[1 - d] |= EPOLLOUT;
          return 0;
        }
        return -1;
      }
      c->inpipe[d] -= (size_t)n;
      c->bytes[d] += (uint64_t)n;
    }
    if (c->eof[d]) return 0;
    ssize_t n = splice(src, NULL, c->pipe[d][1], NULL, PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) {
      if (errno == EAGAIN) {
        want[d] |= EPOLLIN;
        return 0;
      }
      return -1;
    }
    if (n == 0) {
      c->eof[d] = 1;
      return 0;
    }
    c->inpipe[d] += (size_t)n;
    c->last_ms = now_ms();
  }
  /* Still busy after ROUNDS: come back on the next epoll turn (level-triggered), fair to others.
   * The last round may have filled the pipe with the sender's last bytes: then the source turns
   * quiet and its EPOLLIN never comes, so wait for the destination's EPOLLOUT too (at once, if it
   * has room), or those bytes stay in the pipe until the other direction happens to move. */
  want[d] |= EPOLLIN;
  if (c->inpipe[d] > 0) want[1 - d] |= EPOLLOUT;
  return 0;
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void pump(conn_t* c) {
  uint32_t want[2] = {0, 0};
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) return finish(c, END_CONNECT_FAILED);
    struct tcp_info ti;
    socklen_t tlen = sizeof ti;
    if (getsockopt(c->fd[1], IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0) return finish(c, END_CONNECT_FAILED);
    if (ti.tcpi_state == TCP_SYN_SENT) {
      /* Still connecting (woken by the client's side): keep waiting for writability. */
      if (c->registered[1] != EPOLLOUT) {
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &c->sides[1]};
        epoll_ctl(R.epfd, EPOLL_CTL_MOD, c->fd[1], &ev);
        c->registered[1] = EPOLLOUT;
      }
      return;
    }
    /* Connected: ESTABLISHED, or already CLOSE_WAIT when the target spoke and closed at once
     * (what it sent is still to be relayed). A refusal shows as SO_ERROR above. */
    c->connecting = 0;
    c->last_ms = now_ms();
    set_nodelay(c->fd[1]);
  }
  for (int d = 0; d < 2; d++) {
    if (pump_direction(c, d, want) < 0) return finish(c, END_ERROR);
    int flushed = c->eof[d] && c->inpipe[d] == 0 && (d == 1 || c->prefix_off == c->prefix_len);
    if (flushed && !c->shut[d]) {
      if (!c->half_open) return finish(c, END_CLOSED);
      shutdown(c->fd[1 - d], SHUT_WR);
      c->shut[d] = 1;
    }
  }
  if (c->shut[0] && c->shut[1]) return finish(c, END_BOTH);
  for (int i = 0; i < 2; i++) {
    if (want[i] == c->registered[i]) continue;
    struct epoll_event ev = {.events = want[i], .data.ptr = &c->sides[i]};
    if (epoll_ctl(R.epfd, EPOLL_CTL_MOD, c->fd[i], &ev) < 0) return finish(c, END_ERROR);
    c->registered[i] = want[i];
  }
}

static void adopt(conn_t* c) {
  c->last_ms = now_ms();
  c->prev = NULL;
  c->next = R.head;
  if (R.head) R.head->prev = c;
  R.head = c;
  R.active++;
  for (int i = 0; i < 2; i++) {
    c->sides[i].conn = c;
    c->sides[i].side = i;
    uint32_t events = c->connecting && i == 1 ? EPOLLOUT : 0;
    struct epoll_event ev = {.events = events, .data.ptr = &c->sides[i]};
    if (epoll_ctl(R.epfd, EPOLL_CTL_ADD, c->fd[i], &ev) < 0)
      return finish(c, c->connecting ? END_CONNECT_FAILED : END_ERROR);
    c->registered[i] = events;
  }
  if (!c->connecting) pump(c);
}

static void sweep_idle(void) {
  int64_t now = now_ms();
  conn_t* c = R.head;
  while (c) {
    conn_t* next = c->next;
    if (c->connecting) {
      if (now >= c->connect_deadline_ms) finish(c, END_CONNECT_TIMEOUT);
    } else if (c->idle_ms > 0 && now - c->last_ms >= c->idle_ms)
      finish(c, END_IDLE);
    c = next;
  }
  bury();
}

static void* relay_thread(void* arg) {
  struct epoll_event events[256];
  int64_t last_sweep = now_ms();
  for (;;) {
    int n = epoll_wait(R.epfd, events, 256, 250);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t v;
        if (read(R.wakefd, &v, sizeof v) < 0) { /* nothing to read: fine */
        }
        continue;
      }
      side_t* s = events[i].data.ptr;
      conn_t* c = s->conn;
      if (c->dead) continue;
      if (c->connecting && s->side == 0 && (events[i].events & (EPOLLHUP | EPOLLERR))) {
        finish(c, END_ERROR); /* the client left while we connected: nothing to hand back */
        continue;
      }
      if ((events[i].events & EPOLLERR) && !c->connecting) {
        finish(c, END_ERROR);
        continue;
      }
      pump(c);
      /* Hung up both ways: nothing more can cross that side; what could be delivered was. */
      if (!c->dead && !c->connecting && (events[i].events & EPOLLHUP)) finish(c, END_CLOSED);
    }
    bury();
    pthread_mutex_lock(&R.lock);
    pending_t* q = R.queue;
    R.queue = NULL;
    int close_all = R.close_all, stop = R.stop;
    R.close_all = 0;
    pthread_mutex_unlock(&R.lock);
    /* Queue was pushed at the head: adopt in arrival order. */
    pending_t* rev = NULL;
    while (q) {
      pending_t* next = q->next;
      q->next = rev;
      rev = q;
      q = next;
    }
    while (rev) {
      pending_t* next = rev->next;
      adopt(rev->conn);
      free(rev);
      rev = next;
    }
    if (close_all || stop)
      while (R.head) finish(R.head, END_SHUTDOWN);
    bury();
    if (stop) break;
    int64_t now = now_ms();
    if (now - last_sweep >= 250) {
      sweep_idle();
      last_sweep = now;
    }
  }
  return NULL;
}

/* ---- JavaScript side ---- */

static void call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  ended_t* e = data;
  if (env != NULL && js_cb != NULL) {
    napi_value argv[4], undefined;
    napi_create_uint32(env, e->id, &argv[0]);
    napi_create_double(env, (double)e->in, &argv[1]);
    napi_create_double(env, (double)e->out, &argv[2]);
    napi_create_int32(env, e->reason, &argv[3]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, js_cb, 4, argv, NULL);
  }
  free(e);
}

static napi_value throw_errno(napi_env env, const char* what) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, "ERR_STREAM_RELAY", msg);
  return NULL;
}

static void wake(void) {
  uint64_t one = 1;
  if (write(R.wakefd, &one, sizeof one) < 0) { /* counter full: the thread is awake anyway */
  }
}

/* init(onEnded(id, bytesIn, bytesOut, reason)): starts the relay thread, once per process. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (R.started) {
    napi_throw_error(env, "ERR_STREAM_RELAY", "the relay is already started");
    return NULL;
  }
  napi_create_string_utf8(env, "stream-relay", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &R.tsfn) !=
      napi_ok)
    return NULL;
  napi_unref_threadsafe_function(env, R.tsfn);
  R.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (R.epfd < 0) return throw_errno(env, "epoll_create1");
  R.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (R.wakefd < 0) return throw_errno(env, "eventfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(R.epfd, EPOLL_CTL_ADD, R.wakefd, &ev);
  pthread_mutex_init(&R.lock, NULL);
  if (pthread_create(&R.thread, NULL, relay_thread, NULL) != 0) return throw_errno(env, "pthread_create");
  R.started = 1;
  return NULL;
}

static int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* start(id, clientFd, upstreamFd, prefix: Buffer, idleMs, halfOpen): the relay owns both fds from
 * now on (also when it throws: they are closed). */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id, idle_ms;
  int32_t client, upstream;
  bool half_open;
  void* data = NULL;
  size_t len = 0;
  napi_get_value_uint32(env, argv[0], &id);
  napi_get_value_int32(env, argv[1], &client);
  napi_get_value_int32(env, argv[2], &upstream);
  napi_get_buffer_info(env, argv[3], &data, &len);
  napi_get_value_uint32(env, argv[4], &idle_ms);
  napi_get_value_bool(env, argv[5], &half_open);
  conn_t* c = calloc(1, sizeof *c);
  pending_t* p = malloc(sizeof *p);
  int ok = R.started && c != NULL && p != NULL;
  if (ok) {
    c->pipe[0][0] = c->pipe[0][1] = c->pipe[1][0] = c->pipe[1][1] = -1;
    ok = pipe2(c->pipe[0], O_NONBLOCK | O_CLOEXEC) == 0 && pipe2(c->pipe[1], O_NONBLOCK | O_CLOEXEC) == 0;
  }
  if (ok && len > 0) {
    c->prefix = malloc(len);
    ok = c->prefix != NULL;
    if (ok) memcpy(c->prefix, data, len);
  }
  ok = ok && set_nonblocking(client) == 0 && set_nonblocking(upstream) == 0;
  if (!ok) {
    int err = errno;
    close(client);
    close(upstream);
    if (c) {
      for (int d = 0; d < 2; d++)
        for (int e = 0; e < 2; e++)
          if (c->pipe[d][e] >= 0) close(c->pipe[d][e]);
      free(c->prefix);
    }
    free(c);
    free(p);
    errno = err ? err : ENOMEM;
    return throw_errno(env, R.started ? "relay start" : "relay not initialised");
  }
  for (int d = 0; d < 2; d++) fcntl(c->pipe[d][1], F_SETPIPE_SZ, PIPE_SIZE);
  c->id = id;
  c->fd[0] = client;
  c->fd[1] = upstream;
  c->prefix_len = len;
  c->idle_ms = idle_ms;
  c->half_open = half_open;
  p->conn = c;
  pthread_mutex_lock(&R.lock);
  p->next = R.queue;
  R.queue = p;
  pthread_mutex_unlock(&R.lock);
  wake();
  return NULL;
}

/* connect(id, clientFd, ip, port, prefix, idleMs, halfOpen, connectTimeoutMs): the relay connects
 * to ip:port itself and then relays. Returns 0 (the relay owns the client fd until it reports; on
 * END_CONNECT_FAILED/TIMEOUT the fd is handed back open) or -errno when the connect failed at once
 * (the client fd stays the caller's). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id, idle_ms, port, timeout_ms;
  int32_t client;
  bool half_open;
  char ip[64];
  size_t iplen = 0;
  void* data = NULL;
  size_t len = 0;
  napi_get_value_uint32(env, argv[0], &id);
  napi_get_value_int32(env, argv[1], &client);
  napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &iplen);
  napi_get_value_uint32(env, argv[3], &port);
  napi_get_buffer_info(env, argv[4], &data, &len);
  napi_get_value_uint32(env, argv[5], &idle_ms);
  napi_get_value_bool(env, argv[6], &half_open);
  napi_get_value_uint32(env, argv[7], &timeout_ms);
  struct sockaddr_storage addr;
  socklen_t alen;
  memset(&addr, 0, sizeof addr);
  struct sockaddr_in* a4 = (struct sockaddr_in*)&addr;
  struct sockaddr_in6* a6 = (struct sockaddr_in6*)&addr;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    alen = sizeof *a4;
  } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    alen = sizeof *a6;
  } else {
    napi_create_int32(env, -EINVAL, &out);
    return out;
  }
  int err = 0;
  conn_t* c = NULL;
  pending_t* p = NULL;
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) err = errno;
  if (!err && connect(fd, (struct sockaddr*)&addr, alen) < 0 && errno != EINPROGRESS) err = errno;
  if (!err) {
    c = calloc(1, sizeof *c);
    p = malloc(sizeof *p);
    if (!R.started || c == NULL || p == NULL) err = ENOMEM;
  }
  if (!err) {
    c->pipe[0][0] = c->pipe[0][1] = c->pipe[1][0] = c->pipe[1][1] = -1;
    if (pipe2(c->pipe[0], O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(c->pipe[1], O_NONBLOCK | O_CLOEXEC) < 0) err = errno;
  }
  if (!err && len > 0) {
    c->prefix = malloc(len);
    if (c->prefix == NULL) err = ENOMEM;
    else memcpy(c->prefix, data, len);
  }
  if (!err && set_nonblocking(client) < 0) err = errno;
  if (err) {
    if (fd >= 0) close(fd);
    if (c) {
      for (int d = 0; d < 2; d++)
        for (int e = 0; e < 2; e++)
          if (c->pipe[d][e] >= 0) close(c->pipe[d][e]);
      free(c->prefix);
    }
    free(c);
    free(p);
    napi_create_int32(env, -err, &out);
    return out;
  }
  for (int d = 0; d < 2; d++) fcntl(c->pipe[d][1], F_SETPIPE_SZ, PIPE_SIZE);
  set_nodelay(client);
  c->id = id;
  c->fd[0] = client;
  c->fd[1] = fd;
  c->prefix_len = len;
  c->idle_ms = idle_ms;
  c->half_open = half_open;
  c->connecting = 1;
  c->connect_deadline_ms = now_ms() + timeout_ms;
  p->conn = c;
  pthread_mutex_lock(&R.lock);
  p->next = R.queue;
  R.queue = p;
  pthread_mutex_unlock(&R.lock);
  wake();
  napi_create_int32(env, 0, &out);
  return out;
}

/* closeAll(): every relayed connection is closed (reported with reason SHUTDOWN). */
static napi_value js_close_all(napi_env env, napi_callback_info info) {
  if (!R.started) return NULL;
  pthread_mutex_lock(&R.lock);
  R.close_all = 1;
  pthread_mutex_unlock(&R.lock);
  wake();
  return NULL;
}

/* dup(fd): a second fd for the same socket, close-on-exec (closing the first sends no FIN). */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &fd);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_errno(env, "dup");
  napi_create_int32(env, copy, &out);
  return out;
}

static void set_function(napi_env env, napi_value target, const char* name, napi_callback fn) {
  napi_value value;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok)
    napi_set_named_property(env, target, name, value);
}

static void set_int(napi_env env, napi_value target, const char* name, int value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  napi_set_named_property(env, target, name, v);
}

NAPI_MODULE_INIT() {
  set_function(env, exports, "init", js_init);
  set_function(env, exports, "start", js_start);
  set_function(env, exports, "connect", js_connect);
  set_function(env, exports, "closeAll", js_close_all);
  set_function(env, exports, "dup", js_dup);
  set_int(env, exports, "END_CLOSED", END_CLOSED);
  set_int(env, exports, "END_BOTH", END_BOTH);
  set_int(env, exports, "END_IDLE", END_IDLE);
  set_int(env, exports, "END_ERROR", END_ERROR);
  set_int(env, exports, "END_SHUTDOWN", END_SHUTDOWN);
  set_int(env, exports, "END_CONNECT_FAILED", END_CONNECT_FAILED);
  set_int(env, exports, "END_CONNECT_TIMEOUT", END_CONNECT_TIMEOUT);
  return exports;
}
