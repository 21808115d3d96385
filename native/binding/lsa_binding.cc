// lsaSolve / lsaSolveBatch / lsaSolveBatchAsync / lsaKernel: the linear sum assignment solver
// of native/ops/lsa. A cost matrix is a tensor handle (2-D, float32/float64) or a plain object
// { data: Float64Array | Float32Array, rows, cols }; results are
// { rowIndices: Int32Array, colIndices: Int32Array, totalCost: number }.
#include <napi.h>

#include <ATen/core/Tensor.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/class_tag.h"
#include "binding/guard.h"
#include "binding/promise_worker.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "common/arg_error.h"
#include "ops/lsa/lsa.h"

namespace adetr::binding {
namespace {

constexpr int64_t kMaxDim = 2147483647;

// One cost matrix read from JS. `view` points into `tensor`, into `owned`, or (sync calls only)
// straight into the JS TypedArray's memory.
struct CostArg {
  lsa::CostView view;
  at::Tensor tensor;  // keeps a tensor's storage alive
  Napi::Value data;   // { data, rows, cols } form: the typed array, resolved last
  int64_t rows = 0, cols = 0;
  std::string name;
  std::vector<double> owned;  // a copy, for work off the JS thread
  std::vector<float> ownedF32;
};

// First pass over one cost argument: everything that may run JS (getters, Proxy traps) is read
// here, and no typed-array memory is touched.
void readCostFields(const Napi::Value& value, const std::string& name, CostArg& out) {
  out.name = name;
  if (unwrapTagged<TensorWrap>(value) != nullptr) {
    at::Tensor t = TensorWrap::TensorArg(value, name.c_str());
    checkType(t.dim() == 2, name, ": expected a 2-D tensor, got ", t.dim(), "-D");
    const bool f32 = t.scalar_type() == at::kFloat;
    checkType(f32 || t.scalar_type() == at::kDouble, name, ": expected a float32 or float64 tensor, got ",
              t.scalar_type());
    if (!t.device().is_cpu()) t = t.cpu();
    t = t.contiguous();
    out.tensor = t;
    out.view = lsa::CostView{t.data_ptr(), f32, t.size(0), t.size(1)};
    return;
  }
  checkType(value.IsObject() && !value.IsArray(), name,
            ": expected a 2-D Tensor or { data: Float64Array | Float32Array, rows, cols }");
  Napi::Object obj = value.As<Napi::Object>();
  out.data = obj.Get("data");
  checkType(out.data.IsTypedArray(), name, ".data: expected a Float64Array or Float32Array");
  const std::string rowsName = name + ".rows", colsName = name + ".cols";
  out.rows = readInteger(obj.Get("rows"), rowsName.c_str(), 0, kMaxDim);
  out.cols = readInteger(obj.Get("cols"), colsName.c_str(), 0, kMaxDim);
}

// Second pass: takes the typed-array view (no JS runs from here on) and checks its length;
// with `copy`, the data is copied so the result stays valid after the call returns.
void resolveCostData(bool copy, CostArg& out) {
  if (out.tensor.defined()) return;
  const TypedArrayView array =
      readTypedArray(out.data, (out.name + ".data").c_str(), "expected a Float64Array or Float32Array");
  checkType(array.kind == napi_float64_array || array.kind == napi_float32_array, out.name,
            ".data: expected a Float64Array or Float32Array");
  const int64_t length = static_cast<int64_t>(array.length);
  checkRange(out.rows * out.cols == length, out.name, ": rows * cols (", out.rows, " * ", out.cols, " = ",
             out.rows * out.cols, ") must equal data.length (", length, ")");
  const bool f32 = array.kind == napi_float32_array;
  const void* ptr = array.data;
  if (copy && length > 0) {
    if (f32) {
      out.ownedF32.resize(static_cast<size_t>(length));
      std::memcpy(out.ownedF32.data(), ptr, array.byteLength);
      ptr = out.ownedF32.data();
    } else {
      out.owned.resize(static_cast<size_t>(length));
      std::memcpy(out.owned.data(), ptr, array.byteLength);
      ptr = out.owned.data();
    }
  }
  out.view = lsa::CostView{length > 0 ? ptr : nullptr, f32, out.rows, out.cols};
  out.data = Napi::Value();
}

void readCost(const Napi::Value& value, const std::string& name, bool copy, CostArg& out) {
  readCostFields(value, name, out);
  resolveCostData(copy, out);
}

// Reads a JS array of cost matrices named costs[k]: all fields of every matrix first, then
// the views, so a getter on one matrix cannot free another's memory after it was read.
void readCostList(const Napi::Value& value, const char* argName, bool copy, std::vector<CostArg>& out) {
  checkType(value.IsArray(), argName, ": expected an array of cost matrices");
  Napi::Array list = value.As<Napi::Array>();
  const uint32_t n = list.Length();
  out.resize(n);
  for (uint32_t k = 0; k < n; ++k) {
    readCostFields(list.Get(k), std::string(argName) + "[" + std::to_string(k) + "]", out[k]);
  }
  for (CostArg& c : out) resolveCostData(copy, c);
}

bool readMaximize(const Napi::Value& value) {
  if (value.IsUndefined()) return false;
  checkType(value.IsBoolean(), "maximize: expected a boolean");
  return value.As<Napi::Boolean>().Value();
}

Napi::Object toJs(Napi::Env env, const lsa::Assignment& a) {
  const size_t n = a.rowIndices.size();
  Napi::Int32Array rows = Napi::Int32Array::New(env, n);
  Napi::Int32Array cols = Napi::Int32Array::New(env, n);
  if (n > 0) {
    std::memcpy(rows.Data(), a.rowIndices.data(), n * sizeof(int32_t));
    std::memcpy(cols.Data(), a.colIndices.data(), n * sizeof(int32_t));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("rowIndices", rows);
  out.Set("colIndices", cols);
  out.Set("totalCost", Napi::Number::New(env, a.totalCost));
  return out;
}

Napi::Array toJs(Napi::Env env, const std::vector<lsa::Assignment>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t k = 0; k < list.size(); ++k) out.Set(static_cast<uint32_t>(k), toJs(env, list[k]));
  return out;
}

std::vector<lsa::CostView> viewsOf(const std::vector<CostArg>& args) {
  std::vector<lsa::CostView> views;
  views.reserve(args.size());
  for (const CostArg& a : args) views.push_back(a.view);
  return views;
}

// lsaSolve(cost, maximize?) → assignment
Napi::Value Solve(const Napi::CallbackInfo& info) {
  CostArg cost;
  readCost(info[0], "cost", false, cost);
  const bool maximize = readMaximize(info[1]);
  return toJs(info.Env(), lsa::solve(cost.view, maximize, "cost"));
}

// lsaSolveBatch(costs, maximize?) → assignment[]
Napi::Value SolveBatch(const Napi::CallbackInfo& info) {
  std::vector<CostArg> costs;
  readCostList(info[0], "costs", false, costs);
  const bool maximize = readMaximize(info[1]);
  return toJs(info.Env(), lsa::solveBatch(viewsOf(costs), maximize, "costs"));
}

class SolveBatchWorker : public PromiseWorker {
 public:
  SolveBatchWorker(Napi::Env env, std::vector<CostArg> costs, bool maximize)
      : PromiseWorker(env), costs_(std::move(costs)), maximize_(maximize) {}

 protected:
  void Run() override { results_ = lsa::solveBatch(viewsOf(costs_), maximize_, "costs"); }
  Napi::Value Result(Napi::Env env) override { return toJs(env, results_); }

 private:
  std::vector<CostArg> costs_;
  bool maximize_;
  std::vector<lsa::Assignment> results_;
};

// lsaSolveBatchAsync(costs, maximize?) → Promise<assignment[]> (inputs copied before it returns)
Napi::Value SolveBatchAsync(const Napi::CallbackInfo& info) {
  std::vector<CostArg> costs;
  readCostList(info[0], "costs", true, costs);
  const bool maximize = readMaximize(info[1]);
  auto* worker = new SolveBatchWorker(info.Env(), std::move(costs), maximize);
  return worker->Start();
}

Napi::Value Kernel(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), lsa::autoKernelName()); }

void registerLsa(Napi::Env env, Napi::Object exports) {
  exports.Set("lsaSolve", Napi::Function::New<Guarded<&Solve>>(env, "lsaSolve"));
  exports.Set("lsaSolveBatch", Napi::Function::New<Guarded<&SolveBatch>>(env, "lsaSolveBatch"));
  exports.Set("lsaSolveBatchAsync", Napi::Function::New<Guarded<&SolveBatchAsync>>(env, "lsaSolveBatchAsync"));
  exports.Set("lsaKernel", Napi::Function::New<Guarded<&Kernel>>(env, "lsaKernel"));
}

const Registrar kRegistrar(&registerLsa);

}  // namespace
}  // namespace adetr::binding
