// N-API surface of the detector: a model handle plus async create / load / predict / forward /
// save / loadPytorch. Only argument conversion lives here; the work is in native/model.
#include <napi.h>

#include <ATen/ops/empty.h>
#include <c10/core/InferenceMode.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/class_tag.h"
#include "binding/guard.h"
#include "binding/image_args.h"
#include "binding/model_state.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "common/arg_error.h"
#include "model/checkpoint.h"
#include "model/inference.h"
#include "model/seeded_init.h"

namespace adetr::binding {
namespace {

using model::Dino;

// The config as a JS object, field by field through the table (model/config.h): numbers,
// booleans and, for Choice fields, their names.
Napi::Object configObject(Napi::Env env, const model::DinoConfig& config) {
  Napi::Object out = Napi::Object::New(env);
  model::forEachConfigField(config, [&](const model::ConfigFieldSpec& f, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_enum_v<T>)
      out.Set(f.name, Napi::String::New(env, model::choiceName(f, value)));
    else if constexpr (std::is_same_v<T, bool>)
      out.Set(f.name, Napi::Boolean::New(env, value));
    else
      out.Set(f.name, Napi::Number::New(env, static_cast<double>(value)));
  });
  return out;
}

// Stores the JS value `v` in `config`'s `field`, checked for its kind and range (validate() then
// checks the rules that relate fields).
void readConfigField(const model::ConfigFieldSpec& field, const Napi::Value& v, model::DinoConfig& config) {
  model::visitConfigField(field, config, [&](const model::ConfigFieldSpec& f, auto& member) {
    using T = std::decay_t<decltype(member)>;
    if constexpr (std::is_enum_v<T>) {
      checkType(v.IsString(), f.name, ": expected ", model::choiceList(f));
      member = static_cast<T>(model::parseConfigChoice(f, v.As<Napi::String>().Utf8Value()));
    } else if constexpr (std::is_same_v<T, bool>) {
      checkType(v.IsBoolean(), f.name, ": expected a boolean");
      member = v.As<Napi::Boolean>().Value();
    } else {
      checkType(v.IsNumber(), f.name, std::is_integral_v<T> ? ": expected an integer" : ": expected a number");
      const double d = v.As<Napi::Number>().DoubleValue();
      model::checkConfigValue(f, d);  // finite, integral where it must be, in range: exact as T
      member = static_cast<T>(d);
    }
  });
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  // binding/class_tag.h: the tag every ModelHandle carries, and the name errors use.
  static constexpr napi_type_tag kTypeTag = {0x2b7e15162628aed2ULL, 0xa6abf7158809cf4fULL};
  static constexpr const char* kClassName = "ModelHandle";

  static Napi::Function Define(Napi::Env env) {
    using W = ModelWrap;
    Napi::Function cls = DefineClass(env, kClassName, std::vector<Napi::ClassPropertyDescriptor<W>>{});
    defineOnPrototype(cls, {
                               checkedMethod<W, &W::NumParameters>(env, "numParameters"),
                               checkedMethod<W, &W::Config>(env, "config"),
                               checkedMethod<W, &W::Predict>(env, "predict"),
                               checkedMethod<W, &W::Forward>(env, "forward"),
                               checkedMethod<W, &W::Save>(env, "save"),
                               checkedMethod<W, &W::LoadPytorch>(env, "loadPytorch"),
                               checkedMethod<W, &W::ParameterNames>(env, "parameterNames"),
                               checkedMethod<W, &W::Parameter>(env, "parameter"),
                               checkedMethod<W, &W::Dispose>(env, "dispose"),
                               checkedGetter<W, &W::Disposed>("disposed"),
                           });
    return cls;
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "ModelHandle cannot be constructed directly; use AlignDetr.create()");
    }
    tagInstance<ModelWrap>(info.Env(), info.This().As<Napi::Object>());
    state_ = *info[0].As<Napi::External<std::shared_ptr<ModelState>>>().Data();
  }

  static Napi::Object New(Napi::Env env, std::shared_ptr<ModelState> state) {
    auto& ctor = env.GetInstanceData<AlignDetrAddon>()->modelConstructor;
    return ctor.New({Napi::External<std::shared_ptr<ModelState>>::New(env, &state)});
  }

  std::shared_ptr<ModelState> checked(const char* what) const {
    checkType(state_ != nullptr, "model.", what, ": model has been disposed");
    return state_;
  }

  // The JS methods; reached through CheckedThis (class_tag.h), which checks `this`.
  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked("numParameters");
      const bool trainable = info.Length() > 0 && info[0].ToBoolean().Value();
      return Napi::Number::New(info.Env(), static_cast<double>(s->model->numParameters(trainable)));
    });
  }

  Napi::Value Config(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(),
                       [&]() -> Napi::Value { return configObject(info.Env(), checked("config")->model->config()); });
  }

  Napi::Value ParameterNames(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked("parameterNames");
      auto params = s->model->named_parameters();
      Napi::Array out = Napi::Array::New(info.Env(), params.size());
      uint32_t i = 0;
      for (const auto& p : params) out.Set(i++, Napi::String::New(info.Env(), p.key()));
      return out;
    });
  }

  // A copy of one parameter or buffer, by state-dict name.
  Napi::Value Parameter(const Napi::CallbackInfo& info) {
    return callGuarded(info.Env(), [&]() -> Napi::Value {
      auto s = checked("parameter");
      checkType(info[0].IsString(), "name: expected a parameter name");
      const std::string name = info[0].As<Napi::String>().Utf8Value();
      std::lock_guard<std::mutex> lock(s->mutex);
      // The dicts are returned by value: keep them alive while `find`'s pointer is used (a
      // pointer into a temporary was a use-after-free).
      const auto params = s->model->named_parameters();
      if (const auto* p = params.find(name)) return TensorWrap::NewInstance(info.Env(), p->detach().clone());
      const auto buffers = s->model->named_buffers();
      if (const auto* b = buffers.find(name)) return TensorWrap::NewInstance(info.Env(), b->detach().clone());
      checkRange(false, "name: no parameter or buffer named '", name, "'");
      return info.Env().Undefined();
    });
  }

  // predict(images: {data, width, height}[], { scoreThreshold?, maxDetections?, resize? })
  Napi::Value Predict(const Napi::CallbackInfo& info);
  // forward(images: Tensor [B,3,H,W] float32, validSizes: Tensor [B,2] int64)
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value LoadPytorch(const Napi::CallbackInfo& info);

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    state_.reset();  // work in flight keeps its own reference
    return info.Env().Undefined();
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_ == nullptr); }

 private:
  std::shared_ptr<ModelState> state_;
};

// ---- workers ------------------------------------------------------------------------------

class CreateWorker : public PromiseWorker {
 public:
  CreateWorker(Napi::Env env, model::DinoConfig config, std::optional<uint64_t> seed)
      : PromiseWorker(env), config_(std::move(config)), seed_(seed) {}
  void Run() override {
    state_ = std::make_shared<ModelState>();
    state_->model = model::createDino(config_, seed_);  // seeded_init.h: same seed, same weights
  }
  Napi::Value Result(Napi::Env env) override { return ModelWrap::New(env, state_); }

 private:
  model::DinoConfig config_;
  std::optional<uint64_t> seed_;
  std::shared_ptr<ModelState> state_;
};

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path) : PromiseWorker(env), path_(std::move(path)) {}
  void Run() override {
    // Loading constructs (and so randomly initialises) a model first: keep it from drawing
    // between a concurrent seeded creation's draws.
    std::lock_guard<std::mutex> initLock(model::initialisationMutex());
    auto loaded = model::loadCheckpoint(path_);
    state_ = std::make_shared<ModelState>();
    state_->model = loaded.model;
    metadata_ = loaded.metadata;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("model", ModelWrap::New(env, state_));
    out.Set("metadata", Napi::String::New(env, metadata_));
    return out;
  }

 private:
  std::string path_, metadata_;
  std::shared_ptr<ModelState> state_;
};

// A checkpoint's metadata without its weights (model::readCheckpointHeader).
class ReadMetadataWorker : public PromiseWorker {
 public:
  ReadMetadataWorker(Napi::Env env, std::string path) : PromiseWorker(env), path_(std::move(path)) {}
  void Run() override { metadata_ = model::readCheckpointHeader(path_).metadata; }
  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, metadata_); }

 private:
  std::string path_, metadata_;
};

class PredictWorker : public PromiseWorker {
 public:
  PredictWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::vector<at::Tensor> images,
                model::PredictOptions options)
      : PromiseWorker(env), state_(std::move(state)), images_(std::move(images)), options_(options) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    results_ = model::predict(state_->model, images_, options_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); ++i) {
      const auto& d = results_[i];
      const size_t k = static_cast<size_t>(d.scores.size(0));
      auto boxes = Napi::Float32Array::New(env, k * 4);
      auto scores = Napi::Float32Array::New(env, k);
      auto labels = Napi::Int32Array::New(env, k);
      auto b = d.boxes.to(at::kFloat).contiguous();
      auto s = d.scores.to(at::kFloat).contiguous();
      auto l = d.labels.to(at::kInt).contiguous();
      if (k > 0) {
        std::memcpy(boxes.Data(), b.data_ptr<float>(), k * 4 * sizeof(float));
        std::memcpy(scores.Data(), s.data_ptr<float>(), k * sizeof(float));
        std::memcpy(labels.Data(), l.data_ptr<int32_t>(), k * sizeof(int32_t));
      }
      Napi::Object item = Napi::Object::New(env);
      item.Set("boxes", boxes);
      item.Set("scores", scores);
      item.Set("labels", labels);
      out.Set(static_cast<uint32_t>(i), item);
    }
    return out;
  }

 private:
  std::shared_ptr<ModelState> state_;
  std::vector<at::Tensor> images_;
  model::PredictOptions options_;
  std::vector<model::Detections> results_;
};

class ForwardWorker : public PromiseWorker {
 public:
  ForwardWorker(Napi::Env env, std::shared_ptr<ModelState> state, at::Tensor images, at::Tensor sizes, bool profile)
      : PromiseWorker(env),
        state_(std::move(state)),
        images_(std::move(images)),
        sizes_(std::move(sizes)),
        profile_(profile) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    c10::InferenceMode inference;
    const bool wasTraining = state_->model->is_training();
    state_->model->eval();
    out_ = state_->model->forward({images_, sizes_}, nullptr, c10::nullopt, profile_);
    if (profile_) {
      // predict's post-processing on the final layer, timed and discarded (the sizes stand in
      // for the original ones: the scaling costs the same).
      model::StageTimer timer(images_, true);
      model::postprocess(out_.layers.back(), sizes_, sizes_, state_->model->config().selectTopK, 0.0,
                         state_->model->config().selectTopK);
      out_.timings.postprocessMs = timer.lap();
    }
    if (wasTraining) state_->model->train();
  }
  Napi::Value Result(Napi::Env env) override {
    auto pair = [&](const model::LayerPrediction& p) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("logits", TensorWrap::NewInstance(env, p.logits));
      o.Set("boxes", TensorWrap::NewInstance(env, p.boxes));
      return o;
    };
    Napi::Object result = Napi::Object::New(env);
    Napi::Array layers = Napi::Array::New(env, out_.layers.size());
    for (size_t i = 0; i < out_.layers.size(); ++i) layers.Set(static_cast<uint32_t>(i), pair(out_.layers[i]));
    result.Set("layers", layers);
    result.Set("encoder", pair(out_.encoder));
    Napi::Array levels = Napi::Array::New(env, out_.levelFeatures.size());
    for (size_t i = 0; i < out_.levelFeatures.size(); ++i)
      levels.Set(static_cast<uint32_t>(i), TensorWrap::NewInstance(env, out_.levelFeatures[i]));
    result.Set("levelFeatures", levels);
    result.Set("memory", TensorWrap::NewInstance(env, out_.memory));
    if (profile_) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("backboneMs", out_.timings.backboneMs);
      t.Set("neckMs", out_.timings.neckMs);
      t.Set("encoderMs", out_.timings.encoderMs);
      t.Set("decoderMs", out_.timings.decoderMs);
      t.Set("postprocessMs", out_.timings.postprocessMs);
      result.Set("timings", t);
    }
    return result;
  }

 private:
  std::shared_ptr<ModelState> state_;
  at::Tensor images_, sizes_;
  bool profile_;
  model::DinoOutput out_;
};

class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::string path, std::string metadata)
      : PromiseWorker(env), state_(std::move(state)), path_(std::move(path)), metadata_(std::move(metadata)) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    model::saveCheckpoint(state_->model, path_, metadata_);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<ModelState> state_;
  std::string path_, metadata_;
};

class LoadPytorchWorker : public PromiseWorker {
 public:
  LoadPytorchWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::string path)
      : PromiseWorker(env), state_(std::move(state)), path_(std::move(path)) {}
  void Run() override {
    std::lock_guard<std::mutex> lock(state_->mutex);
    report_ = model::loadPytorchStateDict(state_->model, path_);
  }
  Napi::Value Result(Napi::Env env) override {
    auto list = [&](const std::vector<std::string>& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, v[i]));
      return a;
    };
    Napi::Object o = Napi::Object::New(env);
    o.Set("format", Napi::String::New(env, report_.format));
    o.Set("loadedKeys", list(report_.loaded));
    o.Set("missingKeys", list(report_.missing));
    o.Set("unexpectedKeys", list(report_.unexpected));
    o.Set("mismatchedKeys", list(report_.mismatched));
    return o;
  }

 private:
  std::shared_ptr<ModelState> state_;
  std::string path_;
  model::StateDictReport report_;
};

// ---- method bodies ------------------------------------------------------------------------

std::string readPath(const Napi::Value& v, const char* name) {
  checkType(v.IsString(), name, ": expected a file path string");
  std::string s = v.As<Napi::String>().Utf8Value();
  checkType(!s.empty(), name, ": empty path");
  return s;
}

Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    auto s = checked("predict");
    // Options first, images last: an option getter could otherwise detach an image's buffer.
    Napi::Object opts = readOptions(info[1], "options");
    checkKnownKeys(opts, "options", {"scoreThreshold", "maxDetections", "resize"});
    model::PredictOptions options;
    Napi::Value th = opts.Get("scoreThreshold");
    if (!th.IsUndefined()) {
      checkType(th.IsNumber(), "options.scoreThreshold: expected a number");
      options.scoreThreshold = th.As<Napi::Number>().DoubleValue();
      checkRange(options.scoreThreshold >= 0 && options.scoreThreshold <= 1,
                 "options.scoreThreshold: expected a number in [0, 1], got ", options.scoreThreshold);
    }
    Napi::Value md = opts.Get("maxDetections");
    if (!md.IsUndefined()) options.maxDetections = readInteger(md, "options.maxDetections", 1, 1 << 20);
    options.resize = readBoolOption(opts, "options", "resize", true);
    std::vector<at::Tensor> images = readRgbImages(info[0], "images");
    return (new PredictWorker(info.Env(), s, std::move(images), options))->Start();
  });
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    auto s = checked("forward");
    at::Tensor images = TensorWrap::TensorArg(info[0], "images");
    at::Tensor sizes = TensorWrap::TensorArg(info[1], "validSizes");
    checkType(images.dim() == 4 && images.size(1) == 3 && images.scalar_type() == at::kFloat,
              "images: expected a float32 [B, 3, H, W] tensor");
    checkType(sizes.dim() == 2 && sizes.size(1) == 2 && sizes.size(0) == images.size(0),
              "validSizes: expected [B, 2] (h, w)");
    auto v = sizes.to(at::kLong);
    checkRange((v.select(1, 0) <= images.size(2)).all().item<bool>() &&
                   (v.select(1, 1) <= images.size(3)).all().item<bool>() && (v >= 1).all().item<bool>(),
               "validSizes: each (h, w) must lie in [1, H] × [1, W]");
    Napi::Object opts = readOptions(info[2], "options");
    checkKnownKeys(opts, "options", {"profile"});
    const bool profile = readBoolOption(opts, "options", "profile", false);
    return (new ForwardWorker(info.Env(), s, images, v, profile))->Start();
  });
}

Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    auto s = checked("save");
    std::string path = readPath(info[0], "path");
    std::string metadata = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    return (new SaveWorker(info.Env(), s, path, metadata))->Start();
  });
}

Napi::Value ModelWrap::LoadPytorch(const Napi::CallbackInfo& info) {
  return callGuarded(info.Env(), [&]() -> Napi::Value {
    auto s = checked("loadCheckpoint");
    return (new LoadPytorchWorker(info.Env(), s, readPath(info[0], "path")))->Start();
  });
}

// ---- module functions ---------------------------------------------------------------------

// createModel(preset: string, overrides: Record<string, number | boolean>, seed?: integer)
Napi::Value CreateModel(const Napi::CallbackInfo& info) {
  checkType(info[0].IsString(), "preset: expected a preset name (", model::quotedList(model::presetNames()), ")");
  model::DinoConfig config = model::presetConfig(info[0].As<Napi::String>().Utf8Value());
  Napi::Object overrides = readOptions(info[1], "options");
  // Every key must name a config field (checked before any value is read), and each value fits
  // its kind and range as it is stored.
  std::vector<std::string> fieldNames;
  for (const auto& f : model::configFields()) fieldNames.emplace_back(f.name);
  checkKnownOptionKeys(overrides, "options", "field", fieldNames);
  Napi::Array keys = overrides.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string key = keys.Get(i).ToString().Utf8Value();
    const model::ConfigFieldSpec* field = model::findConfigField(key);
    checkType(field != nullptr, "options: unknown field '", printableKey(key), "'");
    Napi::Value v = overrides.Get(key);
    if (v.IsUndefined()) continue;
    readConfigField(*field, v, config);
  }
  config.validate();
  std::optional<uint64_t> seed;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    seed = static_cast<uint64_t>(readInteger(info[2], "seed", 0, (int64_t{1} << 53) - 1));
  }
  return (new CreateWorker(info.Env(), config, seed))->Start();
}

// configFields(): the config field table, [{ name, kind, min?, max?, choices? }] in DinoConfig's
// order (kind 'integer', 'number', 'boolean' or 'choice'; min/max for the numeric kinds, choices
// for 'choice'), for the test that checks lib/model.ts's ModelConfig against it.
Napi::Value ConfigFields(const Napi::CallbackInfo& info) {
  static const char* const kKindNames[] = {"integer", "number", "boolean", "choice"};
  Napi::Env env = info.Env();
  const auto& fields = model::configFields();
  Napi::Array out = Napi::Array::New(env, fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const model::ConfigFieldSpec& f = fields[i];
    Napi::Object item = Napi::Object::New(env);
    item.Set("name", f.name);
    item.Set("kind", kKindNames[static_cast<size_t>(f.kind)]);
    if (f.kind == model::ConfigFieldKind::Integer || f.kind == model::ConfigFieldKind::Number) {
      item.Set("min", f.min);
      item.Set("max", f.max);
    }
    if (f.kind == model::ConfigFieldKind::Choice) {
      Napi::Array choices = Napi::Array::New(env, f.choices.size());
      for (size_t c = 0; c < f.choices.size(); ++c) choices.Set(static_cast<uint32_t>(c), f.choices[c]);
      item.Set("choices", choices);
    }
    out.Set(static_cast<uint32_t>(i), item);
  }
  return out;
}

// readCheckpointMetadata(path) → Promise<string>: the metadata record alone (no weights read).
Napi::Value ReadCheckpointMetadata(const Napi::CallbackInfo& info) {
  return (new ReadMetadataWorker(info.Env(), readPath(info[0], "path")))->Start();
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  return (new LoadWorker(info.Env(), readPath(info[0], "path")))->Start();
}

void registerModel(Napi::Env env, Napi::Object exports, AlignDetrAddon& addon) {
  Napi::Function cls = ModelWrap::Define(env);
  addon.modelConstructor = Napi::Persistent(cls);
  exports.Set("ModelHandle", cls);
  exports.Set("createModel", Napi::Function::New<Guarded<&CreateModel>>(env, "createModel"));
  exports.Set("loadModel", Napi::Function::New<Guarded<&LoadModel>>(env, "loadModel"));
  exports.Set("readCheckpointMetadata",
              Napi::Function::New<Guarded<&ReadCheckpointMetadata>>(env, "readCheckpointMetadata"));
  exports.Set("configFields", Napi::Function::New<Guarded<&ConfigFields>>(env, "configFields"));
}

const Registrar kRegistrar(&registerModel);

}  // namespace

std::shared_ptr<ModelState> modelStateArg(const Napi::Value& value, const char* argName) {
  ModelWrap* wrap = unwrapTagged<ModelWrap>(value);
  checkType(wrap != nullptr, argName, ": expected a model");
  return wrap->checked("train");
}

Napi::Object newModelHandle(Napi::Env env, std::shared_ptr<ModelState> state) {
  return ModelWrap::New(env, std::move(state));
}
}  // namespace adetr::binding
