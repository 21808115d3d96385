// Two "machines" on one: network namespaces joined by a veth pair, at 10.99.0.1 and 10.99.0.2,
// with no route anywhere else (the namespaces see only each other). Needs root and iproute2;
// made and removed by the test that uses it.
import { spawnSync } from 'node:child_process';

export interface NetnsPair {
  /** The namespaces' names: `ip netns exec NAME ...` runs a command on that machine. */
  names: [string, string];
  /** Each machine's address on the link between them. */
  addresses: [string, string];
  remove(): void;
}

function ip(args: string[]): string | undefined {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return r.error.message;
  return r.status === 0 ? undefined : (r.stderr || `ip ${args.join(' ')} exited with ${r.status}`).trim();
}

/** The pair, or why it cannot be made here (not root, no iproute2, no namespaces). */
export function makeNetnsPair(): NetnsPair | string {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const tag = `adetr${process.pid}`;
  const names: [string, string] = [`${tag}a`, `${tag}b`];
  const links = [`${tag.slice(0, 12)}x`, `${tag.slice(0, 12)}y`]; // interface names: 15 characters at most
  const addresses: [string, string] = ['10.99.0.1', '10.99.0.2'];
  const remove = () => {
    for (const n of names) ip(['netns', 'delete', n]); // deleting a namespace deletes its end of the veth
  };
  const steps: string[][] = [
    ['netns', 'add', names[0]],
    ['netns', 'add', names[1]],
    ['link', 'add', links[0]!, 'type', 'veth', 'peer', 'name', links[1]!],
  ];
  for (let i = 0; i < 2; i++) {
    steps.push(['link', 'set', links[i]!, 'netns', names[i]!]);
    steps.push(['-n', names[i]!, 'addr', 'add', `${addresses[i]}/24`, 'dev', links[i]!]);
    steps.push(['-n', names[i]!, 'link', 'set', links[i]!, 'up']);
    steps.push(['-n', names[i]!, 'link', 'set', 'lo', 'up']);
  }
  for (const step of steps) {
    const failed = ip(step);
    if (failed !== undefined) {
      remove();
      ip(['link', 'delete', links[0]!]);
      return `ip ${step.join(' ')}: ${failed}`;
    }
  }
  return { names, addresses, remove };
}
