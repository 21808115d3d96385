// A c10d process group (ProcessGroupGloo on CPU; ProcessGroupNCCL when built with
// ALIGN_DETR_WITH_NCCL) joined through a TCPStore, as torchrun's workers join theirs. Every
// collective waits at most `timeout`; a failure becomes a DistributedError naming the ranks
// that stopped responding (each rank beats a heartbeat in the store; a silent one is dead or
// hung). No N-API, and no c10d type in this header.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace adetr::dist {

struct GroupOptions {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  // The rendezvous and every collective fail after this long.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::string backend = "gloo";  // "gloo" | "nccl"
  // NCCL only: the CUDA device this rank's collectives run on (one GPU per process; torchrun's
  // LOCAL_RANK, as lib/dist/group.ts reads torchrun's variables); -1: the current CUDA device.
  int cudaDevice = -1;
  int threads = 1;  // Gloo's worker threads
  // torchrun (TORCHELASTIC_USE_AGENT_STORE=True) hosts the store at MASTER_ADDR:MASTER_PORT
  // itself: every rank, rank 0 included, connects to it as a client.
  bool externalStore = false;
  // Our keys' prefix in the store (torchrun: one per restart attempt, so a restarted run never
  // reads the keys of the attempt before).
  std::string storePrefix = "adetr";
};

// Whether this build can create groups of `backend`.
bool backendAvailable(const std::string& backend);

class ProcessGroup {
 public:
  // Joins the group (blocks until every rank has joined, at most options.timeout).
  explicit ProcessGroup(const GroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int worldSize() const { return options_.worldSize; }
  const GroupOptions& options() const { return options_; }
  // Where this group's collectives run: the CPU for Gloo, the rank's CUDA device for NCCL. A
  // tensor on another device is copied there for the collective and the result copied back, so
  // callers may keep small bookkeeping tensors (box counts, flags, metrics) on the CPU.
  at::Device device() const;

  enum class Reduce { Sum, Max };

  // In place over every rank; `what` names the operation in errors. One tensor per call (c10d
  // reads a list as one tensor per device of this process, reduced together).
  void allreduce(at::Tensor& tensor, Reduce op, const std::string& what);
  void broadcast(at::Tensor& tensor, int root, const std::string& what);
  // Every rank's tensor (same shape and dtype on every rank), in rank order.
  std::vector<at::Tensor> allgather(const at::Tensor& tensor, const std::string& what);
  void barrier(const std::string& what);

  // Asynchronous sum: start now (collectives start in the same order on every rank), wait later.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };
  std::unique_ptr<Pending> allreduceAsync(at::Tensor& tensor, const std::string& what);

  // Every rank publishes `facts` (name → value); a fact that differs between ranks is a
  // DistributedError listing each rank's value. Call on every rank with the same names.
  void checkAgreement(const std::map<std::string, std::string>& facts);

  // Turns a failure of `what` into a DistributedError naming the silent ranks.
  [[noreturn]] void fail(const std::string& what, const std::string& cause);

 private:
  struct Impl;
  GroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace adetr::dist
