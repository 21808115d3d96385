// Progress reporting for long CLI runs. On a terminal: one line redrawn in place (bar, percentage,
// fields such as the loss, elapsed time and ETA), at most ~10 redraws a second. Elsewhere (a log
// file, CI): plain lines, at most one every `plainInterval` seconds, plus the final state.
// The clock and the stream are injectable so the output can be tested exactly.

/** The part of a writable stream the reporter uses. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Where to write; default process.stderr. */
  stream?: ProgressStream;
  /** The count of work units at completion (> 0). */
  total: number;
  /** Printed first on each line, e.g. 'train'. */
  label: string;
  /** Redraw in place (true) or print plain lines (false); default: stream.isTTY. */
  isTTY?: boolean;
  /** Milliseconds since any fixed origin; default performance.now. */
  now?: () => number;
  /** Non-TTY: seconds between two plain lines; default 10. */
  plainInterval?: number;
  /** TTY: milliseconds between two redraws; default 100. */
  redrawInterval?: number;
  /** Time constant, in seconds, of the exponential smoothing of the rate behind the ETA; default 20. */
  rateTimeConstant?: number;
}

const BAR_WIDTH = 24;
const CLEAR_LINE = '\r\x1b[2K';

/** A number in few characters: integers as they are, 4 significant digits, or 1e-4 style when tiny/huge. */
export function formatCompact(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(4)));
  // Exponential: strip trailing zeros of the mantissa and the exponent's '+'.
  const [mantissa = '', exponent = ''] = x.toExponential(2).split('e');
  return `${mantissa.replace(/\.?0+$/, '')}e${exponent.replace('+', '')}`;
}

/** A duration as m:ss, or h:mm:ss from one hour; '?' when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly total: number;
  private readonly label: string;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly plainIntervalMs: number;
  private readonly redrawIntervalMs: number;
  private readonly rateTauMs: number;
  private readonly start: number;

  private done = 0;
  private fields: Record<string, number | string> = {};
  /** Smoothed rate, units per millisecond; undefined until progress was seen. */
  private rate: number | undefined;
  private lastAdvanceTime: number | undefined;
  private lastAdvanceDone = 0;
  /** When the last line was written (plain) or drawn (TTY); undefined before the first. */
  private lastOutputTime: number | undefined;
  /** Whether the latest update is not yet on screen / in the log. */
  private pending = false;
  /** TTY: whether the bar currently occupies the cursor's line. */
  private barShown = false;
  private finished = false;

  constructor(options: ProgressOptions) {
    if (!(Number.isFinite(options.total) && options.total > 0)) {
      throw new RangeError(`total: must be a positive number, got ${options.total}`);
    }
    this.stream = options.stream ?? process.stderr;
    this.total = options.total;
    this.label = options.label;
    this.tty = options.isTTY ?? this.stream.isTTY === true;
    this.now = options.now ?? (() => performance.now());
    this.plainIntervalMs = (options.plainInterval ?? 10) * 1000;
    this.redrawIntervalMs = options.redrawInterval ?? 100;
    this.rateTauMs = (options.rateTimeConstant ?? 20) * 1000;
    this.start = this.now();
  }

  /** Milliseconds left at the smoothed rate; undefined until two updates have measured one. */
  etaMs(): number | undefined {
    if (this.done >= this.total) return 0;
    return this.rate !== undefined && this.rate > 0 ? (this.total - this.done) / this.rate : undefined;
  }

  /** Records that `done` of `total` units are complete, with the fields to show (e.g. loss, lr). */
  update(done: number, fields: Record<string, number | string> = {}): void {
    if (this.finished) return;
    const t = this.now();
    if (this.lastAdvanceTime === undefined) {
      // The rate is measured from the first update on: what came before it (building the model,
      // the first batch's warm-up, or the steps of a resumed run) would skew it.
      this.lastAdvanceTime = t;
      this.lastAdvanceDone = done;
    } else if (done > this.lastAdvanceDone && t > this.lastAdvanceTime) {
      // Exponential smoothing weighted by elapsed time, so the ETA does not depend on how often
      // update() is called; a constant rate stays exactly that rate.
      const instant = (done - this.lastAdvanceDone) / (t - this.lastAdvanceTime);
      const w = this.rate === undefined ? 1 : 1 - Math.exp(-(t - this.lastAdvanceTime) / this.rateTauMs);
      this.rate = this.rate === undefined ? instant : this.rate + w * (instant - this.rate);
      this.lastAdvanceTime = t;
      this.lastAdvanceDone = done;
    }
    this.done = Math.min(done, this.total);
    this.fields = { ...fields };
    this.pending = true;
    const complete = this.done >= this.total;
    const interval = this.tty ? this.redrawIntervalMs : this.plainIntervalMs;
    if (this.lastOutputTime === undefined || t - this.lastOutputTime >= interval || complete) this.output(t);
  }

  /** Prints a line of its own; on a terminal the bar is cleared first and redrawn below it. */
  log(line: string): void {
    if (this.tty && this.barShown) {
      this.stream.write(`${CLEAR_LINE}${line}\n`);
      this.barShown = false;
      if (!this.finished) this.draw();
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Shows the last state if it is not shown yet and ends the bar's line. Later calls do nothing. */
  finish(): void {
    if (this.finished) return;
    if (this.pending) this.output(this.now());
    if (this.tty && this.barShown) this.stream.write('\n');
    this.barShown = false;
    this.finished = true;
  }

  private output(t: number): void {
    this.lastOutputTime = t;
    this.pending = false;
    if (this.tty) this.draw();
    else this.stream.write(`${this.plainLine(t)}\n`);
  }

  private fieldText(): string {
    return Object.entries(this.fields)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? formatCompact(v) : v}`)
      .join(' ');
  }

  private percent(): string {
    return `${((100 * this.done) / this.total).toFixed(1)}%`;
  }

  /** `label done/total pct% field=value ... elapsed=m:ss eta=m:ss` */
  plainLine(t = this.now()): string {
    const parts = [this.label, `${this.done}/${this.total}`, this.percent()];
    const fields = this.fieldText();
    if (fields) parts.push(fields);
    parts.push(`elapsed=${formatDuration(t - this.start)}`, `eta=${formatDuration(this.etaMs() ?? NaN)}`);
    return parts.join(' ');
  }

  private draw(): void {
    const t = this.now();
    const frac = Math.min(1, this.done / this.total);
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
    const fields = this.fieldText();
    let line = `${this.label} ${bar} ${this.percent().padStart(6)} ${this.done}/${this.total}` +
      `${fields ? ` ${fields}` : ''} elapsed ${formatDuration(t - this.start)} eta ${formatDuration(this.etaMs() ?? NaN)}`;
    // A line longer than the terminal wraps, and '\r' then only returns to the wrapped part.
    const columns = this.stream.columns ?? 0;
    if (columns > 1 && [...line].length > columns - 1) line = [...line].slice(0, columns - 1).join('');
    this.stream.write(`${CLEAR_LINE}${line}`);
    this.barShown = true;
  }
}
