// Per-environment state of the addon (one instance per Node environment: main thread, each
// worker thread, each Electron context). Nothing that refers to JS lives in static storage.
#pragma once

#include <napi.h>

namespace adetr::binding {

class AlignDetrAddon : public Napi::Addon<AlignDetrAddon> {
 public:
  AlignDetrAddon(Napi::Env env, Napi::Object exports);

  // Constructor of the native tensor handle class in this environment.
  Napi::FunctionReference tensorConstructor;
  // Constructor of the native model handle class in this environment.
  Napi::FunctionReference modelConstructor;
  // Constructor of the native trainer handle class in this environment.
  Napi::FunctionReference trainerConstructor;
  // Constructor of the native process group handle class in this environment.
  Napi::FunctionReference processGroupConstructor;
};

// The addon state of the environment `env`.
inline AlignDetrAddon& addonOf(Napi::Env env) { return *env.GetInstanceData<AlignDetrAddon>(); }

}  // namespace adetr::binding
