// Base for native work that runs off the JS thread and settles a Promise.
//
// Run() executes on a libuv pool thread and may throw anything: the exception is classified
// there (no napi calls off-thread) and becomes a TypeError / RangeError / Error rejection on
// the JS thread (see guard.h for the Errors that carry a code). Subclasses hold their inputs by value (at::Tensor
// copies keep storage alive even if JS disposes the handles meanwhile) and build the JS result in Result().
#pragma once

#include <napi.h>

#include <string>

#include "binding/guard.h"

namespace adetr::binding {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Queues the work and returns its promise.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  virtual void Run() = 0;                         // off the JS thread
  virtual Napi::Value Result(Napi::Env env) = 0;  // on the JS thread, after Run() succeeded

 private:
  void Execute() final {
    kind_ = runCatching([this] { Run(); }, message_, &data_);
  }

  // Both callbacks run on the JS thread, but possibly while the environment is being torn down
  // (worker.terminate() with this work in flight): then every napi call fails and throws, and an
  // exception escaping here would abort the whole process. Nothing can be settled any more, so
  // such failures are dropped.
  void OnOK() final {
    try {
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      if (kind_ != ErrorKind::None) {
        deferred_.Reject(makeJsError(env, kind_, message_, data_).Value());
        return;
      }
      try {
        deferred_.Resolve(callGuarded(env, [&] { return Result(env); }));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    } catch (...) {
    }
  }

  void OnError(const Napi::Error& e) final {
    try {
      deferred_.Reject(e.Value());
    } catch (...) {
    }
  }

  Napi::Promise::Deferred deferred_;
  ErrorKind kind_ = ErrorKind::None;
  std::string message_;
  ErrorData data_;  // a NonFiniteLossError's step and term
};

}  // namespace adetr::binding
