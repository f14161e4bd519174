#!/usr/bin/env node
// Builds the native addon from source with cmake-js, saying what it builds and how far it is.
//   NATTEN_CUDA=1          require the CUDA build (fail if nvcc is missing or the CUDA build fails)
//   NATTEN_CUDA=0          build the CPU-only addon
//   (unset)                CUDA when nvcc is found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin), else CPU-only
//   NATTEN_CUDA_ARCHS      CMake CUDA architectures (default scripts/cuda_archs.js DEFAULT_ARCHS); 'native':
//                          the GPUs nvidia-smi lists, plus PTX
//   NATTEN_CPU_LEVELS      SIMD levels of the CPU engine, comma-separated (default avx512,avx2,baseline;
//                          baseline is always built)
//   NATTEN_BUILD_DIR       build folder (default build/); lib/native.ts finds build/Release/natten.node
//   NATTEN_BUILD_VERBOSE=1 stream the compiler output instead of progress lines
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { resolveArchs } = require('./cuda_archs');
const { say, clock, progressReporter } = require('./build_progress');
const { findNvcc, nvccRelease } = require('./find_nvcc');

const root = path.resolve(__dirname, '..');

function fail(message, code = 1) {
  say(message);
  process.exit(code);
}

/** The build's settings from the environment. */
function settings() {
  const want = process.env.NATTEN_CUDA;
  const nvcc = want === '0' ? undefined : findNvcc();
  if (want === '1' && !nvcc) fail('NATTEN_CUDA=1 but nvcc was not found (PATH, CUDA_HOME, /usr/local/cuda/bin).');
  let archs = '';
  if (nvcc) {
    try {
      archs = resolveArchs(process.env.NATTEN_CUDA_ARCHS);
    } catch (e) {
      fail(e.message);
    }
  }
  const levels = (process.env.NATTEN_CPU_LEVELS || 'avx512,avx2,baseline').split(',').filter(Boolean);
  return {
    nvcc,
    archs,
    levels: levels.includes('baseline') ? levels : [...levels, 'baseline'],
    buildDir: path.resolve(root, process.env.NATTEN_BUILD_DIR || 'build'),
    jobs: Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length),
  };
}

function cmakeJsArgs(s) {
  // `build` (configure when needed, then build), not `compile`: that one wipes the folder and starts over
  // after a failed build, doubling the time of a failure and deleting what it printed.
  const args = [require.resolve('cmake-js/bin/cmake-js'), 'build', '--out', s.buildDir, '--config', 'Release'];
  args.push('--parallel', String(s.jobs), `--CDNATTEN_WITH_CUDA=${s.nvcc ? 'ON' : 'OFF'}`);
  args.push(`--CDNATTEN_CPU_LEVELS=${s.levels.join(';')}`);
  if (s.nvcc) args.push(`--CDCMAKE_CUDA_COMPILER=${s.nvcc}`, `--CDCMAKE_CUDA_ARCHITECTURES=${s.archs}`);
  return args;
}

/** Runs cmake-js; the output goes to `log` and, line by line, to `onLine` (or to the terminal when verbose). */
function runBuild(s, log, onLine) {
  const verbose = process.env.NATTEN_BUILD_VERBOSE === '1';
  const child = spawn(process.execPath, cmakeJsArgs(s), {
    cwd: root,
    stdio: ['ignore', verbose ? 'inherit' : 'pipe', verbose ? 'inherit' : 'pipe'],
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: String(s.jobs) },
  });
  if (!verbose) {
    for (const stream of [child.stdout, child.stderr]) {
      stream.pipe(log, { end: false });
      readline.createInterface({ input: stream }).on('line', onLine);
    }
  }
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

/** The last `n` lines of a file. */
function tail(file, n) {
  return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
}

async function main() {
  const s = settings();
  const started = Date.now();
  const what = s.nvcc
    ? `the CUDA addon: nvcc ${nvccRelease(s.nvcc) ?? '?'} (${s.nvcc}), architectures ${s.archs.replace(/;/g, ',')}`
    : `the CPU-only addon (${process.env.NATTEN_CUDA === '0' ? 'NATTEN_CUDA=0' : 'no nvcc found'})`;
  say(`building ${what}; CPU SIMD levels ${s.levels.join(',')}; ${s.jobs} jobs; in ${s.buildDir}`);
  // Beside the build folder, not in it: a clean build empties the folder.
  const logFile = `${s.buildDir}.log`;
  const log = fs.createWriteStream(logFile);
  say(`[configure] CMake (full output: ${logFile})`);
  const code = await runBuild(s, log, progressReporter(started));
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) {
    if (process.env.NATTEN_BUILD_VERBOSE !== '1') process.stderr.write(`${tail(logFile, 60)}\n`);
    const hint = s.nvcc
      ? ' To build without CUDA set NATTEN_CUDA=0; to use node-gyp (CPU only) run `npx node-gyp rebuild`.'
      : '';
    fail(`native build failed (exit ${code}); full output in ${logFile}.${hint}`, code);
  }
  say(`native build done in ${clock(Date.now() - started)}`);
}

main();
