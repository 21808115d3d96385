// A c10d process group for data-parallel training (native/dist over the addon): joined from
// torchrun's variables or explicit values, with a timeout on every collective. Errors of a
// collective (a rank exited or hung, ranks disagree) reject with DistributedError.
import { binding } from '../binding';
import type { NativeGroupOptions, ProcessGroupHandle } from '../binding';
import { collective } from '../errors';
import { checkOptionKeys } from '../options';

/** Where a rank finds its group: explicit values, or 'env' for torchrun's variables. */
export interface GroupOptions {
  rank: number;
  worldSize: number;
  /** Host of rank 0's store (the rendezvous). */
  masterAddr: string;
  masterPort: number;
  /** Joining and every collective fail after this long (default 60 000 ms). */
  timeoutMs?: number;
  /** 'gloo' (CPU; default) or 'nccl' (CUDA builds with NCCL only). */
  backend?: 'gloo' | 'nccl';
  /**
   * NCCL only: the CUDA device of this rank (one GPU per process). Default: LOCAL_RANK's under
   * torchrun or `align-detr train --nproc`, else the current device.
   */
  cudaDevice?: number;
  /** The store at masterAddr:masterPort is hosted by an agent (torchrun), not by rank 0. */
  externalStore?: boolean;
  /** The prefix of this run's keys in the store (default 'adetr'). */
  storePrefix?: string;
}

export type DistributedOptions = 'env' | GroupOptions;

const GROUP_KEYS = ['rank', 'worldSize', 'masterAddr', 'masterPort', 'timeoutMs', 'backend', 'cudaDevice', 'externalStore', 'storePrefix'];

/** The default collective timeout. */
export const DEFAULT_TIMEOUT_MS = 60_000;

function envInteger(env: NodeJS.ProcessEnv, name: string, lo: number, hi: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    throw new TypeError(`${name}: environment variable not set (start the workers with torchrun or \`align-detr train --nproc N\`)`);
  }
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v < lo || v > hi) {
    throw new RangeError(`${name}: expected an integer in [${lo}, ${hi}], got '${raw}'`);
  }
  return v;
}

/**
 * torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK (the CUDA device
 * of an NCCL group, torchrun's convention), and its agent store
 * (TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT); ALIGN_DETR_DIST_TIMEOUT (seconds)
 * sets the collective timeout. A missing or malformed one is a TypeError/RangeError naming it.
 */
export function groupOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): GroupOptions {
  const worldSize = envInteger(env, 'WORLD_SIZE', 1, 1 << 20);
  const rank = envInteger(env, 'RANK', 0, worldSize - 1);
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr) throw new TypeError('MASTER_ADDR: environment variable not set (the host of rank 0)');
  const masterPort = envInteger(env, 'MASTER_PORT', 1, 65535);
  const o: GroupOptions = { rank, worldSize, masterAddr, masterPort };
  if (env.LOCAL_RANK !== undefined && env.LOCAL_RANK !== '') o.cudaDevice = envInteger(env, 'LOCAL_RANK', 0, 1023);
  if (env.ALIGN_DETR_DIST_TIMEOUT) o.timeoutMs = envInteger(env, 'ALIGN_DETR_DIST_TIMEOUT', 1, 1 << 30) * 1000;
  // torchrun's agent hosts the store on MASTER_PORT; a restart attempt gets keys of its own.
  if (env.TORCHELASTIC_USE_AGENT_STORE === 'True') {
    o.externalStore = true;
    o.storePrefix = `adetr/attempt_${env.TORCHELASTIC_RESTART_COUNT ?? '0'}`;
  }
  return o;
}

/** Checks explicit group options (TypeError / RangeError naming the key). */
export function checkGroupOptions(o: unknown, name = 'distributed'): GroupOptions {
  if (typeof o !== 'object' || o === null) {
    throw new TypeError(`${name}: expected 'env' or { rank, worldSize, masterAddr, masterPort }`);
  }
  checkOptionKeys(o, name, GROUP_KEYS);
  const g = o as Record<string, unknown>;
  const int = (key: string, lo: number, hi: number, required = true): void => {
    const v = g[key];
    if (v === undefined && !required) return;
    if (typeof v !== 'number') throw new TypeError(`${name}.${key}: expected an integer, got ${typeof v}`);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name}.${key}: expected an integer in [${lo}, ${hi}], got ${v}`);
  };
  int('worldSize', 1, 1 << 20);
  int('rank', 0, (g.worldSize as number) - 1);
  if (typeof g.masterAddr !== 'string' || g.masterAddr === '') throw new TypeError(`${name}.masterAddr: expected a host name or address`);
  int('masterPort', 1, 65535);
  int('timeoutMs', 1, 2 ** 40, false);
  int('cudaDevice', 0, 1023, false);
  if (g.externalStore !== undefined && typeof g.externalStore !== 'boolean') throw new TypeError(`${name}.externalStore: expected a boolean`);
  if (g.storePrefix !== undefined && (typeof g.storePrefix !== 'string' || g.storePrefix === '')) {
    throw new TypeError(`${name}.storePrefix: expected a non-empty string`);
  }
  if (g.backend !== undefined && g.backend !== 'gloo' && g.backend !== 'nccl') {
    throw new TypeError(`${name}.backend: expected 'gloo' or 'nccl', got ${JSON.stringify(g.backend)}`);
  }
  return { ...(o as GroupOptions) };
}

/** The c10d backends this build has ('gloo' on CPU builds; 'nccl' with a CUDA libtorch built with it). */
export function distributedBackends(): string[] {
  return binding().distributedBackends();
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly options: GroupOptions;
  #handle: ProcessGroupHandle;

  private constructor(handle: ProcessGroupHandle, options: GroupOptions) {
    this.#handle = handle;
    this.rank = handle.rank;
    this.worldSize = handle.worldSize;
    this.options = options;
  }

  /** Joins the group; resolves once every rank has joined (at most the timeout). */
  static async join(options: DistributedOptions): Promise<ProcessGroup> {
    const o = options === 'env' ? groupOptionsFromEnv() : checkGroupOptions(options);
    const native: NativeGroupOptions = { ...o, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS };
    const handle = await collective(() => binding().joinProcessGroup(native));
    return new ProcessGroup(handle, o);
  }

  /** Every rank's facts must be equal; otherwise every rank rejects with a DistributedError naming the facts. */
  checkAgreement(facts: Record<string, string>): Promise<void> {
    return collective(() => this.handle('checkAgreement').checkAgreement(facts));
  }

  /** Every rank's rows of `cols` numbers, concatenated in rank order. */
  allgatherRows(rows: Float64Array, cols: number): Promise<Float64Array> {
    return collective(() => this.handle('allgatherRows').allgatherRows(rows, cols));
  }

  /** The element-wise sum over ranks. */
  allreduceSum(values: Float64Array): Promise<Float64Array> {
    return collective(() => this.handle('allreduceSum').allreduceSum(values));
  }

  barrier(): Promise<void> {
    return collective(() => this.handle('barrier').barrier());
  }

  /** Leaves the group (frees this rank's side; the others see it as gone). */
  dispose(): void {
    this.#handle.dispose();
  }

  /** @internal The native handle (the Trainer attaches to it). */
  nativeHandle(): ProcessGroupHandle {
    return this.handle('nativeHandle');
  }

  private handle(what: string): ProcessGroupHandle {
    if (this.#handle.disposed) throw new TypeError(`processGroup.${what}: the process group has been disposed`);
    return this.#handle;
  }
}
