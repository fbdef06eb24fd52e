/*
 * Local delivery's last steps as ONE libuv work item (napi_create_async_work): on a pool thread,
 * the message's last bytes are written into its file (opened O_DSYNC, or written then fsynced),
 * the file is hard-linked into the other Maildirs' new/ and renamed into the first one's, and each
 * new/ is fsynced (opened by path, fsynced, closed: no fd is kept between messages), unless an
 * fsync of that directory is already under way: those directories are handed back to JavaScript,
 * whose group commit (dir-sync.ts) runs an fsync that starts after this call returned, i.e. after
 * the rename.
 *
 * Before, the same steps were four thread-pool round trips in sequence (write, rename, open new/,
 * fsync new/), each waiting for a pool thread and a CPU on a busy machine.
 *
 * Everything goes by path: the Maildir's path is what its readers look at, even after a directory
 * was moved or made again, and the directory fsynced is the one at that path right after the name
 * was put there.
 *
 * JavaScript API:
 *   dir(path) -> external         a directory (its path and a count of fsyncs of it under way)
 *   syncDir(dir) -> Promise<void> fsync of the directory, counted as under way while it runs
 *   dirFsyncs(dir) -> number      fsyncs of it done so far (for tests)
 *   markSyncing(dir, delta)       counts delta more fsyncs as under way (for tests)
 *   place(fileFd, chunks, syncFile, from, name, dirs, links) -> Promise<number[]>
 *       writes chunks (Buffers, in order, every byte) into fileFd, fsyncs it when syncFile,
 *       link(from, dirs[i]/name) for i < links (EEXIST: a delivery made before, fine), then
 *       rename(from, dirs[links]/name) when dirs has more than `links` entries, then fsyncs each
 *       of dirs when this is the only place() naming it and no other fsync of it is under way
 *       (a lone message; otherwise the group commit answers many with one fsync). Resolves with the indices of the dirs NOT
 *       fsynced (busy). Rejects with an Error carrying code (e.g. "ENOSPC"), errno, syscall, stage
 *       ("write", "link", "rename", "sync") and placed (links made; the rename is not).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define MAX_DIRS 256
#define MAX_CHUNKS 1024

typedef struct {
  char* path;
  /* fsyncs of this directory under way (place's own and syncDir's). */
  atomic_int syncing;
  /* place() calls naming it, queued and not completed (changed on the JavaScript thread only). */
  atomic_int placing;
  /* fsyncs of this directory done, for tests (dirFsyncs). */
  atomic_uint fsyncs;
} dir_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  /* Keep the chunks' Buffers and the dirs' externals alive until complete. */
  napi_ref keep;
  /* inputs */
  int file_fd;
  int sync_file;
  struct iovec* iov;
  int iovcnt;
  char* from;
  char* name;
  dir_t** dirs;
  int ndirs;
  int links;
  /* outputs */
  int err;
  const char* stage;
  const char* syscall;
  int placed;
  /* 1: busy (another fsync under way). */
  unsigned char* unsynced;
} place_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep;
  dir_t* dir;
  int err;
} sync_t;

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, NULL, "maildir-commit: N-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static void finalize_dir(napi_env env, void* data, void* hint) {
  free(((dir_t*)data)->path);
  free(data);
}

static char* string_arg(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char* s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value js_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char* path = argc < 1 ? NULL : string_arg(env, argv[0]);
  dir_t* d = calloc(1, sizeof(dir_t));
  if (!d || !path || path[0] == '\0') {
    free(d);
    free(path);
    napi_throw_type_error(env, NULL, "dir(path): path must be a non-empty string");
    return NULL;
  }
  d->path = path;
  atomic_init(&d->syncing, 0);
  atomic_init(&d->placing, 0);
  atomic_init(&d->fsyncs, 0);
  napi_value ext;
  if (napi_create_external(env, d, finalize_dir, NULL, &ext) != napi_ok) {
    free(d->path);
    free(d);
    napi_throw_error(env, NULL, "maildir-commit: cannot create the directory handle");
    return NULL;
  }
  return ext;
}

static napi_value errno_error(napi_env env, int err, const char* syscall, const char* stage, int placed) {
  const char* code = uv_err_name(-err);
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", code, strerror(err), syscall);
  napi_value code_v, message_v, error, v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_v);
  napi_create_error(env, code_v, message_v, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (stage) {
    napi_create_string_utf8(env, stage, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "stage", v);
    napi_create_int32(env, placed, &v);
    napi_set_named_property(env, error, "placed", v);
  }
  return error;
}

/* open, fsync, close the directory at d->path; the caller counts it as under way. */
static int fsync_path(dir_t* d) {
  int fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  if (!err) atomic_fetch_add(&d->fsyncs, 1);
  return err;
}

/* fsync one directory, counted as under way. */
static int sync_dir(dir_t* d) {
  atomic_fetch_add(&d->syncing, 1);
  int err = fsync_path(d);
  atomic_fetch_sub(&d->syncing, 1);
  return err;
}

/* dirFsyncs(dir) -> number: fsyncs of the directory done through this handle (tests). */
static napi_value js_dir_fsyncs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* d = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &d) != napi_ok || !d) {
    napi_throw_type_error(env, NULL, "dirFsyncs(dir): not a directory handle");
    return NULL;
  }
  CHECK(napi_create_uint32(env, atomic_load(&((dir_t*)d)->fsyncs), &out));
  return out;
}

/* markSyncing(dir, delta): counts `delta` more fsyncs as under way (tests: place then leaves the
 * directory to JavaScript, as when a real fsync of it runs). */
static napi_value js_mark_syncing(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* d = NULL;
  int32_t delta;
  if (argc < 2 || napi_get_value_external(env, argv[0], &d) != napi_ok || !d ||
      napi_get_value_int32(env, argv[1], &delta) != napi_ok) {
    napi_throw_type_error(env, NULL, "markSyncing(dir, delta)");
    return NULL;
  }
  atomic_fetch_add(&((dir_t*)d)->syncing, delta);
  return NULL;
}

/* ---- syncDir ---------------------------------------------------------------------------------- */

static void sync_execute(napi_env env, void* data) {
  sync_t* s = data;
  s->err = sync_dir(s->dir);
}

static void sync_complete(napi_env env, napi_status status, void* data) {
  sync_t* s = data;
  if (status != napi_ok && s->err == 0) s->err = ECANCELED;
  if (s->err == 0) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, s->deferred, undef);
  } else {
    napi_reject_deferred(env, s->deferred, errno_error(env, s->err, "fsync", NULL, 0));
  }
  napi_delete_reference(env, s->keep);
  napi_delete_async_work(env, s->work);
  free(s);
}

static napi_value js_sync_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* d = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &d) != napi_ok || !d) {
    napi_throw_type_error(env, NULL, "syncDir(dir): not a directory handle");
    return NULL;
  }
  sync_t* s = calloc(1, sizeof(sync_t));
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  s->dir = d;
  napi_value promise, resource;
  CHECK(napi_create_promise(env, &s->deferred, &promise));
  CHECK(napi_create_reference(env, argv[0], 1, &s->keep));
  CHECK(napi_create_string_utf8(env, "maildirSyncDir", NAPI_AUTO_LENGTH, &resource));
  CHECK(napi_create_async_work(env, NULL, resource, sync_execute, sync_complete, s, &s->work));
  CHECK(napi_queue_async_work(env, s->work));
  return promise;
}

/* ---- place ------------------------------------------------------------------------------------ */

/* Writes every byte of iov (advancing it past short writes). */
static int write_all(int fd, struct iovec* iov, int iovcnt) {
  while (iovcnt > 0) {
    int batch = iovcnt > IOV_MAX ? IOV_MAX : iovcnt;
    ssize_t n = writev(fd, iov, batch);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
      n -= iov->iov_len;
      iov++;
      iovcnt--;
    }
    if (iovcnt > 0 && n > 0) {
      iov->iov_base = (char*)iov->iov_base + n;
      iov->iov_len -= n;
    }
  }
  return 0;
}

#define FAIL(e, st, sc) \
  do {                  \
    p->err = (e);       \
    p->stage = (st);    \
    p->syscall = (sc);  \
    return;             \
  } while (0)

/* dir/name into out (PATH_MAX). */
static int join_path(char* out, const dir_t* d, const char* name) {
  int n = snprintf(out, PATH_MAX, "%s/%s", d->path, name);
  return n < 0 || n >= PATH_MAX ? ENAMETOOLONG : 0;
}

static void place_execute(napi_env env, void* data) {
  place_t* p = data;
  char target[PATH_MAX];
  if (p->iovcnt > 0) {
    int err = write_all(p->file_fd, p->iov, p->iovcnt);
    if (err) FAIL(err, "write", "writev");
  }
  if (p->sync_file && fsync(p->file_fd) != 0) FAIL(errno, "write", "fsync");
  for (int i = 0; i < p->links; i++) {
    int err = join_path(target, p->dirs[i], p->name);
    if (err) FAIL(err, "link", "link");
    if (link(p->from, target) != 0 && errno != EEXIST) FAIL(errno, "link", "link");
    p->placed++;
  }
  if (p->ndirs > p->links) {
    int err = join_path(target, p->dirs[p->links], p->name);
    if (err) FAIL(err, "rename", "rename");
    if (rename(p->from, target) != 0) FAIL(errno, "rename", "rename");
  }
  for (int i = 0; i < p->ndirs; i++) {
    dir_t* d = p->dirs[i];
    int idle = 0;
    /* Only a lone message fsyncs here. With other messages for the same directory under way, or
     * another fsync of it running (it may have started before our rename), JavaScript's group
     * commit runs the next fsync for all of them: under load one fsync answers many messages. */
    if (atomic_load(&d->placing) > 1 || !atomic_compare_exchange_strong(&d->syncing, &idle, 1)) {
      p->unsynced[i] = 1;
      continue;
    }
    int err = fsync_path(d);
    atomic_fetch_sub(&d->syncing, 1);
    if (err) FAIL(err, "sync", "fsync");
  }
}

static void place_free(place_t* p) {
  free(p->iov);
  free(p->from);
  free(p->name);
  free(p->dirs);
  free(p->unsynced);
  free(p);
}

static void place_complete(napi_env env, napi_status status, void* data) {
  place_t* p = data;
  if (status != napi_ok && p->err == 0) {
    p->err = ECANCELED;
    p->stage = "write";
    p->syscall = "writev";
  }
  if (p->err == 0) {
    napi_value list, v;
    napi_create_array(env, &list);
    uint32_t n = 0;
    for (int i = 0; i < p->ndirs; i++) {
      if (!p->unsynced[i]) continue;
      napi_create_int32(env, i, &v);
      napi_set_element(env, list, n++, v);
    }
    napi_resolve_deferred(env, p->deferred, list);
  } else {
    napi_reject_deferred(env, p->deferred, errno_error(env, p->err, p->syscall, p->stage, p->placed));
  }
  for (int i = 0; i < p->ndirs; i++) atomic_fetch_sub(&p->dirs[i]->placing, 1);
  napi_delete_reference(env, p->keep);
  napi_delete_async_work(env, p->work);
  place_free(p);
}

static napi_value place_fail(napi_env env, place_t* p, const char* message) {
  place_free(p);
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* place(fileFd, chunks, syncFile, from, name, dirs, links) */
static napi_value js_place(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "place: 7 arguments expected");
    return NULL;
  }
  place_t* p = calloc(1, sizeof(place_t));
  if (!p) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int32_t fd, links;
  bool sync_file;
  uint32_t nchunks, ndirs;
  bool is_array;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return place_fail(env, p, "place: fileFd must be a non-negative integer");
  p->file_fd = fd;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &nchunks) != napi_ok || nchunks > MAX_CHUNKS)
    return place_fail(env, p, "place: chunks must be an array of at most 1024 Buffers");
  if (napi_get_value_bool(env, argv[2], &sync_file) != napi_ok)
    return place_fail(env, p, "place: syncFile must be a boolean");
  p->sync_file = sync_file;
  p->from = string_arg(env, argv[3]);
  p->name = string_arg(env, argv[4]);
  if (!p->from || !p->name || strchr(p->name, '/') || p->name[0] == '\0')
    return place_fail(env, p, "place: from must be a path and name a plain file name");
  if (napi_is_array(env, argv[5], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[5], &ndirs) != napi_ok || ndirs > MAX_DIRS)
    return place_fail(env, p, "place: dirs must be an array of at most 256 directory handles");
  if (napi_get_value_int32(env, argv[6], &links) != napi_ok || links < 0 || (uint32_t)links > ndirs)
    return place_fail(env, p, "place: links must be between 0 and dirs.length");
  p->links = links;
  p->ndirs = (int)ndirs;
  p->iov = calloc(nchunks > 0 ? nchunks : 1, sizeof(struct iovec));
  p->dirs = calloc(ndirs > 0 ? ndirs : 1, sizeof(dir_t*));
  p->unsynced = calloc(ndirs > 0 ? ndirs : 1, 1);
  if (!p->iov || !p->dirs || !p->unsynced) return place_fail(env, p, "place: out of memory");
  for (uint32_t i = 0; i < nchunks; i++) {
    napi_value chunk;
    bool is_typed;
    void* base;
    size_t len;
    napi_typedarray_type type;
    napi_value ab;
    size_t offset;
    if (napi_get_element(env, argv[1], i, &chunk) != napi_ok ||
        napi_is_typedarray(env, chunk, &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env, chunk, &type, &len, &base, &ab, &offset) != napi_ok ||
        type != napi_uint8_array)
      return place_fail(env, p, "place: every chunk must be a Uint8Array");
    if (len == 0) continue;
    p->iov[p->iovcnt].iov_base = base;
    p->iov[p->iovcnt].iov_len = len;
    p->iovcnt++;
  }
  for (uint32_t i = 0; i < ndirs; i++) {
    napi_value v;
    void* d = NULL;
    if (napi_get_element(env, argv[5], i, &v) != napi_ok || napi_get_value_external(env, v, &d) != napi_ok ||
        !d)
      return place_fail(env, p, "place: every dir must be a directory handle");
    p->dirs[i] = d;
  }
  /* One object holding what must outlive the call: the chunks and the directory handles. */
  napi_value keep, promise, resource;
  if (napi_create_array_with_length(env, 2, &keep) != napi_ok) return place_fail(env, p, "place: N-API");
  napi_set_element(env, keep, 0, argv[1]);
  napi_set_element(env, keep, 1, argv[5]);
  if (napi_create_reference(env, keep, 1, &p->keep) != napi_ok) return place_fail(env, p, "place: N-API");
  for (int i = 0; i < p->ndirs; i++) atomic_fetch_add(&p->dirs[i]->placing, 1);
  if (napi_create_promise(env, &p->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "maildirPlace", NAPI_AUTO_LENGTH, &resource) != napi_ok ||
      napi_create_async_work(env, NULL, resource, place_execute, place_complete, p, &p->work) != napi_ok ||
      napi_queue_async_work(env, p->work) != napi_ok) {
    for (int i = 0; i < p->ndirs; i++) atomic_fetch_sub(&p->dirs[i]->placing, 1);
    napi_delete_reference(env, p->keep);
    return place_fail(env, p, "place: cannot queue the work");
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "dir", NAPI_AUTO_LENGTH, js_dir, NULL, &fn);
  napi_set_named_property(env, exports, "dir", fn);
  napi_create_function(env, "syncDir", NAPI_AUTO_LENGTH, js_sync_dir, NULL, &fn);
  napi_set_named_property(env, exports, "syncDir", fn);
  napi_create_function(env, "dirFsyncs", NAPI_AUTO_LENGTH, js_dir_fsyncs, NULL, &fn);
  napi_set_named_property(env, exports, "dirFsyncs", fn);
  napi_create_function(env, "markSyncing", NAPI_AUTO_LENGTH, js_mark_syncing, NULL, &fn);
  napi_set_named_property(env, exports, "markSyncing", fn);
  napi_create_function(env, "place", NAPI_AUTO_LENGTH, js_place, NULL, &fn);
  napi_set_named_property(env, exports, "place", fn);
  return exports;
}
