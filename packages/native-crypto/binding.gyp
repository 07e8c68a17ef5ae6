{
  "targets": [
    {
      "target_name": "native_crypto",
      "sources": ["src/addon.c", "src/aesGcm.c", "src/hkdfSha256.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
