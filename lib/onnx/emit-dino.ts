// The whole inference network in the graph: backbone → neck → flattening → encoder → two-stage
// selection → decoder (native/model/dino.cpp's forward in eval mode, without denoising).
import type { ExportConfig } from './config';
import { emitBackbone } from './emit-backbone';
import type { DeformableOptions } from './emit-deformable';
import { emitDecoder } from './emit-decoder';
import { emitEncoder, flattenLevels } from './emit-encoder';
import type { EmitContext } from './emit-layers';
import { MaskSource } from './emit-masks';
import type { MsdaMode } from './emit-msda';
import { emitNeck } from './emit-neck';
import { emitQuerySelection } from './emit-query-selection';
import type { Value } from './graph';

/**
 * images [B, 3, H, W] normalised; validSizes [B, 2] int64 (h, w). `padded`: images may carry
 * zero padding past their valid sizes (every mask applied, as in the native padding-invariant
 * mode); otherwise each image fills the batch and the backbone and neck run unmasked.
 */
export function emitDino(ctx: EmitContext, cfg: ExportConfig, msda: MsdaMode, images: Value, validSizes: Value, padded: boolean): { logits: Value; boxes: Value } {
  const masks = new MaskSource(ctx.g, images, validSizes);
  const opts: DeformableOptions = { cfg, msda };
  const cnnMasks = padded ? masks : undefined;
  const feats = emitBackbone(ctx, cfg, images, cnnMasks);
  const levels = emitNeck(ctx, cfg, feats, cnnMasks);
  const flat = flattenLevels(ctx, opts, levels, masks, padded);
  const memory = emitEncoder(ctx, opts, flat);
  const selected = emitQuerySelection(ctx, cfg, flat, memory, padded);
  return emitDecoder(ctx, opts, { ...selected, validRatios: flat.validRatios, memory: { ...flat.memory, value: memory } });
}
