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
#include <stdbool.h>
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
#define MAX_THREADS 64
/* Empty pipes a thread keeps for its next connections (each connection needs two); all are closed
 * whenever the thread has no connection left, so an idle relay holds no fd. */
#define POOL_MAX 128

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

typedef struct relay relay_t;
typedef struct conn conn_t;
typedef struct {
  conn_t* conn;
  int side;
} side_t;

struct conn {
  uint32_t id;
  relay_t* relay;
  int fd[2];      /* 0: client, 1: upstream (-1 until the relay thread connects) */
  int pipe[2][2]; /* pipe[d]: direction d, 0 client->upstream, 1 upstream->client */
  size_t inpipe[2];
  int eof[2];  /* direction d's source sent FIN */
  int shut[2]; /* direction d's destination got our FIN */
  uint32_t registered[2];
  int added[2]; /* fd[i] is in the thread's epoll set */
  /* pend[d]: bytes to write to direction d's destination before anything else: for d = 0 first the
   * prefix (PROXY header, the bytes the edge read; not counted), then what a copy did not get out. */
  uint8_t* pend[2];
  size_t pend_len[2], pend_off[2];
  int pend_counts[2];
  int spliced[2]; /* direction d moves through its pipe (after a full copy read); else recv/send */
  uint64_t bytes[2];
  int64_t last_ms;
  uint32_t idle_ms;
  int half_open;
  int connecting; /* upstream connect in progress: wait for EPOLLOUT, then SO_ERROR */
  int64_t connect_deadline_ms;
  uint32_t connect_timeout_ms;
  struct sockaddr_storage target; /* connect here in the relay thread (target_len > 0) */
  socklen_t target_len;
  side_t sides[2];
  int dead;
  conn_t *prev, *next; /* also the queue's link before the thread adopts it */
};

typedef struct {
  size_t n;
  double items[]; /* n × [id, bytes in, bytes out, reason] */
} ended_batch_t;

/* One relay thread: its own epoll set, queue, connections, pipe pool and ended reports. */
struct relay {
  int epfd, wakefd;
  pthread_t thread;
  pthread_mutex_t lock;
  conn_t* queue; /* pushed at the head by JavaScript, under lock */
  int close_all, stop;
  conn_t* head;
  conn_t* graveyard; /* finished in this epoll batch; freed after it (other events may name them) */
  uint32_t active;
  uint32_t assigned; /* queued or open: read by JavaScript to pick the least-loaded thread */
  int pool[POOL_MAX][2];
  int pooled;
  double* ended; /* reports of this turn, sent to JavaScript in one call */
  size_t nended, ended_cap;
};

static struct {
  int started;
  int n;
  relay_t* threads;
  uint32_t turn;
  napi_threadsafe_function tsfn;
} G;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  return flags & O_NONBLOCK ? 0 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A pipe for one direction: from the pool, else a new one of PIPE_SIZE. */
static int take_pipe(relay_t* r, int p[2]) {
  if (r->pooled > 0) {
    r->pooled--;
    p[0] = r->pool[r->pooled][0];
    p[1] = r->pool[r->pooled][1];
    return 0;
  }
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
  fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
  return 0;
}

/* Back to the pool when it is empty (nothing of another connection may stay in it), else closed. */
static void give_pipe(relay_t* r, int p[2], int empty) {
  if (p[0] < 0) return;
  if (empty && r->pooled < POOL_MAX) {
    r->pool[r->pooled][0] = p[0];
    r->pool[r->pooled][1] = p[1];
    r->pooled++;
  } else {
    close(p[0]);
    close(p[1]);
  }
  p[0] = p[1] = -1;
}

static void trim_pool(relay_t* r) {
  while (r->pooled > 0) {
    r->pooled--;
    close(r->pool[r->pooled][0]);
    close(r->pool[r->pooled][1]);
  }
}

static void report(relay_t* r, conn_t* c, int reason) {
  if (r->nended + 4 > r->ended_cap) {
    size_t cap = r->ended_cap ? r->ended_cap * 2 : 256;
    double* grown = realloc(r->ended, cap * sizeof *grown);
    if (grown == NULL) return;
    r->ended = grown;
    r->ended_cap = cap;
  }
  double* e = r->ended + r->nended;
  e[0] = c->id;
  e[1] = (double)c->bytes[0];
  e[2] = (double)c->bytes[1];
  e[3] = reason;
  r->nended += 4;
}

/* The ends of this turn, in one call to JavaScript (after the pool is trimmed on an idle thread, so
 * an fd census taken once JavaScript saw the last end finds none of ours left). */
static void flush_reports(relay_t* r) {
  if (r->active == 0 && r->pooled > 0) trim_pool(r);
  if (r->nended == 0) return;
  ended_batch_t* b = malloc(sizeof *b + r->nended * sizeof(double));
  if (b != NULL) {
    b->n = r->nended / 4;
    memcpy(b->items, r->ended, r->nended * sizeof(double));
    if (napi_call_threadsafe_function(G.tsfn, b, napi_tsfn_nonblocking) != napi_ok) free(b);
  }
  r->nended = 0;
}

static void forget_fd(relay_t* r, conn_t* c, int i) {
  /* Removed by hand: closing our fd does not end the registration while another process (the
   * edge, before it closes its copy) still holds the same open file. */
  if (c->added[i]) epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd[i], NULL);
  c->added[i] = 0;
}

static void finish(conn_t* c, int reason) {
  if (c->dead) return;
  relay_t* r = c->relay;
  c->dead = 1;
  int keep_client = reason == END_CONNECT_FAILED || reason == END_CONNECT_TIMEOUT;
  forget_fd(r, c, 0);
  if (!keep_client) close(c->fd[0]);
  if (c->fd[1] >= 0) {
    forget_fd(r, c, 1);
    close(c->fd[1]);
  }
  for (int d = 0; d < 2; d++) give_pipe(r, c->pipe[d], c->inpipe[d] == 0);
  if (c->prev) c->prev->next = c->next;
  else r->head = c->next;
  if (c->next) c->next->prev = c->prev;
  r->active--;
  __atomic_fetch_sub(&r->assigned, 1, __ATOMIC_RELAXED);
  report(r, c, reason);
  c->next = r->graveyard;
  r->graveyard = c;
}

static void bury(relay_t* r) {
  while (r->graveyard) {
    conn_t* c = r->graveyard;
    r->graveyard = c->next;
    free(c->pend[0]);
    free(c->pend[1]);
    free(c);
  }
}

/* Writes direction d's pending bytes; 1 when all are out, 0 when the destination is full, -1 on an error. */
static int flush_pending(conn_t* c, int d, uint32_t want[2]) {
  while (c->pend_off[d] < c->pend_len[d]) {
    ssize_t n = send(c->fd[1 - d], c->pend[d] + c->pend_off[d], c->pend_len[d] - c->pend_off[d], MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        want[1 - d] |= EPOLLOUT;
        return 0;
      }
      return -1;
    }
    c->pend_off[d] += (size_t)n;
    if (c->pend_counts[d]) c->bytes[d] += (uint64_t)n;
  }
  return 1;
}

/* Keeps buf[0..n) to send when the destination has room again (it took less than a copy read). */
static int stash(conn_t* c, int d, const uint8_t* buf, size_t n) {
  uint8_t* p = realloc(c->pend[d], n);
  if (p == NULL) return -1;
  memcpy(p, buf, n);
  c->pend[d] = p;
  c->pend_len[d] = n;
  c->pend_off[d] = 0;
  c->pend_counts[d] = 1;
  return 0;
}

/* A short exchange costs a recv and a send per read (no pipe); a direction whose read fills this
 * buffer is a bulk one and moves to splice through a pipe from then on. */
#define COPY_MAX (16 * 1024)
static __thread uint8_t copy_buf[COPY_MAX];

/* Moves what it can in direction d; returns -1 on a socket error, else what the fds wait for. */
static int pump_direction(conn_t* c, int d, uint32_t want[2]) {
  int src = c->fd[d], dst = c->fd[1 - d];
  int rc = flush_pending(c, d, want);
  if (rc <= 0) return rc;
  for (int round = 0; round < ROUNDS && !c->spliced[d]; round++) {
    if (c->eof[d]) return 0;
    ssize_t n = recv(src, copy_buf, COPY_MAX, 0);
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
    c->last_ms = now_ms();
    ssize_t sent = send(dst, copy_buf, (size_t)n, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno != EAGAIN) return -1;
      sent = 0;
    }
    c->bytes[d] += (uint64_t)sent;
    if (sent < n) {
      if (stash(c, d, copy_buf + sent, (size_t)(n - sent)) < 0) return -1;
      want[1 - d] |= EPOLLOUT;
      return 0;
    }
    if (n == COPY_MAX) {
      if (take_pipe(c->relay, c->pipe[d]) < 0) return -1;
      c->spliced[d] = 1;
    }
  }
  if (!c->spliced[d]) {
    /* Still busy after ROUNDS: come back on the next turn (level-triggered), fair to others. */
    want[d] |= EPOLLIN;
    return 0;
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

static void pump(conn_t* c) {
  relay_t* r = c->relay;
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
        epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd[1], &ev);
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
    int flushed = c->eof[d] && c->inpipe[d] == 0 && c->pend_off[d] == c->pend_len[d];
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
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd[i], &ev) < 0) return finish(c, END_ERROR);
    c->registered[i] = want[i];
  }
}

/* Starts the connect to the target (connectAndRelay): false when it failed at once. */
static int start_connect(conn_t* c) {
  int fd = socket(c->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  if (connect(fd, (struct sockaddr*)&c->target, c->target_len) < 0 && errno != EINPROGRESS) {
    close(fd);
    return 0;
  }
  c->fd[1] = fd;
  c->connecting = 1;
  c->connect_deadline_ms = now_ms() + c->connect_timeout_ms;
  return 1;
}

static void adopt(relay_t* r, conn_t* c) {
  c->relay = r;
  c->last_ms = now_ms();
  c->prev = NULL;
  c->next = r->head;
  if (r->head) r->head->prev = c;
  r->head = c;
  r->active++;
  for (int i = 0; i < 2; i++) {
    c->sides[i].conn = c;
    c->sides[i].side = i;
  }
  if (c->target_len > 0) {
    if (set_nonblocking(c->fd[0]) < 0) return finish(c, END_ERROR);
    set_nodelay(c->fd[0]);
    if (!start_connect(c)) return finish(c, END_CONNECT_FAILED);
  }
  for (int i = 0; i < 2; i++) {
    uint32_t events = c->connecting && i == 1 ? EPOLLOUT : 0;
    struct epoll_event ev = {.events = events, .data.ptr = &c->sides[i]};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd[i], &ev) < 0) return finish(c, END_ERROR);
    c->added[i] = 1;
    c->registered[i] = events;
  }
  if (!c->connecting) pump(c);
}

static void sweep_idle(relay_t* r) {
  int64_t now = now_ms();
  conn_t* c = r->head;
  while (c) {
    conn_t* next = c->next;
    if (c->connecting) {
      if (now >= c->connect_deadline_ms) finish(c, END_CONNECT_TIMEOUT);
    } else if (c->idle_ms > 0 && now - c->last_ms >= c->idle_ms)
      finish(c, END_IDLE);
    c = next;
  }
  bury(r);
}

static void* relay_thread(void* arg) {
  relay_t* r = arg;
  struct epoll_event events[256];
  int64_t last_sweep = now_ms();
  for (;;) {
    int n = epoll_wait(r->epfd, events, 256, 250);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t v;
        if (read(r->wakefd, &v, sizeof v) < 0) { /* nothing to read: fine */
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
    bury(r);
    pthread_mutex_lock(&r->lock);
    conn_t* q = r->queue;
    r->queue = NULL;
    int close_all = r->close_all, stop = r->stop;
    r->close_all = 0;
    pthread_mutex_unlock(&r->lock);
    /* Queue was pushed at the head: adopt in arrival order. */
    conn_t* rev = NULL;
    while (q) {
      conn_t* next = q->next;
      q->next = rev;
      rev = q;
      q = next;
    }
    while (rev) {
      conn_t* next = rev->next;
      adopt(r, rev);
      rev = next;
    }
    if (close_all || stop)
      while (r->head) finish(r->head, END_SHUTDOWN);
    bury(r);
    int64_t now = now_ms();
    if (now - last_sweep >= 250) {
      sweep_idle(r);
      last_sweep = now;
    }
    flush_reports(r);
    if (stop) break;
  }
  return NULL;
}

/* ---- JavaScript side ---- */

/* One call per batch of ends: onEnded(Float64Array of n × [id, bytesIn, bytesOut, reason]). */
static void call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  ended_batch_t* b = data;
  if (env != NULL && js_cb != NULL) {
    napi_value ab, arr, undefined;
    void* bytes = NULL;
    size_t len = b->n * 4 * sizeof(double);
    if (napi_create_arraybuffer(env, len, &bytes, &ab) == napi_ok &&
        napi_create_typedarray(env, napi_float64_array, b->n * 4, ab, 0, &arr) == napi_ok) {
      memcpy(bytes, b->items, len);
      napi_get_undefined(env, &undefined);
      napi_call_function(env, undefined, js_cb, 1, &arr, NULL);
    }
  }
  free(b);
}

static napi_value throw_errno(napi_env env, const char* what) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, "ERR_STREAM_RELAY", msg);
  return NULL;
}

static void wake(relay_t* r) {
  uint64_t one = 1;
  if (write(r->wakefd, &one, sizeof one) < 0) { /* counter full: the thread is awake anyway */
  }
}

/* The thread with the fewest connections queued or open (ties: in turn). */
static relay_t* pick_thread(void) {
  uint32_t start = G.turn++;
  relay_t* best = NULL;
  uint32_t least = UINT32_MAX;
  for (int i = 0; i < G.n; i++) {
    relay_t* r = &G.threads[(start + (uint32_t)i) % (uint32_t)G.n];
    uint32_t a = __atomic_load_n(&r->assigned, __ATOMIC_RELAXED);
    if (a < least) {
      least = a;
      best = r;
    }
  }
  return best != NULL ? best : G.threads;
}

/* Hands c to a thread; wakes it only when its queue was empty (else a wake-up is already due). */
static void enqueue(conn_t* c) {
  relay_t* r = pick_thread();
  __atomic_fetch_add(&r->assigned, 1, __ATOMIC_RELAXED);
  pthread_mutex_lock(&r->lock);
  int was_empty = r->queue == NULL;
  c->next = r->queue;
  r->queue = c;
  pthread_mutex_unlock(&r->lock);
  if (was_empty) wake(r);
}

/* init(onEnded(Float64Array), threads): starts the relay threads, once per process. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (G.started) {
    napi_throw_error(env, "ERR_STREAM_RELAY", "the relay is already started");
    return NULL;
  }
  uint32_t n = 1;
  if (argc > 1) napi_get_value_uint32(env, argv[1], &n);
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  napi_create_string_utf8(env, "stream-relay", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &G.tsfn) !=
      napi_ok)
    return NULL;
  napi_unref_threadsafe_function(env, G.tsfn);
  G.threads = calloc(n, sizeof *G.threads);
  if (G.threads == NULL) {
    errno = ENOMEM;
    return throw_errno(env, "relay threads");
  }
  for (uint32_t i = 0; i < n; i++) {
    relay_t* r = &G.threads[i];
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) return throw_errno(env, "epoll_create1");
    r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wakefd < 0) return throw_errno(env, "eventfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wakefd, &ev);
    pthread_mutex_init(&r->lock, NULL);
    if (pthread_create(&r->thread, NULL, relay_thread, r) != 0) return throw_errno(env, "pthread_create");
    G.n = (int)i + 1;
  }
  G.started = 1;
  return NULL;
}

/* A connection record with its prefix copied; NULL when out of memory. */
static conn_t* new_conn(uint32_t id, int client, const void* prefix, size_t len, uint32_t idle_ms, bool half_open) {
  conn_t* c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  if (len > 0) {
    c->pend[0] = malloc(len);
    if (c->pend[0] == NULL) {
      free(c);
      return NULL;
    }
    memcpy(c->pend[0], prefix, len);
  }
  c->pipe[0][0] = c->pipe[0][1] = c->pipe[1][0] = c->pipe[1][1] = -1;
  c->id = id;
  c->fd[0] = client;
  c->fd[1] = -1;
  c->pend_len[0] = len;
  c->idle_ms = idle_ms;
  c->half_open = half_open;
  return c;
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
  conn_t* c = G.started ? new_conn(id, client, data, len, idle_ms, half_open) : NULL;
  if (c == NULL || set_nonblocking(client) < 0 || set_nonblocking(upstream) < 0) {
    int err = errno;
    close(client);
    close(upstream);
    if (c) free(c->pend[0]);
    free(c);
    errno = err ? err : ENOMEM;
    return throw_errno(env, G.started ? "relay start" : "relay not initialised");
  }
  c->fd[1] = upstream;
  enqueue(c);
  return NULL;
}

/* connect(id, clientFd, ip, port, prefix, idleMs, halfOpen, connectTimeoutMs): a relay thread
 * connects to ip:port itself and then relays. Returns 0 (the relay owns the client fd until it
 * reports; on END_CONNECT_FAILED/TIMEOUT the fd is handed back open, also when the connect failed
 * at once) or -errno for an address it cannot use or no memory (the client fd stays the caller's). */
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
  conn_t* c = G.started ? new_conn(id, client, data, len, idle_ms, half_open) : NULL;
  if (c == NULL) {
    napi_create_int32(env, -ENOMEM, &out);
    return out;
  }
  c->target = addr;
  c->target_len = alen;
  c->connect_timeout_ms = timeout_ms;
  enqueue(c);
  napi_create_int32(env, 0, &out);
  return out;
}

/* closeAll(): every relayed connection is closed (reported with reason SHUTDOWN). */
static napi_value js_close_all(napi_env env, napi_callback_info info) {
  if (!G.started) return NULL;
  for (int i = 0; i < G.n; i++) {
    relay_t* r = &G.threads[i];
    pthread_mutex_lock(&r->lock);
    r->close_all = 1;
    pthread_mutex_unlock(&r->lock);
    wake(r);
  }
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
