#include "dist/local_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace adetr::dist {

namespace {

// Closes the socket however the lookup ends.
struct Socket {
  int fd;
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string localAddressToward(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  // Any port: connecting a UDP socket only picks the route.
  const int rc = getaddrinfo(host.c_str(), "9", &hints, &found);
  if (rc != 0) throw std::runtime_error("cannot resolve '" + host + "': " + gai_strerror(rc));
  std::string lastError = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Socket s{socket(a->ai_family, SOCK_DGRAM, 0)};
    if (s.fd < 0 || connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
      lastError = std::strerror(errno);
      continue;
    }
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &size) != 0) {
      lastError = std::strerror(errno);
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {0};
    const void* addr = local.ss_family == AF_INET6
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
    if (inet_ntop(local.ss_family, addr, text, sizeof text) == nullptr) {
      lastError = std::strerror(errno);
      continue;
    }
    freeaddrinfo(found);
    return text;
  }
  freeaddrinfo(found);
  throw std::runtime_error("no local address routes to '" + host + "' (" + lastError + ")");
}

}  // namespace adetr::dist
