// What the exporter reads of the model's configuration, and the configurations it can export.
import type { ModelConfig } from '../model';

export type ExportConfig = ModelConfig;

/** Throws a RangeError naming the first configuration field the exporter cannot express. */
export function checkExportable(cfg: ExportConfig, padded: boolean): void {
  if (cfg.numLevels !== 4) throw new RangeError(`numLevels: the ONNX export supports 4 levels, got ${cfg.numLevels}`);
  if (padded && !cfg.padInvariant) {
    // detrex's masks (nearest-resized image mask) are not expressed; unpadded inputs need none.
    throw new RangeError('padInvariant: a model with padInvariant false exports only without padding (give height and width, or postprocess: true)');
  }
}
