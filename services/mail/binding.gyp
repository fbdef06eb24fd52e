{
  "targets": [
    {
      "target_name": "maildir_commit",
      "sources": ["native/maildir-commit.c"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
