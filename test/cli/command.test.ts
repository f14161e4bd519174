// The `natten-node` command as a user runs it (dist/cli/main.js in a child process): every command's
// --help and --json, usage errors, doctor's report, profile's config listing and CPU run, and bench
// writing files only when asked.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as natten from '../../lib';
import { ROOT, runCli } from './run_cli';

const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Every file under `dir` (relative paths), or [] when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('help and usage errors', () => {
  it.each(['doctor', 'profile', 'bench'])('%s --help exits 0 and documents --json', (cmd) => {
    const r = runCli([cmd, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: natten-node ${cmd}`);
    expect(r.stdout).toContain('--json');
  });

  it('bench --help names its flags', () => {
    const r = runCli(['bench', '--help']);
    for (const flag of ['--device', '--problems', '--runs', '--flex', '--out', '--plot'])
      expect(r.stdout).toContain(flag);
  });

  it.each([
    [['bench', '--bogus'], "unknown option '--bogus'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['bench', '--device', 'tpu'], '--device must be cpu or cuda'],
    [['bench', '--problems', 'nope'], "unknown problem 'nope'"],
    [['bench', '--plot', 'chart.png'], '--plot writes .svg or .html'],
    [['bench', '--runs', 'many'], '--runs must be an integer'],
    [['profile', '-w', '3'], '--input-size is required'],
    [['profile', '-i', '8', '8', '-w', '0', '--backend', 'cpu'], '--window-size must be an integer >= 1'],
    [['profile', '-i', '8', '8', '8', '8', '-w', '3'], '--input-size takes 1 to 3 values'],
    [['profile', '-i', '8', '8', '-w', '3', '3', '3', '--backend', 'cpu'], '--window-size needs 1 or 2 values'],
    [['profile', '-i', '8', '-w', '3', '--backend', 'tpu'], '--backend must be one of'],
    [['profile', '-i', '8', '-w', '3', '-c', 'maybe', '--backend', 'cpu'], '--causal takes true/false'],
    [['profile', '-i', '8', '-w', '3', '--dry-run', '--arch', 'sm70'], '--arch must be one of sm80, sm90'],
    [['profile', '-i', '8', '-w', '3', '--arch', 'sm90'], '--arch lists configs without a GPU'],
  ])('%j exits 2 with a message', (args, message) => {
    const r = runCli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('doctor', () => {
  it('--json parses, names the build and passes the CPU smoke test', () => {
    const r = runCli(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as {
      build: natten.BuildInfo;
      cpu: { engineSimd: string; engineThreads: number };
      smoke: { device: string; ok: boolean; maxError: number }[];
      tuningCache: { dir: string };
      problems: string[];
    };
    const build = natten.buildInfo();
    expect(report.build.version).toBe(version);
    expect(report.build.cuda).toBe(build.cuda);
    expect(report.build.cudaArchitectures).toEqual(build.cudaArchitectures);
    expect(report.cpu.engineSimd).toBe(build.cpuSimd);
    expect(report.cpu.engineThreads).toBe(build.cpuThreads);
    const cpu = report.smoke.find((s) => s.device === 'cpu')!;
    expect(cpu.ok).toBe(true);
    expect(cpu.maxError).toBeLessThan(1e-4);
    expect(r.status).toBe(report.problems.length ? 1 : 0);
  });

  it('prints the report as text, with the tuning cache it is pointed at', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-cache-'));
    fs.writeFileSync(path.join(dir, 'configs.json'), JSON.stringify({ entries: { a: 1, b: 2, c: 3 } }));
    const r = runCli(['doctor'], { env: { NATTEN_CACHE_DIR: dir } });
    expect(r.stdout).toContain(`natten-node:  ${version}`);
    expect(r.stdout).toContain(`${dir} (from NATTEN_CACHE_DIR): 3 entries in 1 file(s)`);
    expect(r.stdout).toMatch(/│ cpu +│ float32 │ pass/);
    // Not a terminal: progress is one plain line per step on stderr.
    expect(r.stderr).toContain('smoke test [1/');
  });
});

describe('profile', () => {
  it('--dry-run --arch sm90 lists the forward and backward configs of an H100 with the defaults marked', () => {
    const r = runCli([
      'profile',
      '-i',
      '64',
      '64',
      '-w',
      '7',
      '-d',
      '64',
      '--dtype',
      'bfloat16',
      '--dry-run',
      '--arch',
      'sm90',
      '--json',
    ]);
    if (!natten.buildInfo().cuda) {
      // A CPU-only addon holds no config registry: a coded error, not an empty list.
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('ERR_NATTEN_NO_CUDA');
      return;
    }
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      target: string;
      configs: (natten.FusedConfigInfo & { isDefault: boolean })[];
    };
    expect(report.target).toContain('H100');
    const forward = report.configs.filter((c) => c.pass === 'forward');
    const backward = report.configs.filter((c) => c.pass === 'backward');
    expect(forward.length).toBeGreaterThan(1);
    expect(backward.length).toBeGreaterThan(0);
    expect(forward.some((c) => c.kernel === 'wgmma')).toBe(true);
    expect(forward.filter((c) => c.isDefault)).toHaveLength(1);
    expect(backward.filter((c) => c.isDefault)).toHaveLength(1);
    for (const c of report.configs) expect(c.qTileShape).toHaveLength(2);
    // sm80 has no wgmma kernels.
    const a100 = JSON.parse(
      runCli(['profile', '-i', '64', '64', '-w', '7', '--dry-run', '--arch', 'sm80', '--json']).stdout,
    ) as {
      configs: natten.FusedConfigInfo[];
    };
    expect(a100.configs.length).toBeGreaterThan(0);
    expect(a100.configs.some((c) => c.kernel === 'wgmma')).toBe(false);
  });

  it('runs a CPU problem forward and backward and reports each op with the useful FLOP/s', () => {
    const r = runCli([
      'profile',
      '-i',
      '16',
      '16',
      '-w',
      '5',
      '-d',
      '32',
      '--backend',
      'cpu',
      '--backprop',
      '--warmup-steps',
      '1',
      '--json',
    ]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      device: string;
      rows: string;
      table: { name: string; calls: number; ms: number }[];
      totalMs: number;
      usefulFlops: number;
      tflops: number;
    };
    expect(report.device).toBe('cpu');
    expect(report.rows).toBe('ops');
    expect(report.table.map((t) => t.name)).toEqual(['na2d forward', 'na2d backward']);
    for (const t of report.table) expect(t.ms).toBeGreaterThan(0);
    expect(report.totalMs).toBeCloseTo(report.table[0].ms + report.table[1].ms, 6);
    // 4·B·H·N·∏k·D forward, 2.5 times that backward.
    expect(report.usefulFlops).toBe(4 * 1 * 1 * 256 * 25 * 32 * 3.5);
    expect(report.tflops).toBeCloseTo(report.usefulFlops / (report.totalMs * 1e9), 9);
  });

  it('counts only the keys a causal window sees', () => {
    const r = runCli([
      'profile',
      '-i',
      '8',
      '-w',
      '3',
      '-c',
      'true',
      '-d',
      '8',
      '--backend',
      'cpu',
      '--warmup-steps',
      '0',
      '--json',
    ]);
    // Causal k = 3 on 8 tokens: windows of 1, 2, then 3 keys = 1 + 2 + 6·3 = 21 pairs, 2·(D + Dv) FLOPs each.
    expect((JSON.parse(r.stdout) as { usefulFlops: number }).usefulFlops).toBe(21 * 2 * 16);
  });

  it('runs the unfused chain on the CPU op by op', () => {
    const r = runCli([
      'profile',
      '-i',
      '12',
      '12',
      '-w',
      '3',
      '--backend',
      'unfused',
      '--device',
      'cpu',
      '--dtype',
      'float32',
      '--backprop',
      '--warmup-steps',
      '0',
    ]);
    expect(r.status).toBe(0);
    for (const op of ['na2dQK', 'softmax', 'na2dAV', 'na2dAVBackward', 'softmaxBackward', 'na2dQKBackward'])
      expect(r.stdout).toContain(op);
    expect(r.stdout).toMatch(/│ scale +│ 2 /);
  });

  it('--optimize on the CPU backend (nothing to tune) is a coded error, not a result', () => {
    const r = runCli(['profile', '-i', '16', '-w', '5', '--backend', 'cpu', '--optimize', '--json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ERR_NATTEN_CLI_NO_TUNER');
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('ERR_NATTEN_CLI_NO_TUNER');
  });
});

describe('bench', () => {
  const quick = ['--problems', '2d-64x64-k7', '--runs', '1', '--warmup', '0', '--no-naive', '--no-backward'];
  const resultsDir = path.join(ROOT, 'bench', 'results');

  it('writes nothing unless --out (or --plot) is given', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-bench-'));
    const before = filesUnder(resultsDir);
    const r = runCli(['bench', ...quick], { cwd });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('2d-64x64-k7');
    expect(r.stderr).toContain('bench cpu [1/1] 2d-64x64-k7');
    expect(filesUnder(cwd)).toEqual([]);
    expect(filesUnder(resultsDir)).toEqual(before);
  });

  it('--out writes the JSON and --plot an SVG chart', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-bench-'));
    const r = runCli(['bench', ...quick, '--out', 'r/cpu.json', '--plot', 'chart.svg'], { cwd });
    expect(r.status).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(cwd, 'r', 'cpu.json'), 'utf8')) as {
      device: string;
      problems: { problem: { name: string }; fusedForward: { gflops: number } }[];
    };
    expect(json.device).toBe('cpu');
    expect(json.problems.map((p) => p.problem.name)).toEqual(['2d-64x64-k7']);
    const svg = fs.readFileSync(path.join(cwd, 'chart.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('2d-64x64-k7');
    expect(svg).toContain('fused forward');
  });

  it('--list names the problems; --json prints them', () => {
    const r = runCli(['bench', '--list', '--json']);
    expect((JSON.parse(r.stdout) as { problems: string[] }).problems).toContain('2d-64x64-k13');
  });

  it('importing the command and bench modules runs nothing', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-import-'));
    const modules = ['cli/main.js', 'cli/bench/run.js', 'bench/cpu.js', 'bench/cuda.js', 'bench/problems.js'].map((m) =>
      path.join(ROOT, 'dist', m),
    );
    const { spawnSync } = require('child_process') as typeof import('child_process');
    const r = spawnSync(process.execPath, ['-e', modules.map((m) => `require(${JSON.stringify(m)});`).join('')], {
      cwd,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(filesUnder(cwd)).toEqual([]);
  });
});
