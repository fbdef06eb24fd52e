/* Module entry: the Endpoint class, the socket helpers and the constants JavaScript needs. */
#include <stdlib.h>

#include "handoff.h"

static void free_recv_buffer(napi_env env, void* data, void* hint) {
  free(data);
}

static void set_function(napi_env env, napi_value target, const char* name, napi_callback fn) {
  napi_value value;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok)
    napi_set_named_property(env, target, name, value);
}

static void set_int(napi_env env, napi_value target, const char* name, int value) {
  napi_set_named_property(env, target, name, handoff_int(env, value));
}

NAPI_MODULE_INIT() {
  /* One receive buffer per env (main thread or worker): messages are copied out of it into
   * their own Buffer before any JavaScript runs, so every endpoint of the env can share it. */
  void* recv_buf = malloc(HANDOFF_MAX_DATA);
  if (recv_buf == NULL || napi_set_instance_data(env, recv_buf, free_recv_buffer, NULL) != napi_ok) {
    free(recv_buf);
    napi_throw_error(env, NULL, "handoff: out of memory");
    return NULL;
  }
  napi_value endpoint = handoff_define_endpoint(env);
  if (endpoint == NULL) return NULL;
  napi_set_named_property(env, exports, "Endpoint", endpoint);
  set_function(env, exports, "listen", handoff_listen);
  set_function(env, exports, "connect", handoff_connect);
  set_function(env, exports, "tcpListen", handoff_tcp_listen);
  set_function(env, exports, "closeFd", handoff_close_fd);
  set_function(env, exports, "peerCredentials", handoff_peer_credentials);
  set_function(env, exports, "unlinkSocket", handoff_unlink_socket);
  set_function(env, exports, "errnoError", handoff_errno_error_js);
  set_function(env, exports, "notifySend", handoff_notify_send);
  set_function(env, exports, "datagramBind", handoff_datagram_bind);
  set_function(env, exports, "datagramReceive", handoff_datagram_receive);

  napi_value constants;
  napi_create_object(env, &constants);
  set_int(env, constants, "MAX_DATA", HANDOFF_MAX_DATA);
  set_int(env, constants, "MAX_FDS", HANDOFF_MAX_FDS);
  set_int(env, constants, "KIND_CHANNEL", KIND_CHANNEL);
  set_int(env, constants, "KIND_LISTENER", KIND_LISTENER);
  set_int(env, constants, "EV_MESSAGE", EV_MESSAGE);
  set_int(env, constants, "EV_WRITABLE", EV_WRITABLE);
  set_int(env, constants, "EV_EOF", EV_EOF);
  set_int(env, constants, "EV_ERROR", EV_ERROR);
  set_int(env, constants, "EV_PROTOCOL", EV_PROTOCOL);
  set_int(env, constants, "EV_ACCEPT", EV_ACCEPT);
  set_int(env, constants, "KIND_TCP_ACCEPTOR", KIND_TCP_ACCEPTOR);
  set_int(env, constants, "EV_TCP_ACCEPT", EV_TCP_ACCEPT);
  set_int(env, constants, "TCP_ACCEPT_BATCH", TCP_ACCEPT_BATCH);
  set_int(env, constants, "TCP_ACCEPT_FIELDS", TCP_ACCEPT_FIELDS);
  napi_set_named_property(env, exports, "constants", constants);
  return exports;
}
