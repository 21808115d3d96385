// The native model shared between its JS handle, the trainer and any work in flight.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "model/dino.h"

namespace adetr::binding {

struct ModelState {
  model::Dino model{nullptr};
  std::mutex mutex;  // serialises native work (predict, forward, train steps, saves) on the model
};

// The state behind a JS model handle; TypeError naming `argName` if it is not one or is disposed.
std::shared_ptr<ModelState> modelStateArg(const Napi::Value& value, const char* argName);

// A new JS model handle for `state` (JS thread only).
Napi::Object newModelHandle(Napi::Env env, std::shared_ptr<ModelState> state);

}  // namespace adetr::binding
