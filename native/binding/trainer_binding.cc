// N-API surface of training: a trainer handle bound to a model, with async step / save, and
// loading a training checkpoint. Conversion only; the work is in native/train.
#include <napi.h>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <cstring>
#include <memory>
#include <type_traits>
#include <variant>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/class_tag.h"
#include "binding/guard.h"
#include "binding/model_state.h"
#include "binding/process_group_state.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "common/arg_error.h"
#include "dist/data_parallel.h"
#include "model/seeded_init.h"
#include "ops/align_loss/align_loss.h"
#include "train/trainer.h"

namespace adetr::binding {
namespace {

struct TrainerState {
  std::shared_ptr<ModelState> model;
  std::unique_ptr<train::Trainer> trainer;
};

// The trainer option table (train/trainer_options.h) as the shared reader's specs.
const std::vector<OptionSpec>& trainerOptionSpecs() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> out;
    for (const auto& f : train::trainerOptionFields()) {
      OptionKind kind = OptionKind::Number;
      switch (f.kind) {
        case train::TrainerOptionKind::Number: kind = OptionKind::Number; break;
        case train::TrainerOptionKind::Integer: kind = OptionKind::Integer; break;
        case train::TrainerOptionKind::Boolean: kind = OptionKind::Boolean; break;
        case train::TrainerOptionKind::Choice: kind = OptionKind::String; break;
        case train::TrainerOptionKind::IntegerList: kind = OptionKind::IntegerList; break;
      }
      out.push_back({f.name, kind, static_cast<int64_t>(f.min), static_cast<int64_t>(f.max)});
    }
    return out;
  }();
  return specs;
}

// lib/trainer.ts's TrainerOptions: read through the table, defaults and ranges from the core.
train::TrainerOptions readTrainerOptions(const Napi::Value& value) {
  Napi::Object o = readOptions(value, "options");
  return train::makeTrainerOptions(readOptionValues(o, "options", trainerOptionSpecs()));
}

// A training batch from JS: images float32 [B,3,H,W], sizes [B][2] (h, w), per-image cxcywh
// boxes and class indices.
struct HostBatch {
  model::ImageBatch batch;
  std::vector<model::Target> targets;
};

HostBatch readBatch(const Napi::Value& value, int64_t numClasses) {
  checkType(value.IsObject(), "batch: expected { images, shape, targets }");
  Napi::Object o = value.As<Napi::Object>();
  Napi::Value shapeV = o.Get("shape");
  std::vector<int64_t> shape = readShape(shapeV, "batch.shape");
  checkRange(shape.size() == 4 && shape[1] == 3, "batch.shape: expected [B, 3, H, W]");
  // Each typed array is viewed right after its own property read and copied before the next
  // read (binding/args.h: the read-once rule).
  const TypedArrayView images = readTypedArray(o.Get("images"), "batch.images", "expected a Float32Array");
  checkType(images.kind == napi_float32_array, "batch.images: expected a Float32Array");
  checkRange(static_cast<int64_t>(images.length) == shape[0] * shape[1] * shape[2] * shape[3],
             "batch.images: length does not match batch.shape");
  HostBatch hb;
  hb.batch.images = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  if (images.byteLength > 0) std::memcpy(hb.batch.images.data_ptr(), images.data, images.byteLength);
  Napi::Value targetsV = o.Get("targets");
  checkType(targetsV.IsArray() && targetsV.As<Napi::Array>().Length() == static_cast<uint32_t>(shape[0]),
            "batch.targets: expected one target per image");
  Napi::Array targets = targetsV.As<Napi::Array>();
  hb.batch.validSizes = at::empty({shape[0], 2}, at::TensorOptions().dtype(at::kLong));
  for (uint32_t b = 0; b < targets.Length(); ++b) {
    const std::string name = "batch.targets[" + std::to_string(b) + "]";
    checkType(targets.Get(b).IsObject(), name, ": expected { boxes, labels, size }");
    Napi::Object t = targets.Get(b).As<Napi::Object>();
    Napi::Value size = t.Get("size");
    checkType(size.IsArray() && size.As<Napi::Array>().Length() == 2, name, ".size: expected [height, width]");
    const int64_t h = readInteger(size.As<Napi::Array>().Get(0u), (name + ".size[0]").c_str(), 1, shape[2]);
    const int64_t w = readInteger(size.As<Napi::Array>().Get(1u), (name + ".size[1]").c_str(), 1, shape[3]);
    hb.batch.validSizes[b][0] = h;
    hb.batch.validSizes[b][1] = w;
    // Both property reads first (getters), then both views, then the copies.
    Napi::Value boxesV = t.Get("boxes"), labelsV = t.Get("labels");
    const std::string boxesName = name + ".boxes", labelsName = name + ".labels";
    const TypedArrayView boxes =
        readTypedArray(boxesV, boxesName.c_str(), "expected a Float32Array (N×4 cxcywh, normalised)");
    const TypedArrayView labels = readTypedArray(labelsV, labelsName.c_str(), "expected an Int32Array");
    checkType(boxes.kind == napi_float32_array, boxesName, ": expected a Float32Array (N×4 cxcywh, normalised)");
    checkType(labels.kind == napi_int32_array, labelsName, ": expected an Int32Array");
    const int64_t n = static_cast<int64_t>(labels.length);
    checkRange(static_cast<int64_t>(boxes.length) == 4 * n, boxesName, ": expected ", 4 * n, " numbers");
    model::Target target;
    target.boxes = at::empty({n, 4}, at::TensorOptions().dtype(at::kFloat));
    target.labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
    const int32_t* labelData = static_cast<const int32_t*>(labels.data);
    int64_t* labelOut = target.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      checkRange(labelData[i] >= 0 && labelData[i] < numClasses, name, ".labels[", i, "]: class index ", labelData[i],
                 " outside [0, ", numClasses, ")");
      labelOut[i] = static_cast<int64_t>(labelData[i]);
    }
    if (n > 0) std::memcpy(target.boxes.data_ptr(), boxes.data, boxes.byteLength);
    auto finite = target.boxes.isfinite().all().item<bool>();
    checkRange(finite, name, ".boxes: contains NaN or infinite values");
    // The sample's id (a DetectionBatch target's image id): per-sample noise seeds derive from it.
    Napi::Value id = t.Get("id");
    if (!id.IsUndefined())
      target.sampleId = readInteger(id, (name + ".id").c_str(), -(int64_t{1} << 53), int64_t{1} << 53);
    hb.targets.push_back(target);
  }
  return hb;
}

// evaluateLoss's options: { returnMatching?, denoising?, seed? } (unknown keys are a TypeError).
train::EvaluateOptions readEvaluateOptions(const Napi::Value& value) {
  Napi::Object o = readOptions(value, "options");
  checkKnownKeys(o, "options", {"returnMatching", "denoising", "seed"});
  train::EvaluateOptions e;
  e.returnMatching = readBoolOption(o, "options", "returnMatching", false);
  e.denoising = readBoolOption(o, "options", "denoising", false);
  Napi::Value seed = o.Get("seed");
  if (!seed.IsUndefined()) {
    checkType(e.denoising, "options.seed: seeds the denoising noise; pass denoising: true with it");
    e.seed = static_cast<uint64_t>(readInteger(seed, "options.seed", 0, (int64_t{1} << 53) - 1));
  }
  return e;
}

Napi::Int32Array int32ArrayOf(Napi::Env env, const at::Tensor& t) {
  auto c = t.to(at::kLong).contiguous();
  const int64_t* d = c.data_ptr<int64_t>();
  Napi::Int32Array a = Napi::Int32Array::New(env, static_cast<size_t>(c.numel()));
  for (int64_t i = 0; i < c.numel(); ++i) a[static_cast<size_t>(i)] = static_cast<int32_t>(d[i]);
  return a;
}

Napi::Float64Array float64ArrayOf(Napi::Env env, const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous();
  Napi::Float64Array a = Napi::Float64Array::New(env, static_cast<size_t>(c.numel()));
  if (c.numel() > 0) std::memcpy(a.Data(), c.data_ptr<double>(), static_cast<size_t>(c.numel()) * sizeof(double));
  return a;
}

// [{ output, layer, suffix, k, images: [{ queries, gts, ranks, primeWeights, k }] }]
Napi::Array matchingArray(Napi::Env env, const std::vector<train::OutputMatchDetail>& matching) {
  Napi::Array out = Napi::Array::New(env, matching.size());
  for (size_t i = 0; i < matching.size(); ++i) {
    const auto& m = matching[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("output", Napi::String::New(env, m.output));
    o.Set("layer", Napi::Number::New(env, static_cast<double>(m.layer)));
    o.Set("suffix", Napi::String::New(env, m.suffix));
    o.Set("k", Napi::Number::New(env, static_cast<double>(m.k)));
    Napi::Array images = Napi::Array::New(env, m.images.size());
    for (size_t b = 0; b < m.images.size(); ++b) {
      const auto& im = m.images[b];
      Napi::Object io = Napi::Object::New(env);
      io.Set("queries", int32ArrayOf(env, im.queries));
      io.Set("gts", int32ArrayOf(env, im.gts));
      io.Set("ranks", int32ArrayOf(env, im.ranks));
      io.Set("primeWeights", float64ArrayOf(env, im.weights));
      io.Set("k", Napi::Number::New(env, static_cast<double>(im.copies)));
      images.Set(static_cast<uint32_t>(b), io);
    }
    o.Set("images", images);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Object stepResultObject(Napi::Env env, const train::StepResult& r, bool withMatching) {
  Napi::Object o = Napi::Object::New(env);
  if (withMatching) o.Set("matching", matchingArray(env, r.matching));
  Napi::Object losses = Napi::Object::New(env);
  for (const auto& [name, value] : r.losses) losses.Set(name, Napi::Number::New(env, value));
  o.Set("losses", losses);
  o.Set("loss", Napi::Number::New(env, r.total));
  o.Set("gradNorm", Napi::Number::New(env, r.gradNorm));
  o.Set("lr", Napi::Number::New(env, r.lr));
  o.Set("step", Napi::Number::New(env, static_cast<double>(r.step)));
  return o;
}

class StepWorker : public PromiseWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<TrainerState> state, HostBatch batch, bool update,
             train::EvaluateOptions options = {})
      : PromiseWorker(env),
        state_(std::move(state)),
        batch_(std::move(batch)),
        update_(update),
        options_(std::move(options)) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->model->mutex);
    result_ = update_ ? state_->trainer->step(batch_.batch, batch_.targets)
                      : state_->trainer->evaluateLoss(batch_.batch, batch_.targets, options_);
  }
  Napi::Value Result(Napi::Env env) override {
    return stepResultObject(env, result_, !update_ && options_.returnMatching);
  }

 private:
  std::shared_ptr<TrainerState> state_;
  HostBatch batch_;
  bool update_;
  train::EvaluateOptions options_;
  train::StepResult result_;
};

class TrainerSaveWorker : public PromiseWorker {
 public:
  TrainerSaveWorker(Napi::Env env, std::shared_ptr<TrainerState> state, std::string path, std::string metadata)
      : PromiseWorker(env), state_(std::move(state)), path_(std::move(path)), metadata_(std::move(metadata)) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->model->mutex);
    state_->trainer->save(path_, metadata_);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<TrainerState> state_;
  std::string path_, metadata_;
};

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  // binding/class_tag.h: the tag every TrainerHandle carries, and the name errors use.
  static constexpr napi_type_tag kTypeTag = {0x3c6ef372fe94f82bULL, 0x510e527fade682d1ULL};
  static constexpr const char* kClassName = "TrainerHandle";

  static Napi::Function Define(Napi::Env env) {
    using W = TrainerWrap;
    Napi::Function cls = DefineClass(env, kClassName, std::vector<Napi::ClassPropertyDescriptor<W>>{});
    defineOnPrototype(
        cls,
        {checkedMethod<W, &W::Step>(env, "step"), checkedMethod<W, &W::EvaluateLoss>(env, "evaluateLoss"),
         checkedMethod<W, &W::Save>(env, "save"), checkedMethod<W, &W::Dispose>(env, "dispose"),
         checkedMethod<W, &W::SetDataParallel>(env, "setDataParallel"), checkedGetter<W, &W::StepCount>("stepCount")});
    return cls;
  }
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "use new Trainer(model, options)");
    tagInstance<TrainerWrap>(info.Env(), info.This().As<Napi::Object>());
    state_ = *info[0].As<Napi::External<std::shared_ptr<TrainerState>>>().Data();
  }
  static Napi::Object New(Napi::Env env, std::shared_ptr<TrainerState> state, AlignDetrAddon& addon) {
    return addon.trainerConstructor.New({Napi::External<std::shared_ptr<TrainerState>>::New(env, &state)});
  }

  // The JS methods; reached through CheckedThis (class_tag.h), which checks `this`.
  Napi::Value Step(const Napi::CallbackInfo& info) { return run(info, true); }
  Napi::Value EvaluateLoss(const Napi::CallbackInfo& info) { return run(info, false); }
  Napi::Value run(const Napi::CallbackInfo& info, bool update) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked(update ? "step" : "evaluateLoss");
      HostBatch batch = readBatch(info[0], s->trainer->model()->config().numClasses);
      train::EvaluateOptions options;
      if (!update) options = readEvaluateOptions(info[1]);
      return (new StepWorker(info.Env(), s, std::move(batch), update, options))->Start();
    });
  }
  Napi::Value Save(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked("save");
      checkType(info[0].IsString(), "path: expected a file path string");
      std::string metadata = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
      return (new TrainerSaveWorker(info.Env(), s, info[0].As<Napi::String>().Utf8Value(), metadata))->Start();
    });
  }
  // setDataParallel(group: ProcessGroupHandle | null, sampleSeededNoise: boolean): joins the
  // group's run (rank 0's weights are broadcast: a collective, hence asynchronous) or leaves it.
  Napi::Value SetDataParallel(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked("setDataParallel");
      std::shared_ptr<dist::ProcessGroup> group;
      if (!info[0].IsNull() && !info[0].IsUndefined()) group = processGroupArg(info[0], "group");
      checkType(info[1].IsBoolean(), "sampleSeededNoise: expected a boolean");
      const bool seeded = info[1].As<Napi::Boolean>().Value();
      class Worker : public PromiseWorker {
       public:
        Worker(Napi::Env env, std::shared_ptr<TrainerState> state, std::shared_ptr<dist::ProcessGroup> group,
               bool seeded)
            : PromiseWorker(env), state_(std::move(state)), group_(std::move(group)), seeded_(seeded) {}
        void Run() override {
          std::lock_guard<std::mutex> lock(state_->model->mutex);
          auto& trainer = *state_->trainer;
          trainer.setStepSync(group_ ? std::make_shared<dist::DataParallel>(group_, *trainer.model()) : nullptr);
          trainer.setSampleSeededNoise(seeded_);
        }
        Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

       private:
        std::shared_ptr<TrainerState> state_;
        std::shared_ptr<dist::ProcessGroup> group_;
        bool seeded_;
      };
      return (new Worker(info.Env(), s, group, seeded))->Start();
    });
  }
  Napi::Value StepCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_ ? static_cast<double>(state_->trainer->stepCount()) : 0);
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();
    return info.Env().Undefined();
  }

 private:
  std::shared_ptr<TrainerState> checked(const char* what) {
    checkType(state_ != nullptr, "trainer.", what, ": trainer has been disposed");
    return state_;
  }
  std::shared_ptr<TrainerState> state_;
};

// createTrainer(model, options) — synchronous: building the optimizer is cheap.
Napi::Value CreateTrainer(const Napi::CallbackInfo& info) {
  auto model = modelStateArg(info[0], "model");
  auto state = std::make_shared<TrainerState>();
  state->model = model;
  state->trainer = std::make_unique<train::Trainer>(model->model, readTrainerOptions(info[1]));
  return TrainerWrap::New(info.Env(), state, *info.Env().GetInstanceData<AlignDetrAddon>());
}

class LoadTrainerWorker : public PromiseWorker {
 public:
  LoadTrainerWorker(Napi::Env env, std::string path, train::TrainerOptions options)
      : PromiseWorker(env), path_(std::move(path)), options_(std::move(options)) {}
  void Run() override {
    state_ = std::make_shared<TrainerState>();
    {
      // Loading constructs (randomly initialises) a model first: not between a seeded
      // creation's draws (model/seeded_init.h).
      std::lock_guard<std::mutex> initLock(model::initialisationMutex());
      state_->trainer = train::Trainer::load(path_, options_, &metadata_);
    }
    state_->model = std::make_shared<ModelState>();
    state_->model->model = state_->trainer->model();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("model", newModelHandle(env, state_->model));
    o.Set("trainer", TrainerWrap::New(env, state_, *env.GetInstanceData<AlignDetrAddon>()));
    o.Set("metadata", Napi::String::New(env, metadata_));
    return o;
  }

 private:
  std::string path_, metadata_;
  train::TrainerOptions options_;
  std::shared_ptr<TrainerState> state_;
};

Napi::Value LoadTrainer(const Napi::CallbackInfo& info) {
  checkType(info[0].IsString(), "path: expected a file path string");
  return (new LoadTrainerWorker(info.Env(), info[0].As<Napi::String>().Utf8Value(), readTrainerOptions(info[1])))
      ->Start();
}

// An option value as JS: number, boolean, string or array of numbers.
Napi::Value optionValueToJs(Napi::Env env, const OptionValue& value) {
  return std::visit(
      [&](const auto& v) -> Napi::Value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>)
          return Napi::Number::New(env, v);
        else if constexpr (std::is_same_v<T, int64_t>)
          return Napi::Number::New(env, static_cast<double>(v));
        else if constexpr (std::is_same_v<T, bool>)
          return Napi::Boolean::New(env, v);
        else if constexpr (std::is_same_v<T, std::string>)
          return Napi::String::New(env, v);
        else {
          Napi::Array a = Napi::Array::New(env, v.size());
          for (size_t i = 0; i < v.size(); ++i)
            a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
          return a;
        }
      },
      value);
}

// trainerOptionFields(): the option table, [{ name, kind, min?, max?, choices?, doc, default }]
// ('number', 'integer', 'boolean', 'choice' or 'integer-list'); defaults are the align recipe's.
Napi::Value TrainerOptionFields(const Napi::CallbackInfo& info) {
  static const char* const kKindNames[] = {"number", "integer", "boolean", "choice", "integer-list"};
  Napi::Env env = info.Env();
  const auto& fields = train::trainerOptionFields();
  const auto defaults = train::trainerOptionValues(train::defaultTrainerOptions());
  Napi::Array out = Napi::Array::New(env, fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const train::TrainerOptionField& f = fields[i];
    Napi::Object item = Napi::Object::New(env);
    item.Set("name", f.name);
    item.Set("kind", kKindNames[static_cast<size_t>(f.kind)]);
    if (f.kind == train::TrainerOptionKind::Number || f.kind == train::TrainerOptionKind::Integer ||
        f.kind == train::TrainerOptionKind::IntegerList) {
      item.Set("min", f.min);
      item.Set("max", f.max);
    }
    if (f.kind == train::TrainerOptionKind::Choice) {
      Napi::Array choices = Napi::Array::New(env, f.choices.size());
      for (size_t c = 0; c < f.choices.size(); ++c) choices.Set(static_cast<uint32_t>(c), f.choices[c]);
      item.Set("choices", choices);
    }
    item.Set("doc", f.doc);
    item.Set("default", optionValueToJs(env, defaults.at(f.name)));
    out.Set(static_cast<uint32_t>(i), item);
  }
  return out;
}

void registerTrainer(Napi::Env env, Napi::Object exports, AlignDetrAddon& addon) {
  Napi::Function cls = TrainerWrap::Define(env);
  addon.trainerConstructor = Napi::Persistent(cls);
  exports.Set("TrainerHandle", cls);
  exports.Set("createTrainer", Napi::Function::New<Guarded<&CreateTrainer>>(env, "createTrainer"));
  exports.Set("loadTrainer", Napi::Function::New<Guarded<&LoadTrainer>>(env, "loadTrainer"));
  exports.Set("trainerOptionFields", Napi::Function::New<Guarded<&TrainerOptionFields>>(env, "trainerOptionFields"));
}

const Registrar kRegistrar(&registerTrainer);

}  // namespace
}  // namespace adetr::binding
