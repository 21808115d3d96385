// node-llama-cpp's testBindingBinary: before a binary is loaded into this process, load it in a
// child (Node, or Electron run as Node) and run one tiny op there.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Candidate } from './load';

export interface ProbeResult {
  ok: boolean;
  error?: string;
  info?: Record<string, unknown>;
}

export function probeCandidate(c: Candidate, timeoutMs = 60000): ProbeResult {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'probe-child.js'), JSON.stringify(c)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as ProbeResult;
    if (typeof parsed.ok === 'boolean') return parsed;
  } catch {
    // no JSON line: the child died
  }
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`;
  const stderr = (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return { ok: false, error: `the probe process failed (${how})${stderr ? `: ${stderr}` : ''}` };
}
