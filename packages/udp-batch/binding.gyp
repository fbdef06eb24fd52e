{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["native/udp-batch.c", "native/udp-relay.c"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
