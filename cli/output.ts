/**
 * Terminal output of the command: tables (cli-table3), progress (cli-progress on a terminal, one plain
 * line per step otherwise) and JSON. Progress goes to stderr so stdout holds only the result (the table,
 * or the JSON with --json).
 */
import Table from 'cli-table3';
import { SingleBar, Presets } from 'cli-progress';

/** A table with a header row; cells are printed as given. */
export function renderTable(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  // No colours: the same text on a terminal, in a pipe and in the docs.
  const t = new Table({
    head: [...head],
    style: { head: [], border: [] },
    // One line per row: no rule between rows.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

/** `key: value` lines, keys padded to one column. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `  ${(k + ':').padEnd(width + 1)} ${v}`).join('\n');
}

/** Prints a result as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Progress of a command with a known number of steps. */
export interface Progress {
  /** Marks one step done; `what` names the step just finished. */
  tick(what: string): void;
  /** Ends the progress display. */
  stop(): void;
}

/** Shows `total` steps of `label` on stderr: a bar on a terminal, `label [i/total] what` lines otherwise;
 * nothing when `quiet`. */
export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { tick: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} {what}`, stream: process.stderr, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0, { what: '' });
    return { tick: (what) => bar.increment({ what }), stop: () => bar.stop() };
  }
  let done = 0;
  return {
    tick: (what) => process.stderr.write(`${label} [${++done}/${total}] ${what}\n`),
    stop: () => undefined,
  };
}

/** Formats a byte count as GiB with one decimal. */
export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}
