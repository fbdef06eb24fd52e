/*
 * connect-loop: the client of accept-bench.mjs. One thread, epoll, non-blocking sockets.
 *   connect-loop PORT COUNT CONCURRENCY
 * Keeps CONCURRENCY connections in flight to 127.0.0.1:PORT; each one connects, waits for the
 * server to close (EOF), and closes. Prints one JSON line: { ok, failed, seconds }.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static int ep;
static long started, ok, failed, count;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void start_one(void) {
  if (started >= count) return;
  started++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { failed++; return; }
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(fd);
    failed++;
    start_one();
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  addr.sin_family = AF_INET;
  addr.sin_port = htons(atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  count = atol(argv[2]);
  int conc = atoi(argv[3]);
  ep = epoll_create1(EPOLL_CLOEXEC);
  double t0 = now();
  for (int i = 0; i < conc; i++) start_one();
  struct epoll_event events[256];
  while (ok + failed < count) {
    int n = epoll_wait(ep, events, 256, 5000);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      char buf[64];
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && errno == EAGAIN) continue;
      if (r == 0) ok++;
      else failed++;
      close(fd);
      start_one();
    }
  }
  printf("{\"ok\":%ld,\"failed\":%ld,\"seconds\":%.4f}\n", ok, failed, now() - t0);
  return 0;
}
