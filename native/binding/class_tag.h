// Type tags for the addon's native handle classes (napi_type_tag_object, Node-API 8).
//
// node-addon-api's ObjectWrap unwraps `this` with napi_unwrap, which returns whatever native
// pointer the object carries: calling a TensorHandle method with a ModelHandle as `this`
// (`TensorHandle.prototype.toTypedArray.call(model)`), or passing an object made with
// `Object.create(TensorHandle.prototype)`, would reinterpret one class as another or
// dereference null. So each class tags its instances in its constructor, and every method,
// accessor and argument reader checks the tag before unwrapping. Instanceof is not enough:
// prototypes can be borrowed.
#pragma once

#include <napi.h>

#include "binding/guard.h"
#include "common/arg_error.h"

namespace adetr::binding {

// Each handle class T declares `static constexpr napi_type_tag kTypeTag` (distinct random
// 128-bit values) and `static constexpr const char* kClassName`.

// Tags `object`, a new instance of T (call from T's constructor).
template <class T>
void tagInstance(Napi::Env env, const Napi::Object& object) {
  NAPI_THROW_IF_FAILED_VOID(env, napi_type_tag_object(env, object, &T::kTypeTag));
}

// The T behind `value`, or nullptr when `value` is not an object tagged as T.
template <class T>
T* unwrapTagged(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(value.Env(), value, &T::kTypeTag, &tagged) != napi_ok || !tagged) return nullptr;
  return Napi::ObjectWrap<T>::Unwrap(value.As<Napi::Object>());
}

// A method or getter of T reached through a plain function: `this` is checked first.
template <class T, Napi::Value (T::*Method)(const Napi::CallbackInfo&)>
Napi::Value CheckedThis(const Napi::CallbackInfo& info) {
  T* self = unwrapTagged<T>(info.This());
  checkType(self != nullptr, T::kClassName, " method called on an object that is not a ", T::kClassName);
  return (self->*Method)(info);
}

// Prototype entries, defined with defineOnPrototype after DefineClass (a class template only
// takes primitive values, so methods cannot go through DefineClass as plain functions).
template <class T, Napi::Value (T::*Method)(const Napi::CallbackInfo&)>
Napi::PropertyDescriptor checkedMethod(Napi::Env env, const char* name) {
  return Napi::PropertyDescriptor::Value(name, Napi::Function::New<Guarded<&CheckedThis<T, Method>>>(env, name),
                                         static_cast<napi_property_attributes>(napi_writable | napi_configurable));
}

template <class T, Napi::Value (T::*Getter)(const Napi::CallbackInfo&)>
Napi::PropertyDescriptor checkedGetter(const char* name) {
  return Napi::PropertyDescriptor::Accessor<Guarded<&CheckedThis<T, Getter>>>(name, napi_configurable);
}

// Defines methods and getters on the prototype of a class made by DefineClass.
inline void defineOnPrototype(Napi::Function cls, const std::initializer_list<Napi::PropertyDescriptor>& props) {
  cls.Get("prototype").As<Napi::Object>().DefineProperties(props);
}

}  // namespace adetr::binding
