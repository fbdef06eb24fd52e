/*
 * loadgen: the load generator of bench/handoff (and bench/nftables). One thread, epoll, non-blocking
 * sockets, to 127.0.0.1 or the IPv4 address given with -a ADDR.
 *
 *   loadgen rate -p PORT -c CONC -d SECONDS -n MAXCOUNT -r REPLY_BYTES
 *     keeps CONC connections in flight; each one: connect, send a 100-byte HTTP/1.0 request, read
 *     the reply until the server closes, check its length, close. Stops starting new ones at SECONDS
 *     or after MAXCOUNT starts (whichever first), then waits (at most 5 s) for those in flight.
 *   loadgen bulk -p PORT -c CONNS -b BYTES_PER_CONN -d TIMEOUT
 *     CONNS connections each ask for BYTES_PER_CONN bytes (GET /bulk/N) and read them to EOF.
 *   loadgen hold -p PORT -c CONNS -d SECONDS
 *     opens CONNS connections (at most 256 connecting at once), sends GET /hold on each, waits for
 *     each one's "OK\n" reply, prints a "ready" line, then holds them all until stdin is closed (or
 *     a line arrives) or SECONDS pass, closes them and prints a "done" line.
 *
 * Output: one JSON object per line on stdout. Exit status 0 unless the arguments were bad or the
 * run could not be done at all; errors during the run are counted, not fatal.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MODE_RATE, MODE_BULK, MODE_HOLD };
enum { ST_IDLE, ST_CONNECTING, ST_READING };

typedef struct {
  int fd;
  int state;
  uint64_t got;
  uint64_t want; /* exact reply length expected */
  double started;
} conn_t;

static int mode;
static int port;
static int conc = 50;
static double seconds = 10;
static uint64_t maxcount = UINT64_MAX;
static uint64_t bulk_bytes;
static uint64_t reply_len;
static char request[160];
static size_t request_len;
static struct sockaddr_in addr;
static const char *target = "127.0.0.1";
static int ep;

static uint64_t started_n, ok_n, err_connect, err_addr, err_reset, err_short, err_other, bytes_total;
static uint32_t *lat_us;
static uint64_t lat_cap;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* "GET <path> HTTP/1.0" plus headers; for the rate test padded to exactly 100 bytes. */
static void build_request(const char *path, int pad_to) {
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Pad: ", path);
  int pad = pad_to - n - 4;
  if (pad < 1) pad = 1;
  memset(request + n, 'x', (size_t)pad);
  memcpy(request + n + pad, "\r\n\r\n", 4);
  request_len = (size_t)(n + pad + 4);
}

static int open_conn(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  c->fd = fd;
  c->got = 0;
  c->started = now();
  c->state = ST_CONNECTING;
  started_n++;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    if (errno == EADDRNOTAVAIL) err_addr++;
    else err_connect++;
    close(fd);
    c->fd = -1;
    c->state = ST_IDLE;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
  return 0;
}

static void finish(conn_t *c) {
  close(c->fd); /* also leaves the epoll set */
  c->fd = -1;
  c->state = ST_IDLE;
}

/* 1 when the connection is done (ok, failed, or, in hold mode, its OK line read); 0 to keep waiting. */
static int on_event(conn_t *c, char *buf, size_t buflen) {
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      err_connect++;
      finish(c);
      return 1;
    }
    if (send(c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len) {
      err_other++;
      finish(c);
      return 1;
    }
    c->state = ST_READING;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl mod");
    return 0;
  }
  for (;;) {
    ssize_t r = recv(c->fd, buf, buflen, 0);
    if (r > 0) {
      c->got += (uint64_t)r;
      bytes_total += (uint64_t)r;
      if (mode == MODE_HOLD && c->got >= c->want) return 1; /* the OK line: keep it open */
      continue;
    }
    if (r == 0) {
      if (c->got == c->want) {
        ok_n++;
        if (lat_us && ok_n <= lat_cap) lat_us[ok_n - 1] = (uint32_t)((now() - c->started) * 1e6);
      } else {
        err_short++;
      }
      finish(c);
      return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) err_reset++;
    else err_other++;
    finish(c);
    return 1;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void print_errors(void) {
  printf("\"errors\":{\"connect\":%llu,\"addrnotavail\":%llu,\"reset\":%llu,\"short\":%llu,\"other\":%llu}",
         (unsigned long long)err_connect, (unsigned long long)err_addr, (unsigned long long)err_reset,
         (unsigned long long)err_short, (unsigned long long)err_other);
}

static int run_rate(void) {
  conn_t *conns = calloc((size_t)conc, sizeof *conns);
  char buf[4096];
  struct epoll_event events[256];
  lat_cap = 4000000;
  lat_us = malloc(lat_cap * sizeof *lat_us);
  if (!conns || !lat_us) die("malloc");
  double cpu0 = cpu_seconds();
  double t0 = now(), stop_at = t0 + seconds, hard_stop = stop_at + 5, t_last = t0;
  int active = 0, stopping = 0;
  for (int i = 0; i < conc; i++) {
    conns[i].fd = -1;
    conns[i].want = reply_len;
  }
  while (active > 0 || !stopping) {
    double t = now();
    if (!stopping && (t >= stop_at || started_n >= maxcount)) stopping = 1;
    if (stopping && t >= hard_stop) break;
    if (!stopping && active < conc) {
      /* fill empty slots (at start, or after a connect that failed at once) */
      for (int i = 0; i < conc && started_n < maxcount; i++)
        if (conns[i].fd < 0 && open_conn(&conns[i]) == 0) active++;
      if (active == 0) {
        usleep(1000);
        continue;
      }
    }
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (on_event(c, buf, sizeof buf)) {
        active--;
        t_last = now();
        if (!stopping && t_last < stop_at && started_n < maxcount && open_conn(c) == 0) active++;
      }
    }
  }
  double elapsed = t_last - t0;
  uint64_t nlat = ok_n < lat_cap ? ok_n : lat_cap;
  qsort(lat_us, nlat, sizeof *lat_us, cmp_u32);
  unsigned p50 = nlat ? lat_us[nlat / 2] : 0, p99 = nlat ? lat_us[(nlat * 99) / 100] : 0;
  printf("{\"mode\":\"rate\",\"port\":%d,\"conc\":%d,\"started\":%llu,\"ok\":%llu,\"abandoned\":%d,"
         "\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"cpu_s\":%.3f,",
         port, conc, (unsigned long long)started_n, (unsigned long long)ok_n, active, elapsed,
         elapsed > 0 ? (double)ok_n / elapsed : 0.0, p50, p99, cpu_seconds() - cpu0);
  print_errors();
  printf("}\n");
  return 0;
}

static int run_bulk(void) {
  conn_t *conns = calloc((size_t)conc, sizeof *conns);
  size_t buflen = 1 << 20;
  char *buf = malloc(buflen);
  struct epoll_event events[64];
  if (!conns || !buf) die("malloc");
  double cpu0 = cpu_seconds();
  double t0 = now(), deadline = t0 + seconds;
  int active = 0, timed_out = 0;
  for (int i = 0; i < conc; i++) {
    conns[i].want = bulk_bytes;
    if (open_conn(&conns[i]) == 0) active++;
  }
  while (active > 0) {
    if (now() >= deadline) {
      timed_out = 1;
      break;
    }
    int n = epoll_wait(ep, events, 64, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++)
      if (on_event(events[i].data.ptr, buf, buflen)) active--;
  }
  double elapsed = now() - t0;
  printf("{\"mode\":\"bulk\",\"port\":%d,\"conns\":%d,\"bytes\":%llu,\"ok\":%llu,\"timedOut\":%s,"
         "\"seconds\":%.3f,\"gibps\":%.3f,\"cpu_s\":%.3f,",
         port, conc, (unsigned long long)bytes_total, (unsigned long long)ok_n, timed_out ? "true" : "false",
         elapsed, (double)bytes_total / elapsed / (1024.0 * 1024 * 1024), cpu_seconds() - cpu0);
  print_errors();
  printf("}\n");
  return 0;
}

static int run_hold(void) {
  conn_t *conns = calloc((size_t)conc, sizeof *conns);
  char buf[4096];
  struct epoll_event events[256];
  if (!conns) die("malloc");
  double t0 = now(), deadline = t0 + seconds;
  int next = 0, connecting = 0, held = 0, failed = 0;
  while (held + failed < conc && now() < deadline) {
    while (next < conc && connecting < 256) {
      conns[next].want = 3; /* "OK\n" */
      if (open_conn(&conns[next]) == 0) connecting++;
      else failed++;
      next++;
    }
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (on_event(c, buf, sizeof buf)) {
        connecting--;
        if (c->fd >= 0) {
          held++;
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        } else {
          failed++;
        }
      }
    }
  }
  printf("{\"mode\":\"hold\",\"event\":\"ready\",\"held\":%d,\"failed\":%d,\"seconds\":%.3f,", held, failed,
         now() - t0);
  print_errors();
  printf("}\n");
  fflush(stdout);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  int watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0;
  while (now() < deadline) {
    int n = epoll_wait(ep, events, 1, 200);
    if (n > 0 && watch_stdin) break;
  }
  int closed = 0;
  for (int i = 0; i < conc; i++)
    if (conns[i].fd >= 0) {
      close(conns[i].fd);
      closed++;
    }
  printf("{\"mode\":\"hold\",\"event\":\"done\",\"closed\":%d,\"seconds\":%.3f}\n", closed, now() - t0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: loadgen rate|bulk|hold [-a ADDR] -p PORT [-c N] [-d SECONDS] [-n MAX] [-r REPLY] [-b BYTES]\n");
    return 2;
  }
  if (strcmp(argv[1], "rate") == 0) mode = MODE_RATE;
  else if (strcmp(argv[1], "bulk") == 0) mode = MODE_BULK;
  else if (strcmp(argv[1], "hold") == 0) mode = MODE_HOLD;
  else {
    fprintf(stderr, "loadgen: unknown mode %s\n", argv[1]);
    return 2;
  }
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "a:p:c:d:n:b:r:")) != -1) {
    switch (opt) {
      case 'a': target = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': conc = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'n': maxcount = strtoull(optarg, NULL, 10); break;
      case 'b': bulk_bytes = strtoull(optarg, NULL, 10); break;
      case 'r': reply_len = strtoull(optarg, NULL, 10); break;
      default: return 2;
    }
  }
  if (port <= 0 || port > 65535 || conc <= 0 || seconds <= 0 || seconds > 3600) {
    fprintf(stderr, "loadgen: bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, target, &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: -a %s is not an IPv4 address\n", target);
    return 2;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  switch (mode) {
    case MODE_RATE:
      if (reply_len == 0) {
        fprintf(stderr, "loadgen: rate needs -r REPLY_BYTES\n");
        return 2;
      }
      build_request("/", 100);
      return run_rate();
    case MODE_BULK: {
      if (bulk_bytes == 0) {
        fprintf(stderr, "loadgen: bulk needs -b BYTES\n");
        return 2;
      }
      char path[64];
      snprintf(path, sizeof path, "/bulk/%llu", (unsigned long long)bulk_bytes);
      build_request(path, 0);
      return run_bulk();
    }
    default:
      build_request("/hold", 0);
      return run_hold();
  }
}
