// Each rank bumps a counter in the store twice a second from a thread of its own (over a store
// connection of its own). When a collective fails, the ranks whose counter stands still are the
// ones that exited or hung; a rank that left a "failed/<rank>" mark failed because of another.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace c10d {
class Store;
}

namespace adetr::dist {

class Heartbeat {
 public:
  static constexpr std::chrono::milliseconds kInterval{500};

  // Beats under `prefix` in the store at host:port.
  Heartbeat(const std::string& host, int port, const std::string& prefix, int rank, std::chrono::milliseconds timeout);
  ~Heartbeat();

  // The other ranks whose counter does not move over three intervals and that left no failure
  // mark, read through `store` (throws when the store cannot be reached).
  std::vector<int> silentRanks(c10d::Store& store, int worldSize) const;

 private:
  void run(std::string host, int port, std::string prefix, std::chrono::milliseconds timeout);

  int rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace adetr::dist
