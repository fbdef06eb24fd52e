/* System call failures as JavaScript errors shaped like Node's own: code, errno, syscall. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handoff.h"

napi_value handoff_int(napi_env env, int value) {
  napi_value v = NULL;
  napi_create_int32(env, value, &v);
  return v;
}

/* err is a positive errno value. Returns NULL only if the engine itself failed. */
napi_value handoff_errno_error(napi_env env, int err, const char* syscall) {
  char code[32], text[128], message[256];
  uv_err_name_r(-err, code, sizeof code); /* uv_err_name() leaks on unknown codes; _r does not */
  const char* description = strerror_r(err, text, sizeof text); /* GNU variant */
  snprintf(message, sizeof message, "%s: %s (%s)", syscall, description, code);

  napi_value js_code, js_message, js_syscall, error;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_message) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall) != napi_ok ||
      napi_create_error(env, js_code, js_message, &error) != napi_ok)
    return NULL;
  napi_set_named_property(env, error, "errno", handoff_int(env, -err)); /* negative, as in Node */
  napi_set_named_property(env, error, "syscall", js_syscall);
  return error;
}

void handoff_throw_errno(napi_env env, int err, const char* syscall) {
  napi_value error = handoff_errno_error(env, err, syscall);
  if (error != NULL) napi_throw(env, error);
}

/* errnoError(errno: number (positive or negative), syscall: string): Error */
napi_value handoff_errno_error_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t err = 0;
  char syscall[32] = "unknown";
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &err) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], syscall, sizeof syscall, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "errnoError(errno: number, syscall: string)");
    return NULL;
  }
  return handoff_errno_error(env, err < 0 ? -err : err, syscall);
}
