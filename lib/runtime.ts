// What the addon was built with, and libtorch's intra-op thread pool.
import { loadAddon } from './native';

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

interface RuntimeBinding {
  buildInfo(): BuildInfo;
  setNumThreads(n: number): void;
}

const binding = (): RuntimeBinding => loadAddon() as unknown as RuntimeBinding;

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
