// buildInfo() and setNumThreads(): what libtorch this addon runs on, and its thread pool.
#include <napi.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/CPUAllocator.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "binding/args.h"
#include "binding/guard.h"
#include "binding/registry.h"
#include "binding/tensor_wrap.h"
#include "common/torch_version.h"

namespace adetr::binding {
namespace {

// The file a symbol was loaded from (resolved), or "" when the loader cannot tell.
std::string libraryOf(const void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) != nullptr ? std::string(resolved) : std::string(info.dli_fname);
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("libtorchVersion", Napi::String::New(env, adetr::torchVersionString()));
#ifdef ADETR_WITH_CUDA
  out.Set("cudaCompiled", Napi::Boolean::New(env, true));
#else
  out.Set("cudaCompiled", Napi::Boolean::New(env, false));
#endif
  out.Set("cudaAvailable", Napi::Boolean::New(env, at::hasCUDA()));
  out.Set("numThreads", Napi::Number::New(env, at::get_num_threads()));
  out.Set("parallelBackend", Napi::String::New(env, at::get_parallel_info()));
  out.Set("cxx11Abi", Napi::Boolean::New(env, _GLIBCXX_USE_CXX11_ABI != 0));
  out.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  // Where the libtorch this process runs really lives (not where it was built): the bundled
  // package, a CUDA libtorch found at load, or the system's.
  out.Set("libtorchPath", Napi::String::New(env, libraryOf(reinterpret_cast<const void*>(&at::get_num_threads))));
  out.Set("libc10Path", Napi::String::New(env, libraryOf(reinterpret_cast<const void*>(&c10::GetCPUAllocator))));
  out.Set("addonPath", Napi::String::New(env, libraryOf(reinterpret_cast<const void*>(&BuildInfo))));
  return out;
}

// tensorMemory() → { liveTensors, hostBytes }: what tensor handles hold now (TensorWrap::liveStats).
Napi::Value TensorMemory(const Napi::CallbackInfo& info) {
  const TensorWrap::LiveStats stats = TensorWrap::liveStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("liveTensors", Napi::Number::New(info.Env(), static_cast<double>(stats.handles)));
  out.Set("hostBytes", Napi::Number::New(info.Env(), static_cast<double>(stats.hostBytes)));
  return out;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  const int64_t n = readInteger(info[0], "n", 1, 1024);
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

void registerRuntime(Napi::Env env, Napi::Object exports) {
  // Some libtorch builds (Debian's OpenMP one) start with a single intra-op thread even on
  // multi-core machines; use every core unless the user chose with OMP_NUM_THREADS.
  const unsigned cores = std::thread::hardware_concurrency();
  if (std::getenv("OMP_NUM_THREADS") == nullptr && cores > 1 && at::get_num_threads() == 1) {
    at::set_num_threads(static_cast<int>(cores));
  }
  exports.Set("buildInfo", Napi::Function::New<Guarded<&BuildInfo>>(env, "buildInfo"));
  exports.Set("tensorMemory", Napi::Function::New<Guarded<&TensorMemory>>(env, "tensorMemory"));
  exports.Set("setNumThreads", Napi::Function::New<Guarded<&SetNumThreads>>(env, "setNumThreads"));
}

const Registrar kRegistrar(&registerRuntime);

}  // namespace
}  // namespace adetr::binding
