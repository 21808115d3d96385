// The one check of file-path arguments before they reach native code: a string, non-empty,
// without NUL (the C++ side would write to the path truncated at the NUL), and, for files that
// are read, a regular file (opening a FIFO blocks the reader thread for ever, so the promise would
// never settle and the process could not exit). Missing files are left to the reader, whose
// message names the path.
import * as fs from 'node:fs';
import * as path from 'node:path';

function checkedString(file: unknown, argName: string): string {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`${argName}: expected a file path string`);
  if (file.includes('\0')) throw new TypeError(`${argName}: the path contains a NUL character`);
  return path.resolve(file);
}

/** The absolute path of a file to read; TypeError when `file` is not a path or names something other than a regular file. */
export async function inputFile(file: unknown, argName = 'path'): Promise<string> {
  const resolved = checkedString(file, argName);
  let stat: fs.Stats | undefined;
  try {
    stat = await fs.promises.stat(resolved);
  } catch {
    return resolved; // missing or unreadable: the reader reports it with the path
  }
  if (!stat.isFile()) {
    const kind = stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : stat.isSocket() ? 'a socket' : 'not a regular file';
    throw new TypeError(`${argName}: ${String(file)} is ${kind}; expected a regular file`);
  }
  return resolved;
}

/** The absolute path of a file to write; TypeError when `file` is not a usable path. */
export function outputFile(file: unknown, argName = 'path'): string {
  return checkedString(file, argName);
}
