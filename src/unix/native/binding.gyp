{
  "targets": [
    {
      "target_name": "unix_fd",
      "sources": ["unix.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
