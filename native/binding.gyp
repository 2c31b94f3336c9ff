{
  "targets": [
    {
      "target_name": "harrier_graph",
      "sources": ["column-graph.cc"],
      "include_dirs": [
        "../node_modules/node-addon-api",
        "../node_modules/usearch/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "USEARCH_USE_OPENMP=0", "USEARCH_USE_NUMKONG=0"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,-z,nodelete"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized", "-Wno-uninitialized"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3"]
      }
    }
  ]
}
