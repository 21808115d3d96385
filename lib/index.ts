// align-detr: public entry point.
export { Tensor } from './tensor';
export type { DType, DataTypeMap, TensorData } from './tensor';
export { buildInfo, setNumThreads } from './runtime';
export type { BuildInfo } from './runtime';
export { ops } from './ops/index';
