#include "dist/process_group.h"

#include <ATen/Context.h>
#include <ATen/ops/empty_like.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "common/arg_error.h"
#include "common/distributed_error.h"
#include "dist/heartbeat.h"
#include "dist/local_address.h"

#ifdef ADETR_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef ADETR_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace adetr::dist {

namespace {

// libtorch 2 split the process group into ProcessGroup (the dispatcher) and Backend (Gloo,
// NCCL); 1.13's ProcessGroupGloo is itself the ProcessGroup. The collectives used here have the
// same signatures on both.
#if TORCH_VERSION_MAJOR >= 2
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif

// An exception's message, without c10's backtrace.
std::string causeOf(const std::exception& e) {
  const auto* c10Error = dynamic_cast<const c10::Error*>(&e);
  return c10Error ? c10Error->what_without_backtrace() : std::string(e.what());
}

std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::string text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

}  // namespace

bool backendAvailable(const std::string& backend) {
#ifdef ADETR_WITH_GLOO
  if (backend == "gloo") return true;
#endif
#ifdef ADETR_WITH_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

namespace {

// NCCL reduces CUDA tensors only, one device per rank: `wanted` (or the current device) becomes
// this process's current CUDA device, as torch.cuda.set_device(local_rank) does in PyTorch.
at::Device ncclDevice(int wanted) {
  checkType(at::hasCUDA(), "backend: 'nccl' needs a CUDA device and this process sees none (",
            "no GPU or no driver); use 'gloo' on CPU");
  const auto* cuda = c10::impl::getDeviceGuardImpl(at::kCUDA);
  const int count = static_cast<int>(cuda->deviceCount());
  const int index = wanted >= 0 ? wanted : static_cast<int>(cuda->getDevice().index());
  checkRange(index < count, "cudaDevice: this process sees ", count, " CUDA device(s), so device ", index,
             " does not exist (LOCAL_RANK picks the device under torchrun; check CUDA_VISIBLE_DEVICES)");
  const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  cuda->setDevice(device);
  return device;
}

// `t` where the group's collectives run: `t` itself, or a copy there.
at::Tensor onDevice(const at::Tensor& t, at::Device device) { return t.device() == device ? t : t.to(device); }

}  // namespace

struct ProcessGroup::Impl {
  at::Device device{at::kCPU};            // where collectives run (see ProcessGroup::device)
  c10::intrusive_ptr<c10d::Store> store;  // PrefixStore over the TCPStore: our own keys
  c10::intrusive_ptr<Backend> backend;
  std::unique_ptr<Heartbeat> heartbeat;
  int64_t agreements = 0;
};

namespace {

// Waits for a collective with the group's timeout; any failure goes through ProcessGroup::fail.
// A collective that ran on a staged copy (`staged`, on the group's device) copies its result
// back into the caller's tensor (`target`) once done.
class PendingWork : public ProcessGroup::Pending {
 public:
  PendingWork(ProcessGroup* group, c10::intrusive_ptr<c10d::Work> work, std::string what, at::Tensor target = {},
              at::Tensor staged = {})
      : group_(group),
        work_(std::move(work)),
        what_(std::move(what)),
        target_(std::move(target)),
        staged_(std::move(staged)) {}
  void wait() override {
    if (!work_) return;
    auto work = std::move(work_);
    try {
      work->wait(group_->options().timeout);
    } catch (const std::exception& e) {
      group_->fail(what_, causeOf(e));
    }
    if (target_.defined() && !target_.is_same(staged_)) target_.copy_(staged_);
  }

 private:
  ProcessGroup* group_;
  c10::intrusive_ptr<c10d::Work> work_;
  std::string what_;
  at::Tensor target_, staged_;
};

}  // namespace

ProcessGroup::ProcessGroup(const GroupOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  checkRange(options.worldSize >= 1, "worldSize: expected at least 1, got ", options.worldSize);
  checkRange(options.rank >= 0 && options.rank < options.worldSize, "rank: expected 0..", options.worldSize - 1,
             ", got ", options.rank);
  checkRange(options.masterPort >= 1 && options.masterPort <= 65535, "masterPort: expected 1..65535, got ",
             options.masterPort);
  checkRange(options.timeout.count() > 0, "timeout: expected a positive duration");
  checkType(options.backend == "gloo" || options.backend == "nccl", "backend: expected 'gloo' or 'nccl', got '",
            options.backend, "'");
  checkType(backendAvailable(options.backend), "backend: '", options.backend, "' is not in this build",
            options.backend == "nccl" ? " (NCCL needs a CUDA libtorch with NCCL; build with -DALIGN_DETR_WITH_NCCL=ON)"
                                      : " (the libtorch found has no Gloo)");
  if (options.backend == "nccl") impl_->device = ncclDevice(options.cudaDevice);
  const std::string where = options.masterAddr + ":" + std::to_string(options.masterPort);
  c10::intrusive_ptr<c10d::TCPStore> tcp;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(options.masterPort);
    so.isServer = options.rank == 0 && !options.externalStore;
    if (!options.externalStore) so.numWorkers = static_cast<size_t>(options.worldSize);
    so.waitWorkers = !options.externalStore;
    so.timeout = options.timeout;
    tcp = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, so);
  } catch (const std::exception& e) {
    throw DistributedError("rendezvous: rank " + std::to_string(options.rank) + " of " +
                               std::to_string(options.worldSize) + " could not join the store at " + where +
                               " within " + std::to_string(options.timeout.count()) + " ms (" + causeOf(e) + ")",
                           {});
  }
  impl_->store = c10::make_intrusive<c10d::PrefixStore>(options.storePrefix, tcp);
  // The backend keeps its own key space, so a second group over the same store cannot collide.
  auto backendStore = c10::make_intrusive<c10d::PrefixStore>(options.storePrefix + "-" + options.backend, tcp);
  try {
    if (options.backend == "gloo") {
#ifdef ADETR_WITH_GLOO
      auto go = c10d::ProcessGroupGloo::Options::create(options.timeout);
      // Gloo listens on GLOO_SOCKET_IFNAME's interfaces when set (PyTorch's variable), else on
      // the local address that reaches rank 0 (dist/local_address.h says why).
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      const std::string interfaces = ifname ? ifname : "";
      if (!interfaces.empty()) {
        std::stringstream names(interfaces);
        for (std::string name; std::getline(names, name, ',');) {
          if (!name.empty()) go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
        }
      } else {
        go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
            localAddressToward(options.masterAddr == "localhost" ? std::string("127.0.0.1") : options.masterAddr)));
      }
      go->threads = options.threads;
      impl_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(backendStore, options.rank, options.worldSize, go);
#endif
    } else {
#ifdef ADETR_WITH_NCCL
      auto no = c10d::ProcessGroupNCCL::Options::create();
      // Our waits pass the timeout, so they block the CPU and throw when it runs out (the error
      // then names the silent ranks); NCCL's watchdog, which tears the whole process down,
      // gets a margin so that it fires only if that did not happen.
      no->timeout = options.timeout + std::chrono::seconds(30);
      impl_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(backendStore, options.rank, options.worldSize, no);
#endif
    }
  } catch (const std::exception& e) {
    throw DistributedError("rendezvous: rank " + std::to_string(options.rank) + " of " +
                               std::to_string(options.worldSize) + " could not connect to its peers through " + where +
                               " (" + causeOf(e) + ")",
                           {});
  }
  impl_->heartbeat = std::make_unique<Heartbeat>(options.masterAddr, options.masterPort, options.storePrefix,
                                                 options.rank, options.timeout);
}

ProcessGroup::~ProcessGroup() = default;

at::Device ProcessGroup::device() const { return impl_->device; }

void ProcessGroup::fail(const std::string& what, const std::string& cause) {
  // Leave a mark first: a rank that fails because of another is not itself the culprit.
  std::vector<int> silent;
  std::string storeNote;
  try {
    impl_->store->setTimeout(std::chrono::seconds(3));
    impl_->store->set("failed/" + std::to_string(rank()), bytes(what));
    silent = impl_->heartbeat->silentRanks(*impl_->store, worldSize());
  } catch (const std::exception&) {
    silent = {0};
    storeNote = " (the store on rank 0 at " + options_.masterAddr + ":" + std::to_string(options_.masterPort) +
                " is unreachable)";
  }
  std::ostringstream os;
  os << what << " failed on rank " << rank() << " of " << worldSize() << ": ";
  if (silent.empty()) {
    os << "no rank stopped responding";
  } else {
    os << (silent.size() == 1 ? "rank " : "ranks ");
    for (size_t i = 0; i < silent.size(); ++i) os << (i ? ", " : "") << silent[i];
    os << " stopped responding (exited or hung)" << storeNote;
  }
  os << "; " << cause;
  throw DistributedError(os.str(), silent);
}

namespace {
c10d::ReduceOp reduceOp(ProcessGroup::Reduce op) {
  return op == ProcessGroup::Reduce::Max ? c10d::ReduceOp(c10d::ReduceOp::MAX) : c10d::ReduceOp(c10d::ReduceOp::SUM);
}
}  // namespace

// Each collective starts inside `run` so that a failure to start is diagnosed like a failure to finish.
#define ADETR_COLLECTIVE(what, start)       \
  [&]() -> c10::intrusive_ptr<c10d::Work> { \
    try {                                   \
      return start;                         \
    } catch (const std::exception& e) {     \
      fail(what, causeOf(e));               \
    }                                       \
  }()

void ProcessGroup::allreduce(at::Tensor& tensor, Reduce op, const std::string& what) {
  std::vector<at::Tensor> tensors{onDevice(tensor, impl_->device)};
  c10d::AllreduceOptions o;
  o.reduceOp = reduceOp(op);
  o.timeout = options_.timeout;
  PendingWork(this, ADETR_COLLECTIVE(what, impl_->backend->allreduce(tensors, o)), what, tensor, tensors[0]).wait();
}

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::allreduceAsync(at::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> tensors{onDevice(tensor, impl_->device)};
  c10d::AllreduceOptions o;
  o.timeout = options_.timeout;
  return std::make_unique<PendingWork>(this, ADETR_COLLECTIVE(what, impl_->backend->allreduce(tensors, o)), what,
                                       tensor, tensors[0]);
}

void ProcessGroup::broadcast(at::Tensor& tensor, int root, const std::string& what) {
  std::vector<at::Tensor> tensors{onDevice(tensor, impl_->device)};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = options_.timeout;
  PendingWork(this, ADETR_COLLECTIVE(what, impl_->backend->broadcast(tensors, o)), what, tensor, tensors[0]).wait();
}

std::vector<at::Tensor> ProcessGroup::allgather(const at::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> input{onDevice(tensor.contiguous(), impl_->device)};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int r = 0; r < worldSize(); ++r) output[0].push_back(at::empty_like(input[0]));
  c10d::AllgatherOptions o;
  o.timeout = options_.timeout;
  PendingWork(this, ADETR_COLLECTIVE(what, impl_->backend->allgather(output, input, o)), what).wait();
  // Back where the caller's tensor lives.
  for (auto& part : output[0]) part = onDevice(part, tensor.device());
  return output[0];
}

void ProcessGroup::barrier(const std::string& what) {
  c10d::BarrierOptions o;
  o.timeout = options_.timeout;
  PendingWork(this, ADETR_COLLECTIVE(what, impl_->backend->barrier(o)), what).wait();
}

void ProcessGroup::checkAgreement(const std::map<std::string, std::string>& facts) {
  const std::string round = "agree/" + std::to_string(impl_->agreements++) + "/";
  std::string mine;
  for (const auto& [name, value] : facts) mine += name + '\0' + value + '\0';
  std::vector<std::map<std::string, std::string>> all(static_cast<size_t>(worldSize()));
  try {
    impl_->store->set(round + std::to_string(rank()), bytes(mine));
    for (int r = 0; r < worldSize(); ++r) {
      const std::string s = text(impl_->store->get(round + std::to_string(r)));
      size_t at = 0;
      while (at < s.size()) {
        const size_t a = s.find('\0', at);
        const size_t b = s.find('\0', a + 1);
        if (a == std::string::npos || b == std::string::npos) break;
        all[static_cast<size_t>(r)][s.substr(at, a - at)] = s.substr(a + 1, b - a - 1);
        at = b + 1;
      }
    }
  } catch (const c10::Error& e) {
    fail("the start-up agreement check", e.what_without_backtrace());
  }
  // Everyone has read everything before anyone leaves (rank 0 hosts the store).
  barrier("the start-up agreement check");
  std::ostringstream os;
  std::vector<int> odd;
  for (const auto& [name, value] : all[0]) {
    bool same = true;
    for (int r = 1; r < worldSize(); ++r) {
      auto it = all[static_cast<size_t>(r)].find(name);
      if (it == all[static_cast<size_t>(r)].end() || it->second != value) {
        same = false;
        odd.push_back(r);
      }
    }
    if (same) continue;
    if (os.tellp() > 0) os << "; ";
    os << name << " differs:";
    for (int r = 0; r < worldSize(); ++r) {
      auto it = all[static_cast<size_t>(r)].find(name);
      os << " rank " << r << " " << (it == all[static_cast<size_t>(r)].end() ? std::string("(none)") : it->second)
         << (r + 1 < worldSize() ? "," : "");
    }
  }
  if (!odd.empty()) {
    std::sort(odd.begin(), odd.end());
    odd.erase(std::unique(odd.begin(), odd.end()), odd.end());
    throw DistributedError("the ranks were started with different settings: " + os.str(), odd);
  }
}

}  // namespace adetr::dist
