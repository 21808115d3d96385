// Translation of C++ exceptions into JS exceptions at the N-API boundary.
//
// Every function exported to JS is wrapped in Guarded<>, so no C++ exception can escape into
// Node (which would abort the process). adetr::ArgError keeps its kind (TypeError /
// RangeError); CheckpointError and NonFiniteLossError become Errors with a `code` (and, for the
// latter, `step` and `term`) that lib/ maps to its own error classes; c10::Error becomes an
// Error carrying libtorch's message without its C++ backtrace; anything else becomes a plain
// Error.
#pragma once

#include <napi.h>

#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/arg_error.h"
#include "common/checkpoint_error.h"
#include "common/distributed_error.h"
#include "common/non_finite_loss_error.h"

namespace adetr::binding {

enum class ErrorKind { None, Type, Range, Checkpoint, NonFiniteLoss, Distributed, Generic };

// What a caught exception carries besides its kind and message (NonFiniteLoss: step and term;
// Distributed: the ranks found responsible).
struct ErrorData {
  int64_t step = 0;
  std::string term;
  std::vector<int> ranks;
};

// Creates the JS error object for a kind and message (call on the JS thread only).
inline Napi::Error makeJsError(Napi::Env env, ErrorKind kind, const std::string& message, const ErrorData& data = {}) {
  switch (kind) {
    case ErrorKind::Type: return Napi::TypeError::New(env, message);
    case ErrorKind::Range: return Napi::RangeError::New(env, message);
    case ErrorKind::Checkpoint: {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("code", Napi::String::New(env, "ERR_ALIGN_DETR_CHECKPOINT"));
      return e;
    }
    case ErrorKind::NonFiniteLoss: {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("code", Napi::String::New(env, "ERR_ALIGN_DETR_NON_FINITE_LOSS"));
      e.Set("step", Napi::Number::New(env, static_cast<double>(data.step)));
      e.Set("term", Napi::String::New(env, data.term));
      return e;
    }
    case ErrorKind::Distributed: {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("code", Napi::String::New(env, "ERR_ALIGN_DETR_DISTRIBUTED"));
      Napi::Array ranks = Napi::Array::New(env, data.ranks.size());
      for (size_t i = 0; i < data.ranks.size(); ++i)
        ranks.Set(static_cast<uint32_t>(i), Napi::Number::New(env, data.ranks[i]));
      e.Set("ranks", ranks);
      return e;
    }
    default: return Napi::Error::New(env, message);
  }
}

// The message of an exception; for libtorch's errors without the C++ backtrace.
inline std::string errorMessage(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

// Runs `fn`, classifying whatever it throws (`data` receives a NonFiniteLossError's step and
// term). Usable off the JS thread (it never touches napi).
template <typename Fn>
ErrorKind runCatching(Fn&& fn, std::string& message, ErrorData* data = nullptr) {
  try {
    fn();
    return ErrorKind::None;
  } catch (const ArgError& e) {
    message = e.what();
    return e.kind() == ArgError::Kind::Type ? ErrorKind::Type : ErrorKind::Range;
  } catch (const CheckpointError& e) {
    message = e.what();
    return ErrorKind::Checkpoint;
  } catch (const DistributedError& e) {
    message = e.what();
    if (data) data->ranks = e.ranks;
    return ErrorKind::Distributed;
  } catch (const NonFiniteLossError& e) {
    message = e.what();
    if (data) *data = ErrorData{e.step, e.term};
    return ErrorKind::NonFiniteLoss;
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
    return ErrorKind::Generic;
  } catch (const std::exception& e) {
    message = errorMessage(e);
    return ErrorKind::Generic;
  } catch (...) {
    message = "unknown native error";
    return ErrorKind::Generic;
  }
}

// Runs `fn` (returning a Napi::Value) so that every C++ exception reaches JS as a JS exception.
template <typename Fn>
Napi::Value callGuarded(Napi::Env env, Fn&& fn) {
  Napi::Value result;
  std::string message;
  ErrorData data;
  ErrorKind kind = ErrorKind::None;
  try {
    result = fn();
  } catch (const Napi::Error&) {
    throw;  // already a JS exception (node-addon-api C++ exception mode)
  } catch (...) {
    kind = runCatching([] { throw; }, message, &data);
  }
  if (kind != ErrorKind::None) throw makeJsError(env, kind, message, data);
  return result;
}

// Wraps an exported binding function with callGuarded.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&] { return Fn(info); });
}

}  // namespace adetr::binding
