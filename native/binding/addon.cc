// Addon entry point: builds the per-environment exports.
#include "binding/addon.h"

#include "binding/registry.h"
#include "binding/tensor_wrap.h"

namespace adetr::binding {

std::vector<RegisterFn>& registeredModules() {
  static std::vector<RegisterFn> modules;  // function pointers only: no JS state
  return modules;
}

AlignDetrAddon::AlignDetrAddon(Napi::Env env, Napi::Object exports) {
  Napi::Function tensorClass = TensorWrap::DefineClass(env);
  tensorConstructor = Napi::Persistent(tensorClass);
  exports.Set("TensorHandle", tensorClass);
  for (RegisterFn fn : registeredModules()) fn(env, exports);
}

}  // namespace adetr::binding

using AlignDetrAddon = adetr::binding::AlignDetrAddon;
NODE_API_ADDON(AlignDetrAddon)
