// native/dist on loopback: collectives between threads of this process (one group per thread),
// the bucketed gradient average against the gradient of the whole batch in one process, the
// start-up agreement check, and a peer process that exits or hangs mid-run (the survivor fails
// within the timeout naming its rank).
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "common/distributed_error.h"
#include "dist/data_parallel.h"
#include "dist/local_address.h"
#include "model/cdn.h"
#include "test_support.h"
#include "tests/loopback_port.h"

extern char** environ;

using adetr::DistributedError;
using adetr::dist::GroupOptions;
using adetr::dist::ProcessGroup;

namespace {

int freePort() { return adetr::test::freeLoopbackPort(); }

GroupOptions options(int rank, int world, int port, int timeoutMs = 20000) {
  GroupOptions o;
  o.rank = rank;
  o.worldSize = world;
  o.masterPort = port;
  o.timeout = std::chrono::milliseconds(timeoutMs);
  return o;
}

// Runs fn(group) on `world` threads, one group each; returns what each threw ("" when nothing).
std::vector<std::string> onRanks(int world, const std::function<void(ProcessGroup&)>& fn) {
  const int port = freePort();
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto group = std::make_shared<ProcessGroup>(options(r, world, port));
        fn(*group);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return errors;
}

void expectNoErrors(const std::vector<std::string>& errors, const char* what) {
  for (size_t r = 0; r < errors.size(); ++r) EXPECT(errors[r].empty(), "%s rank %zu: %s", what, r, errors[r].c_str());
}

void testCollectives() {
  const int world = 3;
  auto errors = onRanks(world, [&](ProcessGroup& g) {
    const int r = g.rank();
    at::Tensor t = at::arange(4, at::TensorOptions().dtype(at::kFloat)) + r;  // r, r+1, r+2, r+3
    g.allreduce(t, ProcessGroup::Reduce::Sum, "test");
    // Σ_r (i + r) = 3i + 3
    EXPECT(at::allclose(t, at::arange(4, at::TensorOptions().dtype(at::kFloat)) * 3 + 3), "sum on rank %d", r);
    at::Tensor m = at::tensor({static_cast<double>(r), static_cast<double>(-r)});
    g.allreduce(m, ProcessGroup::Reduce::Max, "test");
    EXPECT(m[0].item<double>() == 2 && m[1].item<double>() == 0, "max on rank %d", r);
    at::Tensor b = at::ones({5}) * (r + 7);
    g.broadcast(b, 1, "test");
    EXPECT(at::allclose(b, at::ones({5}) * 8), "broadcast from rank 1 seen on rank %d", r);
    auto all = g.allgather(at::ones({2}) * r, "test");
    EXPECT(all.size() == 3, "allgather count");
    for (int k = 0; k < 3; ++k) EXPECT(at::allclose(all[k], at::ones({2}) * k), "allgather slot %d on rank %d", k, r);
    // Rank r contributes r rows of [r*10 + j].
    at::Tensor rows = at::arange(r, at::TensorOptions().dtype(at::kDouble)).unsqueeze(1) + r * 10;
    at::Tensor gathered = adetr::dist::allgatherRows(g, rows, "test");
    at::Tensor expected = at::tensor({10.0, 20.0, 21.0}, at::TensorOptions().dtype(at::kDouble)).unsqueeze(1);
    EXPECT(gathered.sizes() == expected.sizes() && at::allclose(gathered, expected), "allgatherRows on rank %d", r);
    g.checkAgreement({{"config", "tiny"}, {"dataset", "100"}});
    g.barrier("test");
  });
  expectNoErrors(errors, "collectives");
}

void testAgreementMismatch() {
  auto errors = onRanks(3, [&](ProcessGroup& g) {
    g.checkAgreement({{"config", "tiny"}, {"dataset size", g.rank() == 2 ? "99" : "100"}});
  });
  for (size_t r = 0; r < errors.size(); ++r) {
    EXPECT(errors[r].find("dataset size differs: rank 0 100, rank 1 100, rank 2 99") != std::string::npos,
           "mismatch message on rank %zu: %s", r, errors[r].c_str());
    EXPECT(errors[r].find("config") == std::string::npos, "only the differing fact is named: %s", errors[r].c_str());
  }
}

// A two-layer model; `extra` is used by rank 1's loss only, `never` by nobody.
struct Net : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr};
  at::Tensor extra, never;
  Net() {
    a = register_module("a", torch::nn::Linear(4, 6));
    b = register_module("b", torch::nn::Linear(6, 3));
    extra = register_parameter("extra", at::randn({3}, at::TensorOptions().dtype(at::kFloat)));
    never = register_parameter("never", at::randn({2}, at::TensorOptions().dtype(at::kFloat)));
  }
  // Σ over rows of squared error (+ extra's term where used), the un-normalised loss.
  at::Tensor lossSum(const at::Tensor& x, const at::Tensor& y, bool useExtra) {
    auto out = b->forward(a->forward(x).tanh());
    if (useExtra) out = out + extra;
    return (out - y).pow(2).sum();
  }
};

void testGradientAverage(int64_t bucketBytes) {
  const int world = 2;
  // Rank r holds rows [3r, 3r+3) of the batch; the whole-batch reference runs alone below.
  at::manual_seed(5);
  at::Tensor x = at::randn({6, 4}), y = at::randn({6, 3});
  auto reference = std::make_shared<Net>();
  // Rank 1's rows use `extra`; the reference adds it for the same rows.
  auto refLoss = (reference->lossSum(x.narrow(0, 0, 3), y.narrow(0, 0, 3), false) +
                  reference->lossSum(x.narrow(0, 3, 3), y.narrow(0, 3, 3), true)) /
                 6.0;
  refLoss.backward();
  std::vector<at::Tensor> refParams = reference->parameters();
  std::vector<std::vector<at::Tensor>> grads(world);
  std::vector<int64_t> bucketCounts(world), startedEarly(world);
  auto errors = onRanks(world, [&](ProcessGroup& g) {
    const int r = g.rank();
    auto net = std::make_shared<Net>();
    // Rank 1 starts from other weights: the broadcast makes them rank 0's (= the reference's).
    at::NoGradGuard noGrad;
    auto src = r == 0 ? reference->parameters() : std::vector<at::Tensor>{};
    auto dst = net->parameters();
    for (size_t k = 0; k < dst.size(); ++k) {
      if (r == 0)
        dst[k].copy_(src[k]);
      else
        dst[k].normal_();
    }
    adetr::dist::DataParallel dp(std::shared_ptr<ProcessGroup>(&g, [](ProcessGroup*) {}), *net, bucketBytes);
    {
      at::AutoGradMode grad(true);
      auto totals = dp.batchTotals(3, 1);
      EXPECT(totals.boxes == 6 && totals.maxGt == 1, "batch totals on rank %d", r);
      // DETR: each rank divides by total/world; the average of the gradients is then the
      // gradient of the whole batch's loss.
      auto loss = net->lossSum(x.narrow(0, 3 * r, 3), y.narrow(0, 3 * r, 3), r == 1) / (totals.boxes / world);
      dp.beforeBackward();
      loss.backward();
      dp.afterBackward();
    }
    for (auto& p : net->parameters())
      grads[static_cast<size_t>(r)].push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
    bucketCounts[static_cast<size_t>(r)] = dp.gradients().buckets();
    startedEarly[static_cast<size_t>(r)] = dp.gradients().bucketsStartedInBackward();
  });
  expectNoErrors(errors, "gradient average");
  for (int r = 0; r < world; ++r) {
    for (size_t k = 0; k < refParams.size(); ++k) {
      const at::Tensor& want = refParams[k].grad();
      const at::Tensor& got = grads[static_cast<size_t>(r)].empty() ? at::Tensor() : grads[static_cast<size_t>(r)][k];
      if (!want.defined()) {
        EXPECT(!got.defined(), "bucket %lld: parameter %zu used by no rank keeps no gradient (rank %d)",
               static_cast<long long>(bucketBytes), k, r);
        continue;
      }
      EXPECT(got.defined() && at::allclose(got, want, 1e-5, 1e-6), "bucket %lld: parameter %zu's average on rank %d",
             static_cast<long long>(bucketBytes), k, r);
    }
  }
  if (bucketBytes < 64) {
    EXPECT(bucketCounts[0] == 6, "one bucket per parameter with a tiny cap, got %lld",
           static_cast<long long>(bucketCounts[0]));
    // Every bucket but the ones waiting on `never` (and `extra` on rank 0) starts during backward.
    EXPECT(startedEarly[1] >= 1, "buckets started during backward on rank 1: %lld",
           static_cast<long long>(startedEarly[1]));
  }
}

// Per-image noise seeds and the shared layout: the denoising queries of a batch split in two are
// the rows of the whole batch's (what lets two processes × 2 images train as one × 4).
void testDenoisingSplit() {
  torch::nn::Embedding embedding(5, 8);
  std::vector<adetr::model::Target> all;
  const int64_t gts[] = {3, 1, 0, 2};
  for (int b = 0; b < 4; ++b) {
    adetr::model::Target t;
    t.labels = at::arange(gts[b], at::TensorOptions().dtype(at::kLong)) % 5;
    t.boxes = at::rand({gts[b], 4}) * 0.4 + 0.2;
    t.noiseSeed = 1000 + static_cast<uint64_t>(b);
    all.push_back(t);
  }
  adetr::model::DenoisingOptions o;
  o.dnNumber = 10;
  o.numClasses = 5;
  o.numQueries = 7;
  o.labelNoiseRatio = 0.9;  // most labels drawn
  auto whole = adetr::model::makeDenoisingQueries(all, o, embedding);
  o.maxGtAtLeast = 3;
  auto first = adetr::model::makeDenoisingQueries({all[0], all[1]}, o, embedding);
  auto second = adetr::model::makeDenoisingQueries({all[2], all[3]}, o, embedding);
  EXPECT(whole && first && second, "three layouts");
  if (!whole || !first || !second) return;
  EXPECT(first->maxGt == 3 && second->maxGt == 3 && second->numGroups == whole->numGroups, "the whole batch's layout");
  EXPECT(at::equal(at::cat({first->content, second->content}), whole->content), "content rows equal");
  EXPECT(at::equal(at::cat({first->reference, second->reference}), whole->reference), "reference rows equal");
  EXPECT(at::equal(first->attnMask, whole->attnMask), "same mask");
  // And without seeds the batch generator draws for the batch (the old stream): rows differ.
  for (auto& t : all) t.noiseSeed.reset();
  at::manual_seed(3);
  auto unseeded = adetr::model::makeDenoisingQueries(all, o, embedding);
  EXPECT(!at::equal(unseeded->content, whole->content) || !at::equal(unseeded->reference, whole->reference),
         "seeded noise is its own stream");
}

// The peer of testPeerFailure, in a process of its own: joins, then exits or stops itself.
int runChild(const std::string& mode, int port) {
  ProcessGroup g(options(1, 2, port));
  at::Tensor t = at::ones({3});
  g.allreduce(t, ProcessGroup::Reduce::Sum, "test");  // one collective that works
  if (mode == "exit") _exit(3);
  raise(SIGSTOP);
  return 0;
}

void testPeerFailure(const char* self, const std::string& mode) {
  const int port = freePort();
  const std::string portText = std::to_string(port);
  std::vector<char*> argv{const_cast<char*>(self), const_cast<char*>("--child"), const_cast<char*>(mode.c_str()),
                          const_cast<char*>(portText.c_str()), nullptr};
  pid_t child = 0;
  EXPECT(posix_spawn(&child, self, nullptr, nullptr, argv.data(), environ) == 0, "spawn the peer");
  const int timeoutMs = 4000;
  std::string message;
  std::vector<int> ranks;
  double seconds = 0;
  try {
    ProcessGroup g(options(0, 2, port, timeoutMs));
    at::Tensor t = at::ones({3});
    g.allreduce(t, ProcessGroup::Reduce::Sum, "test");
    EXPECT(t[0].item<float>() == 2, "the first collective works");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    try {
      g.allreduce(t, ProcessGroup::Reduce::Sum, "the second all-reduce");
    } catch (const DistributedError& e) {
      message = e.what();
      ranks = e.ranks;
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } catch (const std::exception& e) {
    message = std::string("unexpected: ") + e.what();
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT(ranks == std::vector<int>{1}, "%s: the culprit is rank 1: %s", mode.c_str(), message.c_str());
  EXPECT(message.find("the second all-reduce failed on rank 0 of 2: rank 1 stopped responding") == 0, "%s: message %s",
         mode.c_str(), message.c_str());
  // Within the collective timeout plus the heartbeat check (1.5 s).
  EXPECT(seconds < timeoutMs / 1000.0 + 3.0, "%s: failed after %.1f s", mode.c_str(), seconds);
  std::printf("peer %s: failed after %.2f s: %s\n", mode.c_str(), seconds, message.substr(0, 160).c_str());
}

// The address Gloo listens on is the one that routes to rank 0 (test/dist-nodes.test.ts checks
// two machines in network namespaces); here, loopback reaches loopback.
void testLocalAddress() {
  EXPECT(adetr::dist::localAddressToward("127.0.0.1") == "127.0.0.1", "toward 127.0.0.1: %s",
         adetr::dist::localAddressToward("127.0.0.1").c_str());
  const std::string six = [] {
    try {
      return adetr::dist::localAddressToward("::1");
    } catch (const std::exception&) {
      return std::string("(no IPv6)");
    }
  }();
  EXPECT(six == "::1" || six == "(no IPv6)", "toward ::1: %s", six.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) return runChild(argv[2], std::atoi(argv[3]));
  if (!adetr::dist::backendAvailable("gloo")) {
    std::printf("SKIP: this build has no c10d Gloo\n");
    return 0;
  }
  return adetr::test::runTests("test_dist", [&] {
    at::manual_seed(0);
    testDenoisingSplit();
    testLocalAddress();
    testCollectives();
    testAgreementMismatch();
    testGradientAverage(adetr::dist::GradientSync::kDefaultBucketBytes);
    testGradientAverage(16);
    testPeerFailure(argv[0], "exit");
    testPeerFailure(argv[0], "stop");
  });
}
