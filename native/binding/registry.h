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

class AlignDetrAddon;

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);
// For modules that keep per-environment state (class constructors) in the addon. The addon's
// instance data is not set yet while registration runs, hence the explicit reference.
using RegisterWithAddonFn = void (*)(Napi::Env env, Napi::Object exports, AlignDetrAddon& addon);

struct RegisteredModule {
  RegisterFn plain = nullptr;
  RegisterWithAddonFn withAddon = nullptr;
};

std::vector<RegisteredModule>& registeredModules();

struct Registrar {
  explicit Registrar(RegisterFn fn) { registeredModules().push_back({fn, nullptr}); }
  explicit Registrar(RegisterWithAddonFn fn) { registeredModules().push_back({nullptr, fn}); }
};

}  // namespace adetr::binding
