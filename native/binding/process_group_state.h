// The process group behind a ProcessGroupHandle (dist_binding.cc), for other bindings (a
// trainer joins its group through it).
#pragma once

#include <napi.h>

#include <memory>

#include "dist/process_group.h"

namespace adetr::binding {

// The group of a live ProcessGroupHandle; a TypeError naming `argName` otherwise.
std::shared_ptr<dist::ProcessGroup> processGroupArg(const Napi::Value& value, const char* argName);

}  // namespace adetr::binding
