// `align-detr doctor`: what this machine has and which binary loads, for bug reports and
// "why is it not using my GPU" questions.
import * as os from 'node:os';
import { gpuVisible } from '../loader/libtorch';
import { binding } from '../binding';
import { describeCandidates, loadedCandidate, packageRoot, packageVersion } from '../native';

export function doctorReport(): string[] {
  const lines: string[] = [];
  lines.push(`align-detr ${packageVersion} (${packageRoot})`);
  lines.push(`platform: ${os.platform()}-${os.arch()} (${os.release()}), glibc ${(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime ?? 'unknown'}`);
  lines.push(`node ${process.versions.node}${process.versions.electron ? `, electron ${process.versions.electron}` : ''}, N-API ${process.versions.napi}`);
  const gpu = gpuVisible();
  lines.push(`GPU: ${gpu.visible ? 'visible' : 'not visible'} (${gpu.why})`);
  for (const v of ['ALIGN_DETR_VARIANT', 'ALIGN_DETR_ADDON', 'ALIGN_DETR_LIBTORCH', 'LIBTORCH', 'LD_LIBRARY_PATH']) {
    if (process.env[v]) lines.push(`${v}=${process.env[v]}`);
  }
  lines.push('candidates, in the order tried:');
  let reports: ReturnType<typeof describeCandidates>;
  try {
    reports = describeCandidates();
  } catch (err) {
    lines.push(`  (cannot list: ${(err as Error).message})`);
    reports = [];
  }
  for (const r of reports) {
    const lt = r.libtorch ? `; libtorch ${r.libtorch.version ?? '?'}${'cuda' in r.libtorch && r.libtorch.cuda ? ` CUDA ${r.libtorch.cuda}` : ''} at ${r.libtorch.root} (${r.libtorch.source})` : '';
    lines.push(`  - ${r.label}${r.file ? `: ${r.file}` : ''}${lt}${r.problem ? ` — not usable: ${r.problem}` : ''}`);
  }
  try {
    const info = binding().buildInfo();
    lines.push(`loaded: ${loadedCandidate()?.label} (${info.addonPath})`);
    lines.push(`libtorch: ${info.libtorchVersion} at ${info.libtorchPath} (CUDA compiled: ${info.cudaCompiled}, CUDA available: ${info.cudaAvailable}, threads: ${info.numThreads})`);
  } catch (err) {
    lines.push(`loaded: nothing\n${(err as Error).message}`);
  }
  return lines;
}
