/*
 * The endpoint's lifecycle: construction, polling, ref/unref, close, and delivery of events
 * to JavaScript. The socket I/O itself lives in channel-io.c and listener-io.c.
 *
 * Lifetime, without any GC finalizer:
 *   open      The JavaScript object wraps the struct (napi_wrap, no finalizer) and a strong
 *             reference keeps the object alive, as an open net.Socket is kept alive.
 *   close()   napi_remove_wrap detaches the struct from the object, uv_close() stops the poll,
 *             then close() releases the fd (libuv allows closing the fd right after uv_close).
 *   on_closed Runs on the loop once libuv is done with the handle: drops the references and
 *             frees the struct.
 *   teardown  An async env cleanup hook closes the same way, and Node runs the loop until
 *             on_closed reports back (napi_remove_async_cleanup_hook). That matters: a worker
 *             thread unloads the addon after its env is freed, so a close callback still
 *             pending then would jump into unmapped code. At teardown on_closed touches no
 *             napi_env (it may already be gone), only frees memory.
 * Nothing of ours is ever queued for the GC, and memory is released at a known point.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handoff.h"

static void on_poll(uv_poll_t* handle, int status, int events);
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void* arg);

static void release_references(endpoint* ep) {
  napi_env env = ep->env;
  if (ep->async != NULL) napi_async_destroy(env, ep->async);
  ep->async = NULL;
  if (ep->callback != NULL) napi_delete_reference(env, ep->callback);
  ep->callback = NULL;
  if (ep->local_address != NULL) napi_delete_reference(env, ep->local_address);
  ep->local_address = NULL;
  if (ep->self != NULL) napi_delete_reference(env, ep->self); /* the object is collectable now */
  ep->self = NULL;
}

/* Last step of a close: runs on the loop once libuv no longer touches the handle. */
static void on_closed(uv_handle_t* handle) {
  endpoint* ep = handle->data;
  if (!ep->teardown) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(ep->env, &scope) == napi_ok) {
      release_references(ep);
      napi_close_handle_scope(ep->env, scope);
    }
  }
  if (ep->cleanup != NULL) napi_remove_async_cleanup_hook(ep->cleanup); /* needs no env */
  free(ep);
}

/* Stops polling and closes the fd; on_closed finishes. Only ever runs once per endpoint. */
static void shutdown_endpoint(endpoint* ep) {
  if (ep->fd < 0) return;
  ep->events = 0;
  uv_close((uv_handle_t*)&ep->poll, on_closed); /* before close(fd), never after */
  close(ep->fd); /* on Linux the fd is released even if close() reports EINTR */
  ep->fd = -1;
}

/* Env teardown: close if still open, and in any case keep the env from touching napi in
 * on_closed. Node waits for on_closed to remove the hook. */
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void* arg) {
  endpoint* ep = arg;
  ep->teardown = 1;
  shutdown_endpoint(ep);
}

/* The struct behind `this`, or NULL once closed (the wrap is removed by close()). Methods
 * treat NULL as "closed": send() answers -EBADF, the others do nothing. */
endpoint* handoff_endpoint_this(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}

/* Calls the JavaScript callback. Returns EMIT_OK; EMIT_THREW if it threw (the exception is
 * reported as uncaught, like one thrown from any event listener, and JavaScript owns whatever
 * it was given); or EMIT_NOT_RUN if JavaScript could not run at all (a worker being
 * terminated), in which case the caller still owns the fds it meant to hand over. */
int handoff_emit(endpoint* ep, size_t argc, napi_value* argv) {
  napi_env env = ep->env;
  napi_value fn, recv;
  if (napi_get_reference_value(env, ep->callback, &fn) != napi_ok || fn == NULL) return EMIT_NOT_RUN;
  napi_get_undefined(env, &recv);
  if (napi_call_function(env, recv, fn, argc, argv, NULL) == napi_ok) return EMIT_OK;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) return EMIT_NOT_RUN;
  napi_value exception;
  napi_get_and_clear_last_exception(env, &exception);
  napi_fatal_exception(env, exception);
  return EMIT_THREW;
}

void handoff_emit_error(endpoint* ep, int err, const char* syscall) {
  napi_value argv[2] = {handoff_int(ep->env, EV_ERROR), handoff_errno_error(ep->env, err, syscall)};
  handoff_emit(ep, 2, argv);
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  endpoint* ep = handle->data;
  if (ep->fd < 0) return;
  napi_env env = ep->env;
  napi_handle_scope scope;
  napi_callback_scope callback_scope;
  napi_value resource;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, ep->self, &resource) != napi_ok ||
      napi_open_callback_scope(env, resource, ep->async, &callback_scope) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  if (status < 0) {
    /* libuv reports EPOLLERR as UV_EBADF and stops the handle. The socket's pending error
     * tells what really happened: on a channel, ECONNRESET means the peer went away while
     * our messages sat unread in its queue, which is a hang-up, not a failure. */
    uv_poll_stop(handle);
    ep->events = 0;
    int err = -status, pending = 0;
    socklen_t len = sizeof pending;
    if (getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &pending, &len) == 0 && pending != 0) err = pending;
    if (ep->kind == KIND_CHANNEL && (err == ECONNRESET || err == EPIPE)) {
      /* Reading SO_ERROR cleared the error, and the messages the peer sent before it hung up may
       * still wait in our queue (their fds too): poll for reading again, so they are read and
       * delivered before the EOF that follows them. Only if that cannot be, hang up now. */
      if (uv_poll_start(handle, UV_READABLE, on_poll) == 0) ep->events = UV_READABLE;
      else handoff_channel_hangup(ep);
    } else {
      handoff_emit_error(ep, err, "poll");
    }
  } else if (ep->kind == KIND_LISTENER) {
    handoff_listener_readable(ep);
  } else if (ep->kind == KIND_TCP_ACCEPTOR) {
    handoff_tcp_readable(ep);
  } else {
    /* Read first: messages the peer sent before hanging up are delivered before its EOF. */
    if (events & UV_READABLE) handoff_channel_readable(ep);
    if ((events & UV_WRITABLE) && (ep->events & UV_WRITABLE) && ep->fd >= 0) {
      napi_value argv[1] = {handoff_int(env, EV_WRITABLE)};
      handoff_emit(ep, 1, argv);
    }
  }
  napi_close_callback_scope(env, callback_scope); /* runs process.nextTick queue and microtasks */
  napi_close_handle_scope(env, scope);
}

/* new Endpoint(fd, kind, callback) — takes ownership of fd only if it returns. */
static napi_value endpoint_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  int32_t fd = -1, kind = -1;
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int32(env, argv[1], &kind) != napi_ok ||
      (kind != KIND_CHANNEL && kind != KIND_LISTENER && kind != KIND_TCP_ACCEPTOR) ||
      napi_typeof(env, argv[2], &type) != napi_ok ||
      type != napi_function) {
    napi_throw_type_error(env, NULL, "new Endpoint(fd: number, kind: 0 | 1 | 2, callback: Function)");
    return NULL;
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;

  endpoint* ep = calloc(1, sizeof *ep);
  if (ep == NULL) {
    handoff_throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  ep->env = env;
  ep->fd = -1; /* not ours until everything below succeeded: on a throw the caller keeps it */
  ep->kind = kind;
  ep->poll.data = ep;
  napi_get_instance_data(env, (void**)&ep->recv_buf);
  napi_value name;
  napi_create_string_utf8(env,
                          kind == KIND_LISTENER       ? "HandoffListener"
                          : kind == KIND_TCP_ACCEPTOR ? "TcpAcceptor"
                                                      : "HandoffChannel",
                          NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &ep->callback) != napi_ok ||
      napi_async_init(env, self, name, &ep->async) != napi_ok ||
      napi_create_reference(env, self, 1, &ep->self) != napi_ok ||
      (kind == KIND_TCP_ACCEPTOR && handoff_tcp_setup(ep, fd) < 0)) { /* it threw */
    release_references(ep);
    free(ep);
    return NULL;
  }
  int rc = uv_poll_init_socket(loop, &ep->poll, fd);
  if (rc < 0) { /* the handle was never initialised: no uv_close needed */
    release_references(ep);
    free(ep);
    handoff_throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  /* From here the handle exists and must go through uv_close; on_closed frees ep. */
  rc = uv_poll_start(&ep->poll, UV_READABLE, on_poll);
  if (rc < 0 || napi_wrap(env, self, ep, NULL, NULL, NULL) != napi_ok) {
    uv_close((uv_handle_t*)&ep->poll, on_closed);
    if (rc < 0) handoff_throw_errno(env, -rc, "uv_poll_start");
    return NULL;
  }
  ep->events = UV_READABLE;
  ep->fd = fd; /* owned from now on */
  if (napi_add_async_cleanup_hook(env, cleanup_hook, ep, &ep->cleanup) != napi_ok) ep->cleanup = NULL;
  return self;
}

static napi_value endpoint_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_remove_wrap(env, self, &data) != napi_ok || data == NULL) return NULL; /* closed */
  shutdown_endpoint(data);
  return NULL;
}

/* setEvents(readable: boolean, writable: boolean); both false stops polling. */
static napi_value endpoint_set_events(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool readable = false, writable = false;
  endpoint* ep = handoff_endpoint_this(env, info, &argc, argv);
  if (ep == NULL) return NULL;
  if (argc < 2 || napi_get_value_bool(env, argv[0], &readable) != napi_ok ||
      napi_get_value_bool(env, argv[1], &writable) != napi_ok) {
    napi_throw_type_error(env, NULL, "setEvents(readable: boolean, writable: boolean)");
    return NULL;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (ep->fd < 0 || events == ep->events) return NULL;
  int rc = events != 0 ? uv_poll_start(&ep->poll, events, on_poll) : uv_poll_stop(&ep->poll);
  if (rc < 0) {
    handoff_throw_errno(env, -rc, "uv_poll_start");
    return NULL;
  }
  ep->events = events;
  return NULL;
}

static napi_value endpoint_ref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint* ep = handoff_endpoint_this(env, info, &argc, NULL);
  if (ep != NULL && ep->fd >= 0) uv_ref((uv_handle_t*)&ep->poll);
  return NULL;
}

static napi_value endpoint_unref(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  endpoint* ep = handoff_endpoint_this(env, info, &argc, NULL);
  if (ep != NULL && ep->fd >= 0) uv_unref((uv_handle_t*)&ep->poll);
  return NULL;
}

napi_value handoff_define_endpoint(napi_env env) {
  napi_property_descriptor methods[] = {
      {"send", NULL, handoff_channel_send, NULL, NULL, NULL, napi_default, NULL},
      {"setEvents", NULL, endpoint_set_events, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, endpoint_ref, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, endpoint_unref, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, endpoint_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls = NULL;
  napi_define_class(env, "Endpoint", NAPI_AUTO_LENGTH, endpoint_new, NULL,
                    sizeof methods / sizeof methods[0], methods, &cls);
  return cls;
}
