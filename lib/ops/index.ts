// The `ops` namespace: the native kernels, each in its own module.
// Each op module adds its entries below.
import { linearSumAssignment, linearSumAssignmentBatch, linearSumAssignmentBatchAsync } from './lsa';
import { msDeformAttn, msDeformAttnBackward } from './msda';
import { alignLoss, alignTargets } from './align-loss';
export type { Assignment, CostInput, CostMatrix, LinearSumAssignmentOptions } from './lsa';
export type { MsDeformAttnGrads } from './msda';
export type {
  AlignLossKind, AlignLossOptions, AlignLossResult, AlignTargetOptions, AlignTargets,
} from './align-loss';

export const ops = {
  linearSumAssignment,
  linearSumAssignmentBatch,
  linearSumAssignmentBatchAsync,
  msDeformAttn,
  msDeformAttnBackward,
  alignLoss,
  alignTargets,
};
