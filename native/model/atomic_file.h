// Writing a file so that readers see the old file or the complete new one, never a part: the
// bytes go to `<path>.tmp-<pid>`, are flushed to disk, and the temporary is renamed over `path`.
// Every failure (full disk, read-only or missing folder, permissions) removes the temporary and
// throws an argument error naming `path` and the system's reason, without a C++ backtrace.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace adetr::model {

// Receives the file's bytes in order; may be called any number of times.
using ByteSink = std::function<void(const void* data, size_t size)>;

// Calls `produce(sink)` to generate the bytes and writes them atomically to `path`. `produce`
// may throw; the temporary is removed and the error rethrown as one naming `path`.
void writeFileAtomically(const std::string& path, const std::function<void(const ByteSink&)>& produce);

// Removes `*.tmp-<pid>` files in `dir` whose process no longer runs (left by a process killed
// mid-save). Returns how many were removed; errors are ignored (it is housekeeping).
int removeStaleTemporaries(const std::string& dir);

}  // namespace adetr::model
