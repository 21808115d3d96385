#include "model/atomic_file.h"

#include <c10/util/Exception.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/arg_error.h"

namespace adetr::model {

namespace {

std::string dirOf(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// The pid in a name ending ".tmp-<digits>", or -1.
long pidOfTemporary(const std::string& name) {
  const auto mark = name.rfind(".tmp-");
  if (mark == std::string::npos) return -1;
  const std::string digits = name.substr(mark + 5);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

bool processGone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

int removeStaleTemporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const long pid = pidOfTemporary(e->d_name);
    if (pid < 0 || pid == static_cast<long>(::getpid()) || !processGone(pid)) continue;
    if (::unlink((dir + "/" + e->d_name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

void writeFileAtomically(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  const std::string dir = dirOf(path);
  removeStaleTemporaries(dir);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  checkType(fd >= 0, "path: cannot write ", path, ": ", std::strerror(errno));

  // The sink never throws: libtorch's zip writer finalises in its destructor, and an exception
  // thrown from there (as its own file writer does on a full disk) terminates the process. The
  // first error is kept and reported once the producer has returned.
  int writeErrno = 0;
  const ByteSink sink = [&](const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (writeErrno == 0 && size > 0) {
      const ssize_t n = ::write(fd, p, size);
      if (n < 0) {
        if (errno != EINTR) writeErrno = errno;
        continue;
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  };
  std::string failure;
  try {
    produce(sink);
  } catch (const c10::Error& e) {
    failure = e.what_without_backtrace();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown error";
  }
  if (failure.empty() && writeErrno == 0 && ::fsync(fd) != 0) writeErrno = errno;
  if (::close(fd) != 0 && failure.empty() && writeErrno == 0) writeErrno = errno;
  if (failure.empty() && writeErrno != 0) failure = std::strerror(writeErrno);
  if (failure.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    failure = std::string("cannot move it into place: ") + std::strerror(errno);
  if (!failure.empty()) {
    ::unlink(tmp.c_str());
    checkType(false, "path: cannot write ", path, ": ", failure);
  }
  // The rename itself is durable once the folder is flushed.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace adetr::model
