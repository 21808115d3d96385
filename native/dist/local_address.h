// Which of this machine's addresses reaches another host: the one Gloo must listen on. Each rank
// binds its Gloo device to a local address; naming rank 0's address works on rank 0's machine
// only (elsewhere nothing local has that address), and the hostname's address may be a
// loopback one that other machines cannot reach. The address the kernel would send from toward
// rank 0 is reachable from rank 0, so every rank uses that.
#pragma once

#include <string>

namespace adetr::dist {

// The numeric local address (IPv4 or IPv6) of the interface that routes to `host` (a name or an
// address). No packet is sent: a UDP socket is connected and asked for its own address. Throws
// std::runtime_error naming `host` when it does not resolve or no route leads there.
std::string localAddressToward(const std::string& host);

}  // namespace adetr::dist
