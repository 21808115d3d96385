// Addon entry point: builds the per-environment exports.
#include "binding/addon.h"

#include "binding/registry.h"
#include "binding/tensor_wrap.h"

namespace adetr::binding {

std::vector<RegisteredModule>& registeredModules() {
  static std::vector<RegisteredModule> modules;  // function pointers only: no JS state
  return modules;
}

AlignDetrAddon::AlignDetrAddon(Napi::Env env, Napi::Object exports) {
  Napi::Function tensorClass = TensorWrap::DefineClass(env);
  tensorConstructor = Napi::Persistent(tensorClass);
  exports.Set("TensorHandle", tensorClass);
  for (const RegisteredModule& m : registeredModules()) {
    if (m.plain)
      m.plain(env, exports);
    else
      m.withAddon(env, exports, *this);
  }
}

}  // namespace adetr::binding

using AlignDetrAddon = adetr::binding::AlignDetrAddon;
NODE_API_ADDON(AlignDetrAddon)
