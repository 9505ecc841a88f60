{
  "targets": [
    {
      "target_name": "shmframe",
      "sources": ["src/addon.cc", "src/sys.c"],
      "cflags": ["-O2", "-Wall"],
      "cflags_cc": ["-O2", "-Wall", "-Wno-cast-function-type"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    },
    {
      "target_name": "shmframe_sys",
      "type": "shared_library",
      "product_name": "shmframe_sys",
      "sources": ["src/sys.c"],
      "cflags": ["-O2", "-Wall", "-fPIC"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
