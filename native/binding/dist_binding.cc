// N-API surface of data parallelism: joining a c10d process group (asynchronously: the
// rendezvous waits for every rank) and the few collectives lib/ needs besides training's (the
// start-up agreement, gathering evaluation rows, summing metrics, a barrier). Conversion only;
// the work is in native/dist.
#include <napi.h>

#include <ATen/ops/from_blob.h>

#include <cstring>
#include <map>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/class_tag.h"
#include "binding/guard.h"
#include "binding/process_group_state.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "common/arg_error.h"
#include "dist/data_parallel.h"

namespace adetr::binding {
namespace {

using dist::ProcessGroup;

// Runs `fn` on a libuv thread; resolves to undefined.
class GroupWorker : public PromiseWorker {
 public:
  GroupWorker(Napi::Env env, std::function<void()> fn) : PromiseWorker(env), fn_(std::move(fn)) {}
  void Run() override { fn_(); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::function<void()> fn_;
};

// Runs `fn` on a libuv thread; resolves to the float64 array it fills.
class RowsWorker : public PromiseWorker {
 public:
  RowsWorker(Napi::Env env, std::function<at::Tensor()> fn) : PromiseWorker(env), fn_(std::move(fn)) {}
  void Run() override { result_ = fn_().contiguous(); }
  Napi::Value Result(Napi::Env env) override {
    auto out = Napi::Float64Array::New(env, static_cast<size_t>(result_.numel()));
    if (result_.numel() > 0) std::memcpy(out.Data(), result_.data_ptr<double>(), sizeof(double) * result_.numel());
    return out;
  }

 private:
  std::function<at::Tensor()> fn_;
  at::Tensor result_;
};

// A copy of a Float64Array as a [n / cols, cols] tensor.
at::Tensor readRows(const Napi::Value& value, const char* argName, int64_t cols) {
  checkType(value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array, argName,
            ": expected a Float64Array");
  auto a = value.As<Napi::Float64Array>();
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  checkRange(n % cols == 0, argName, ": length ", n, " is not a multiple of cols (", cols, ")");
  return at::from_blob(a.Data(), {n / cols, cols}, at::TensorOptions().dtype(at::kDouble)).clone();
}

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL};
  static constexpr const char* kClassName = "ProcessGroupHandle";

  static Napi::Function Define(Napi::Env env) {
    using W = ProcessGroupWrap;
    Napi::Function cls = DefineClass(env, kClassName, std::vector<Napi::ClassPropertyDescriptor<W>>{});
    defineOnPrototype(
        cls, {checkedMethod<W, &W::CheckAgreement>(env, "checkAgreement"),
              checkedMethod<W, &W::AllgatherRows>(env, "allgatherRows"),
              checkedMethod<W, &W::AllreduceSum>(env, "allreduceSum"), checkedMethod<W, &W::Barrier>(env, "barrier"),
              checkedMethod<W, &W::Dispose>(env, "dispose"), checkedGetter<W, &W::Rank>("rank"),
              checkedGetter<W, &W::WorldSize>("worldSize"), checkedGetter<W, &W::Disposed>("disposed")});
    return cls;
  }
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use joinProcessGroup(options)");
    tagInstance<ProcessGroupWrap>(info.Env(), info.This().As<Napi::Object>());
    group_ = *info[0].As<Napi::External<std::shared_ptr<ProcessGroup>>>().Data();
  }
  static Napi::Object New(Napi::Env env, std::shared_ptr<ProcessGroup> group) {
    return addonOf(env).processGroupConstructor.New({Napi::External<std::shared_ptr<ProcessGroup>>::New(env, &group)});
  }

  // checkAgreement({ name: value, ... }): every rank's facts must be equal.
  Napi::Value CheckAgreement(const Napi::CallbackInfo& info) {
    auto g = checked("checkAgreement");
    Napi::Object o = readOptions(info[0], "facts");
    std::map<std::string, std::string> facts;
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      checkType(o.Get(key).IsString(), "facts.", key, ": expected a string");
      facts[key] = o.Get(key).As<Napi::String>().Utf8Value();
    }
    return (new GroupWorker(info.Env(), [g, facts] { g->checkAgreement(facts); }))->Start();
  }
  // allgatherRows(rows: Float64Array, cols): every rank's rows, in rank order.
  Napi::Value AllgatherRows(const Napi::CallbackInfo& info) {
    auto g = checked("allgatherRows");
    const int64_t cols = readInteger(info[1], "cols", 1, 1 << 20);
    at::Tensor rows = readRows(info[0], "rows", cols);
    return (new RowsWorker(info.Env(),
                           [g, rows] { return dist::allgatherRows(*g, rows, "the evaluation gather").reshape({-1}); }))
        ->Start();
  }
  // allreduceSum(values: Float64Array): the element-wise sum over ranks.
  Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
    auto g = checked("allreduceSum");
    at::Tensor v = readRows(info[0], "values", 1).reshape({-1});
    return (new RowsWorker(info.Env(),
                           [g, v]() mutable {
                             g->allreduce(v, ProcessGroup::Reduce::Sum, "the metric all-reduce");
                             return v;
                           }))
        ->Start();
  }
  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    auto g = checked("barrier");
    return (new GroupWorker(info.Env(), [g] { g->barrier("the barrier"); }))->Start();
  }
  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), checked("rank")->rank()); }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), checked("worldSize")->worldSize());
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), group_ == nullptr); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    group_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ProcessGroup> group() const { return group_; }

 private:
  std::shared_ptr<ProcessGroup> checked(const char* what) {
    checkType(group_ != nullptr, "processGroup.", what, ": the process group has been disposed");
    return group_;
  }
  std::shared_ptr<ProcessGroup> group_;
};

// joinProcessGroup({ rank, worldSize, masterAddr, masterPort, timeoutMs?, backend?, cudaDevice?, threads?,
//                    externalStore?, storePrefix? })
Napi::Value JoinProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Object o = readOptions(info[0], "options");
  checkKnownOptionKeys(o, "options", "option",
                       {"rank", "worldSize", "masterAddr", "masterPort", "timeoutMs", "backend", "cudaDevice",
                        "threads", "externalStore", "storePrefix"});
  dist::GroupOptions g;
  g.worldSize = static_cast<int>(readInteger(o.Get("worldSize"), "options.worldSize", 1, 1 << 20));
  g.rank = static_cast<int>(readInteger(o.Get("rank"), "options.rank", 0, g.worldSize - 1));
  checkType(o.Get("masterAddr").IsString(), "options.masterAddr: expected a host name or address string");
  g.masterAddr = o.Get("masterAddr").As<Napi::String>().Utf8Value();
  g.masterPort = static_cast<int>(readInteger(o.Get("masterPort"), "options.masterPort", 1, 65535));
  if (!o.Get("timeoutMs").IsUndefined()) {
    g.timeout = std::chrono::milliseconds(readInteger(o.Get("timeoutMs"), "options.timeoutMs", 1, int64_t{1} << 40));
  }
  if (!o.Get("backend").IsUndefined()) {
    checkType(o.Get("backend").IsString(), "options.backend: expected 'gloo' or 'nccl'");
    g.backend = o.Get("backend").As<Napi::String>().Utf8Value();
  }
  if (!o.Get("cudaDevice").IsUndefined()) {
    g.cudaDevice = static_cast<int>(readInteger(o.Get("cudaDevice"), "options.cudaDevice", 0, 1023));
  }
  if (!o.Get("threads").IsUndefined())
    g.threads = static_cast<int>(readInteger(o.Get("threads"), "options.threads", 1, 64));
  g.externalStore = readBoolOption(o, "options", "externalStore", false);
  if (!o.Get("storePrefix").IsUndefined()) {
    checkType(o.Get("storePrefix").IsString(), "options.storePrefix: expected a string");
    g.storePrefix = o.Get("storePrefix").As<Napi::String>().Utf8Value();
  }

  class JoinWorker : public PromiseWorker {
   public:
    JoinWorker(Napi::Env env, dist::GroupOptions options) : PromiseWorker(env), options_(std::move(options)) {}
    void Run() override { group_ = std::make_shared<ProcessGroup>(options_); }
    Napi::Value Result(Napi::Env env) override { return ProcessGroupWrap::New(env, group_); }

   private:
    dist::GroupOptions options_;
    std::shared_ptr<ProcessGroup> group_;
  };
  return (new JoinWorker(info.Env(), g))->Start();
}

// distributedBackends(): the c10d backends this build has.
Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (const char* b : {"gloo", "nccl"}) {
    if (dist::backendAvailable(b)) out.Set(n++, Napi::String::New(info.Env(), b));
  }
  return out;
}

void registerDist(Napi::Env env, Napi::Object exports, AlignDetrAddon& addon) {
  Napi::Function cls = ProcessGroupWrap::Define(env);
  addon.processGroupConstructor = Napi::Persistent(cls);
  exports.Set("ProcessGroupHandle", cls);
  exports.Set("joinProcessGroup", Napi::Function::New<Guarded<&JoinProcessGroup>>(env, "joinProcessGroup"));
  exports.Set("distributedBackends", Napi::Function::New<Guarded<&DistributedBackends>>(env, "distributedBackends"));
}

const Registrar kRegistrar(&registerDist);

}  // namespace

std::shared_ptr<dist::ProcessGroup> processGroupArg(const Napi::Value& value, const char* argName) {
  ProcessGroupWrap* w = unwrapTagged<ProcessGroupWrap>(value);
  checkType(w != nullptr, argName, ": expected a ProcessGroupHandle");
  checkType(w->group() != nullptr, argName, ": the process group has been disposed");
  return w->group();
}

}  // namespace adetr::binding
