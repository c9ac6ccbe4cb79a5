{
  "includes": ["libtorch.gypi"],
  "targets": [
    {
      "target_name": "tunekit",
      "sources": ["src/addon.cc", "src/nf4.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(torch_include)",
        "<(torch_api_include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GLIBCXX_USE_CXX11_ABI=<(torch_cxx11_abi)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++20", "-frtti", "-fexceptions", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "ldflags": ["-Wl,--no-as-needed", "-L<(torch_lib)", "-Wl,-rpath,<(torch_lib)"],
      "libraries": ["<@(torch_libraries)"],
      "conditions": [
        ["tunekit_distributed==1", {
          "sources": ["src/distributed.cc"],
          "include_dirs": ["<(gloo_include)"],
          "defines": ["TUNEKIT_DISTRIBUTED"]
        }]
      ]
    }
  ]
}
