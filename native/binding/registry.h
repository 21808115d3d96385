// Self-registration of binding modules.
//
// Each native/binding/<concern>_binding.cc defines a function that adds its exports and
// registers it with a file-scope `Registrar`. Only plain function pointers are kept in static
// storage (never JS values), so the addon stays context-aware: the functions run once per
// Node environment (main thread, each worker, each Electron context) from AlignDetrAddon's
// constructor.
#pragma once

#include <napi.h>

#include <vector>

namespace adetr::binding {

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);

std::vector<RegisterFn>& registeredModules();

struct Registrar {
  explicit Registrar(RegisterFn fn) { registeredModules().push_back(fn); }
};

}  // namespace adetr::binding
