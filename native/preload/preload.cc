// The first-stage loader (conventions §8.4 a): a Node-API module that links no torch.
//
//   preload(paths: string[]): string[]   dlopen(RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) each
//                                        file in order; returns the paths loaded. On the first
//                                        failure throws an Error with dlerror()'s text.
//
// Loading libc10 / libtorch_cpu (/ libtorch_cuda) by absolute path before the addon makes the
// addon's DT_NEEDED entries resolve to those already-loaded objects, whatever LD_LIBRARY_PATH
// or the system holds. Plain C Node-API (no node-addon-api) keeps it tiny and exception-free.
#include <dlfcn.h>
#include <node_api.h>

#include <string>
#include <vector>

namespace {

napi_value throwError(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

napi_value Preload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  bool isArray = false;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray) {
    napi_throw_type_error(env, nullptr, "paths: expected an array of absolute file paths");
    return nullptr;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[0], &n);
  std::vector<std::string> paths;
  for (uint32_t i = 0; i < n; ++i) {
    napi_value item;
    napi_valuetype type;
    napi_get_element(env, argv[0], i, &item);
    napi_typeof(env, item, &type);
    if (type != napi_string) {
      napi_throw_type_error(env, nullptr, ("paths[" + std::to_string(i) + "]: expected a string").c_str());
      return nullptr;
    }
    size_t len = 0;
    napi_get_value_string_utf8(env, item, nullptr, 0, &len);
    std::string s(len, '\0');
    napi_get_value_string_utf8(env, item, s.data(), len + 1, &len);
    if (s.empty() || s[0] != '/' || s.find('\0') != std::string::npos) {
      napi_throw_type_error(env, nullptr, ("paths[" + std::to_string(i) + "]: expected an absolute path").c_str());
      return nullptr;
    }
    paths.push_back(s);
  }
  napi_value out;
  napi_create_array_with_length(env, paths.size(), &out);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (dlopen(paths[i].c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == nullptr) {
      const char* why = dlerror();
      return throwError(env, "cannot load " + paths[i] + ": " + (why ? why : "unknown dlopen error"));
    }
    napi_value s;
    napi_create_string_utf8(env, paths[i].c_str(), paths[i].size(), &s);
    napi_set_element(env, out, static_cast<uint32_t>(i), s);
  }
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"preload", nullptr, Preload, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 1, props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
