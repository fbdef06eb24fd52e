{
  "targets": [
    {
      "target_name": "handoff",
      "sources": [
        "native/addon.c",
        "native/endpoint.c",
        "native/channel-io.c",
        "native/listener-io.c",
        "native/tcp-acceptor.c",
        "native/errors.c",
        "native/notify-io.c"
      ],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
