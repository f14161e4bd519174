// @ts-check
// What the native build prints: stage lines and periodic compile progress read from the status lines of
// ninja ("[n/m] ...") or make ("[ p%] ..."), while the full compiler output goes to a log file that is printed only when the build
// fails (or streamed as it comes with NATTEN_BUILD_VERBOSE=1).
'use strict';
const fs = require('fs');

/**
 * One line for the user. npm runs the install script of a dependency with its output hidden (unless
 * --foreground-scripts); the line then also goes to the terminal, where there is one.
 * @param {string} line
 */
function say(line) {
  const text = `natten-node: ${line}\n`;
  process.stdout.write(text);
  if (process.env.npm_lifecycle_event === 'install' && !process.stdout.isTTY) {
    try {
      const fd = fs.openSync('/dev/tty', 'w');
      fs.writeSync(fd, text);
      fs.closeSync(fd);
    } catch {
      // No terminal (CI): stdout is what there is.
    }
  }
}

/** @param {number} ms */
function clock(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * The step of a build status line: ninja's "[12/80] Building CUDA object .../x.cu.o" gives
 * {done: 12, total: 80, what}; make's "[ 45%] Building ..." gives {done: 45, total: 100, what}.
 * @param {string} line
 * @returns {{done: number, total: number, what: string} | null}
 */
function parseStatusLine(line) {
  const ninja = /^\[(\d+)\/(\d+)\]\s+(.*)$/.exec(line.trim());
  if (ninja) return { done: Number(ninja[1]), total: Number(ninja[2]), what: ninja[3] };
  const make = /^\[\s*(\d+)%\]\s+(.*)$/.exec(line.trim());
  if (make) return { done: Number(make[1]), total: 100, what: make[2] };
  return null;
}

/** The source file of a ninja step, shortened ("Building CUDA object CMakeFiles/natten.dir/kernels/a.cu.o"
 * -> "kernels/a.cu (CUDA)"), or the step text. @param {string} what */
function describeStep(what) {
  const m = /^Building (\w+) object (?:.*\/)?CMakeFiles\/([^/]+)\.dir\/(.+)\.o$/.exec(what);
  if (!m) return what;
  const level = /^natten_cpu_(\w+)$/.exec(m[2]);
  return `${m[3]} (${m[1]}${level ? `, ${level[1]}` : ''})`;
}

/**
 * Progress reporter: feed it the build's output lines; it prints a progress line when the build has
 * moved by 10% of its steps or 30 s have passed since the last line, and a line when linking starts.
 * @param {number} started Date.now() of the build's start
 */
function progressReporter(started) {
  let lastPct = -10;
  let lastAt = 0;
  let linking = false;
  /** @param {string} line */
  return (line) => {
    const step = parseStatusLine(line);
    if (!step || !/^(Building|Linking)/.test(step.what)) return;
    const now = Date.now();
    if (/^Linking/.test(step.what)) {
      if (!linking) say(`[link] ${step.done}/${step.total}, ${clock(now - started)}`);
      linking = true;
      return;
    }
    const pct = Math.floor((100 * step.done) / step.total);
    if (pct - lastPct >= 10 || now - lastAt >= 30000 || step.done === step.total) {
      say(`[compile] ${step.done}/${step.total} (${pct}%), ${clock(now - started)}: ${describeStep(step.what)}`);
      lastPct = pct;
      lastAt = now;
    }
  };
}

module.exports = { say, clock, parseStatusLine, describeStep, progressReporter };
