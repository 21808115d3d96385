#!/usr/bin/env node
// The `align-detr` command line.
import { parseArgs } from 'node:util';
import { buildInfo } from '../runtime';

const USAGE = `usage: align-detr <command> [options]

commands:
  info       print the native build (libtorch version, CUDA, threads)
  train      train a detector (not yet available in this version)
  eval       evaluate a checkpoint (not yet available in this version)
  predict    run a checkpoint on images (not yet available in this version)

options:
  -h, --help  show this help`;

function notYet(command: string): number {
  const info = buildInfo();
  console.log(`align-detr ${command}: not yet available — the trainer and the model land in a later version.`);
  console.log(`The native build works: libtorch ${info.libtorchVersion}, ${info.numThreads} thread(s), CUDA ${info.cudaAvailable ? 'available' : 'not available'}.`);
  return 0;
}

export function main(argv: string[]): number {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  switch (command) {
    case 'info':
      console.log(JSON.stringify(buildInfo(), null, 2));
      return 0;
    case 'train':
    case 'eval':
    case 'predict':
      return notYet(command);
    default:
      console.error(`align-detr: unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`align-detr: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
