# A shim: the one real build is CMakeLists.txt through cmake-js. This target has no sources;
# its action runs that CMake build and copies the addon into build/Release, so `node-gyp
# rebuild` (node-gyp-build's install fallback, prebuildify, Electron rebuild tools) all end
# in the same CMake build.
{
  "targets": [
    {
      "target_name": "align_detr",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/align_detr.node"],
          "action": ["node", "scripts/gyp-cmake-shim.cjs", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
