// What the addon was built with, and libtorch's intra-op thread pool.
import { binding } from './binding';

/** Facts about the loaded native build. */
export interface BuildInfo {
  /** libtorch version the addon was compiled against, "MAJOR.MINOR.PATCH". */
  libtorchVersion: string;
  /** Whether the CUDA kernels were compiled in. */
  cudaCompiled: boolean;
  /** Whether a CUDA device is usable now. */
  cudaAvailable: boolean;
  /** libtorch's intra-op thread count. */
  numThreads: number;
  /** libtorch's description of its parallel backend. */
  parallelBackend: string;
  /** Whether libtorch uses the C++11 std::string ABI. */
  cxx11Abi: boolean;
  /** Node-API version the addon targets. */
  napiVersion: number;
  /** The libtorch_cpu file this process really runs on (the bundled package, a CUDA libtorch, or the system's). */
  libtorchPath: string;
  /** The libc10 file loaded. */
  libc10Path: string;
  /** The addon file loaded. */
  addonPath: string;
}

/** What Tensor handles hold right now, over every thread of the process. */
export interface TensorMemory {
  /** Tensors not yet disposed or finalized. */
  liveTensors: number;
  /** Host (CPU) bytes those tensors hold; device memory is not counted. */
  hostBytes: number;
}

/** Describes the loaded native build. */
export function buildInfo(): BuildInfo {
  return binding().buildInfo();
}

/**
 * Sets libtorch's intra-op thread count (process-wide: it also affects other workers).
 * @throws RangeError unless `n` is an integer in [1, 1024].
 */
export function setNumThreads(n: number): void {
  binding().setNumThreads(n);
}

/**
 * Counts the tensors that JS still holds natively. `dispose()` frees a tensor's memory at once;
 * a tensor dropped without it is freed by its finalizer, which Node-API runs only when the
 * event loop turns: a long synchronous loop should dispose what it makes (or `using`).
 */
export function tensorMemory(): TensorMemory {
  return binding().tensorMemory();
}
