// Precompiled header of the core: the ATen headers nearly every kernel and model file uses.
// Files still include what they use; this only makes those includes cheap.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <vector>
