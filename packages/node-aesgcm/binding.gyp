{
  "targets": [
    {
      "target_name": "aesgcm",
      "sources": ["src/aesgcm.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
