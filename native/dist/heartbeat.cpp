#include "dist/heartbeat.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace adetr::dist {

namespace {
std::string counterKey(int rank) { return "alive/" + std::to_string(rank); }

// A rank's counter, or -1 before its first beat.
int64_t readCounter(c10d::Store& store, int rank) {
  if (!store.check({counterKey(rank)})) return -1;
  auto v = store.get(counterKey(rank));
  return std::stoll(std::string(v.begin(), v.end()));
}
}  // namespace

Heartbeat::Heartbeat(const std::string& host, int port, const std::string& prefix, int rank,
                     std::chrono::milliseconds timeout)
    : rank_(rank) {
  thread_ = std::thread(&Heartbeat::run, this, host, port, prefix, timeout);
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Heartbeat::run(std::string host, int port, std::string prefix, std::chrono::milliseconds timeout) {
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    so.isServer = false;
    so.waitWorkers = false;
    so.timeout = timeout;
    auto store = c10::make_intrusive<c10d::PrefixStore>(prefix, c10::make_intrusive<c10d::TCPStore>(host, so));
    std::unique_lock<std::mutex> lock(mutex_);
    for (int64_t beat = 0; !stop_; ++beat) {
      const std::string s = std::to_string(beat);
      store->set(counterKey(rank_), std::vector<uint8_t>(s.begin(), s.end()));
      wake_.wait_for(lock, kInterval, [this] { return stop_; });
    }
  } catch (const std::exception&) {
    // The store's host is gone: nothing left to beat for (the failing collective reports it).
  }
}

std::vector<int> Heartbeat::silentRanks(c10d::Store& store, int worldSize) const {
  std::vector<int64_t> before(static_cast<size_t>(worldSize));
  for (int r = 0; r < worldSize; ++r) before[static_cast<size_t>(r)] = r == rank_ ? 0 : readCounter(store, r);
  std::this_thread::sleep_for(3 * kInterval);
  std::vector<int> silent;
  for (int r = 0; r < worldSize; ++r) {
    if (r == rank_) continue;
    if (readCounter(store, r) != before[static_cast<size_t>(r)]) continue;
    if (store.check({"failed/" + std::to_string(r)})) continue;
    silent.push_back(r);
  }
  return silent;
}

}  // namespace adetr::dist
