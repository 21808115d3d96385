// Data-parallel training speed on this machine (not a test): the tiny model trained by 1 process
// and by 2 processes (Gloo on loopback, one CPU thread each), the same per-process batch. Prints
// per process count: steps/s, images/s of the whole run and its ratio to 1 process, the time a
// step waits for the gradient all-reduce after backward (what overlap leaves exposed), the time
// one blocking all-reduce of the whole gradient takes, and the gradient bytes each process moves
// per step. With --backend nccl --device cuda (a CUDA libtorch built with NCCL): 1 process, a
// smoke run on one GPU.
//
//   bench_dist [--steps 12] [--batch 2] [--size 128] [--world 2] [--bucket-mb 25] [--backend gloo] [--device cpu]
//
// The launcher runs itself as `bench_dist --rank R --world W --port P ...` per worker.
#include <ATen/Parallel.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dist/data_parallel.h"
#include "model/seeded_init.h"
#include "train/trainer.h"

#include "../bench_support.h"
#include "tests/loopback_port.h"

extern char** environ;

namespace {

std::map<std::string, std::string> parseArgs(int argc, char** argv) {
  std::map<std::string, std::string> a{{"steps", "12"}, {"batch", "2"},      {"size", "128"},
                                       {"world", "2"},  {"backend", "gloo"}, {"device", "cpu"},
                                       {"rank", "-1"},  {"port", "0"},       {"bucket-mb", "25"}};
  for (int i = 1; i + 1 < argc; i += 2) a[std::string(argv[i]).substr(2)] = argv[i + 1];
  return a;
}

int freePort() { return adetr::test::freeLoopbackPort(); }

// One worker: trains `steps` steps after 2 warm-up steps and prints one result line (rank 0).
int worker(std::map<std::string, std::string>& a) {
  at::set_num_threads(1);
  const int rank = std::stoi(a["rank"]), world = std::stoi(a["world"]);
  const int64_t batch = std::stoll(a["batch"]), size = std::stoll(a["size"]);
  const int steps = std::stoi(a["steps"]);
  const at::Device device(a["device"]);
  auto c = adetr::model::presetConfig("tiny");
  c.numClasses = 3;
  auto model = adetr::model::createDino(c, 7);
  model->to(device);
  adetr::train::TrainerOptions o;
  adetr::train::Trainer trainer(model, o);
  trainer.setSampleSeededNoise(true);
  std::shared_ptr<adetr::dist::DataParallel> dp;
  std::shared_ptr<adetr::dist::ProcessGroup> group;
  if (world > 1 || a["backend"] == "nccl") {
    adetr::dist::GroupOptions g;
    g.rank = rank;
    g.worldSize = world;
    g.masterPort = std::stoi(a["port"]);
    g.backend = a["backend"];
    group = std::make_shared<adetr::dist::ProcessGroup>(g);
    dp = std::make_shared<adetr::dist::DataParallel>(group, *trainer.model(),
                                                     static_cast<int64_t>(std::stod(a["bucket-mb"]) * (1 << 20)));
    trainer.setStepSync(dp);
  }
  // Random images and 1..4 boxes each, seeded per (rank, step).
  auto makeBatch = [&](int step, std::vector<adetr::model::Target>& targets) {
    at::manual_seed(1000 * step + rank);
    adetr::model::ImageBatch b;
    b.images = (at::rand({batch, 3, size, size}) * 2 - 1).to(device);
    b.validSizes = at::full({batch, 2}, size, at::TensorOptions().dtype(at::kLong)).to(device);
    targets.clear();
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t n = 1 + (step + i + rank) % 4;
      adetr::model::Target t;
      t.labels = at::randint(0, 3, {n}, at::TensorOptions().dtype(at::kLong)).to(device);
      t.boxes = at::cat({at::rand({n, 2}) * 0.5 + 0.25, at::rand({n, 2}) * 0.3 + 0.1}, 1).to(device);
      t.sampleId = (step * world + rank) * batch + i;
      targets.push_back(t);
    }
    return b;
  };
  std::vector<adetr::model::Target> targets;
  for (int s = 0; s < 2; ++s) trainer.step(makeBatch(s, targets), targets);  // warm-up
  double waitS = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    trainer.step(makeBatch(s + 2, targets), targets);
    if (dp) waitS += dp->gradients().lastWaitSeconds();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One blocking all-reduce of a buffer the size of the whole gradient.
  double allreduceMs = 0;
  int64_t bytes = 0;
  if (dp) {
    bytes = dp->gradients().bytesPerStep();
    at::Tensor buffer = at::zeros({bytes / 4}, at::TensorOptions().dtype(at::kFloat).device(device));
    allreduceMs =
        adetr::bench::medianMs(5, [&] { group->allreduce(buffer, adetr::dist::ProcessGroup::Reduce::Sum, "bench"); });
  }
  if (rank == 0) {
    std::printf(
        "RESULT world=%d steps_per_s=%.4f images_per_s=%.3f wait_ms=%.2f allreduce_ms=%.2f grad_bytes=%lld "
        "buckets=%lld\n",
        world, steps / seconds, steps * batch * world / seconds, dp ? 1000 * waitS / steps : 0.0, allreduceMs,
        static_cast<long long>(bytes), dp ? static_cast<long long>(dp->gradients().buckets()) : 0LL);
  }
  return 0;
}

// Runs `world` workers of this program and returns rank 0's RESULT line.
std::string run(const char* self, std::map<std::string, std::string> a, int world) {
  const std::string port = std::to_string(freePort());
  std::vector<pid_t> pids;
  int fds[2];
  if (pipe(fds) != 0) return "";
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args{self, "--rank", std::to_string(r), "--world", std::to_string(world), "--port", port};
    for (const char* k : {"steps", "batch", "size", "backend", "device", "bucket-mb"}) {
      args.push_back(std::string("--") + k);
      args.push_back(a[k]);
    }
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (r == 0) posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    pid_t pid = 0;
    posix_spawn(&pid, self, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    pids.push_back(pid);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  return out.substr(0, out.find('\n'));
}

double field(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  return at == std::string::npos ? 0 : std::stod(line.substr(at + key.size() + 1));
}

}  // namespace

int main(int argc, char** argv) {
  auto a = parseArgs(argc, argv);
  if (std::stoi(a["rank"]) >= 0) return worker(a);
  std::printf(
      "machine: %s, %u CPUs; one thread per process; tiny preset, %sx%s images, batch %s per process, %s timed steps, "
      "%s MB buckets\n",
      adetr::bench::cpuModel().c_str(), std::thread::hardware_concurrency(), a["size"].c_str(), a["size"].c_str(),
      a["batch"].c_str(), a["steps"].c_str(), a["bucket-mb"].c_str());
  if (a["backend"] == "nccl") {
    std::printf("%s\n", run(argv[0], a, 1).c_str());  // the NCCL smoke run: one process, one GPU
    return 0;
  }
  const std::string one = run(argv[0], a, 1);
  const int world = std::stoi(a["world"]);
  const std::string many = run(argv[0], a, world);
  std::printf("1 process : %s\n%d processes: %s\n", one.c_str(), world, many.c_str());
  std::printf("images/s ratio (%d processes / 1): %.2f; gradient bytes per step per process: %.0f (%.1f MB)\n", world,
              field(many, "images_per_s") / field(one, "images_per_s"), field(many, "grad_bytes"),
              field(many, "grad_bytes") / 1e6);
  return 0;
}
