/**
 * `natten-node doctor`: what this machine, this build and its GPUs are, whether they fit together, and a
 * smoke test per device. The report is plain data (printed as text or --json); `problems` lists what is
 * broken, and the command exits 1 when it is not empty.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as natten from '../../lib';
import { diagnoseCuda, cudaVersionString, type Finding } from './cuda_fit';
import { smokeTest, type SmokeResult } from './smoke';
import { tuningCacheReport, type TuningCacheReport } from './tuning_cache';
import { gib, progress, renderPairs, renderTable } from '../output';

/** One GPU as doctor describes it. */
export interface GpuReport {
  device: string;
  name: string;
  computeCapability: string;
  multiProcessorCount: number;
  totalMemory: number;
  freeMemory: number;
  /** Fused kernel families with compiled configs here, e.g. ['forward mma', 'forward wgmma', 'backward mma']. */
  fusedKernels: string[];
}

/** Everything doctor found. */
export interface DoctorReport {
  system: { os: string; arch: string; node: string; napi: string };
  cpu: {
    model: string;
    cores: number;
    engineThreads: number;
    hostSimd: string[];
    engineSimd: string;
    levels: string[];
  };
  build: natten.BuildInfo;
  cuda: { driver: string; runtime: string; deviceStatus: string; findings: Finding[] };
  gpus: GpuReport[];
  tuningCache: TuningCacheReport;
  smoke: SmokeResult[];
  /** What is broken (empty: healthy). */
  problems: string[];
}

/** The fused kernel families compiled for `device` (any dims, head dim 64, bfloat16). */
function fusedKernels(device: string): string[] {
  const seen = new Set<string>();
  for (const dims of [1, 2, 3]) {
    for (const c of natten.fusedConfigs({ dims, headDim: 64, dtype: 'bfloat16', device }))
      seen.add(`${c.pass} ${c.kernel}`);
  }
  return [...seen];
}

function gpuReports(): GpuReport[] {
  const out: GpuReport[] = [];
  for (let i = 0; i < natten.cuda.deviceCount(); i++) {
    const d = natten.cuda.deviceInfo(i);
    out.push({
      device: `cuda:${i}`,
      name: d.name,
      computeCapability: d.computeCapability,
      multiProcessorCount: d.multiProcessorCount,
      totalMemory: d.totalMemory,
      freeMemory: d.freeMemory,
      fusedKernels: fusedKernels(`cuda:${i}`),
    });
  }
  return out;
}

/** The devices to smoke-test and the dtype each runs: the CPU in float32, GPUs in bfloat16 where the
 * tensor-core kernels run, float32 (reference kernels) elsewhere. */
function smokeTargets(gpus: readonly GpuReport[]): [natten.DeviceLike, natten.DType][] {
  const out: [natten.DeviceLike, natten.DType][] = [['cpu', 'float32']];
  for (const g of gpus) {
    const device = g.device as natten.DeviceLike;
    out.push([device, natten.hasFusedNA(device) ? 'bfloat16' : 'float32']);
  }
  return out;
}

/** Gathers the report; `quiet` hides the progress of the smoke tests. */
export async function doctor(quiet: boolean): Promise<DoctorReport> {
  const build = natten.buildInfo();
  const gpus = gpuReports();
  const findings = diagnoseCuda({
    cudaBuild: build.cuda,
    driverVersion: build.cudaDriverVersion,
    runtimeVersion: build.cudaRuntimeVersion,
    deviceStatus: build.cudaDeviceStatus,
    archs: build.cudaArchitectures,
    gpus: gpus.map((g) => g.computeCapability),
    nvidiaDriverLoaded: fs.existsSync('/proc/driver/nvidia/version'),
  });
  const targets = smokeTargets(gpus);
  const bar = progress('smoke test', targets.length, quiet);
  const smoke: SmokeResult[] = [];
  for (const [device, dtype] of targets) {
    smoke.push(await smokeTest(device, dtype));
    bar.tick(device);
  }
  bar.stop();
  const problems = [
    ...findings.filter((f) => f.level === 'error').map((f) => f.message),
    ...smoke.filter((s) => !s.ok).map((s) => `smoke test failed on ${s.device}: ${s.error ?? `error ${s.maxError}`}`),
  ];
  return {
    system: {
      os: `${os.type()} ${os.release()}`,
      arch: process.arch,
      node: process.version,
      napi: process.versions.napi ?? '',
    },
    cpu: {
      model: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      engineThreads: build.cpuThreads,
      hostSimd: build.hostSimd,
      engineSimd: build.cpuSimd,
      levels: build.cpuSimdLevels,
    },
    build,
    cuda: {
      driver: build.cudaDriverVersion ? cudaVersionString(build.cudaDriverVersion) : 'none',
      runtime: build.cudaRuntimeVersion ? cudaVersionString(build.cudaRuntimeVersion) : 'none',
      deviceStatus: build.cudaDeviceStatus,
      findings,
    },
    gpus,
    tuningCache: tuningCacheReport(),
    smoke,
    problems,
  };
}

const MARK: Record<Finding['level'], string> = { ok: 'ok', warning: 'warning', error: 'ERROR' };

function cacheLine(c: TuningCacheReport): string {
  if (!c.exists) return `${c.dir} (from ${c.from}; not created yet: nothing tuned)`;
  const unreadable = c.files.filter((f) => f.error).length;
  return (
    `${c.dir} (from ${c.from}): ${c.entries} entries in ${c.files.length} file(s)` +
    (unreadable ? `, ${unreadable} unreadable` : '')
  );
}

/** The report as text. */
export function renderDoctor(r: DoctorReport): string {
  const b = r.build;
  const lines = [
    'System',
    renderPairs([
      ['OS', `${r.system.os} (${r.system.arch})`],
      ['Node', `${r.system.node} (Node-API ${r.system.napi})`],
      ['CPU', `${r.cpu.model}, ${r.cpu.cores} cores, engine threads ${r.cpu.engineThreads}`],
      [
        'CPU SIMD',
        `host ${r.cpu.hostSimd.join(' ') || 'none detected'}; engine runs ${r.cpu.engineSimd} (compiled: ${r.cpu.levels.join(' ')})`,
      ],
    ]),
    '',
    'Build',
    renderPairs([
      ['natten-node', b.version],
      [
        'CUDA kernels',
        b.cuda ? `yes, CUDA ${b.cudaVersion}, architectures ${b.cudaArchitectures.join(' ')}` : 'no (CPU-only build)',
      ],
      ['CUDA driver', r.cuda.driver],
      ['CUDA runtime', r.cuda.runtime],
    ]),
    ...r.cuda.findings.map((f) => `  [${MARK[f.level]}] ${f.message}`),
    '',
  ];
  const gpuRow = (g: GpuReport): (string | number)[] => [
    g.device,
    g.name,
    g.computeCapability,
    g.multiProcessorCount,
    `${gib(g.freeMemory)} / ${gib(g.totalMemory)}`,
    g.fusedKernels.join(', ') || 'none (reference kernels)',
  ];
  const smokeRow = (s: SmokeResult): (string | number)[] => [
    s.device,
    s.dtype,
    s.ok ? 'pass' : 'FAIL',
    s.maxError === undefined ? (s.error ?? '-') : s.maxError.toExponential(2),
    s.tolerance.toExponential(0),
    s.ms.toFixed(0),
  ];
  if (r.gpus.length) {
    lines.push(
      'GPUs',
      renderTable(['device', 'name', 'CC', 'SMs', 'memory (free/total)', 'fused kernels'], r.gpus.map(gpuRow)),
      '',
    );
  }
  lines.push('Tuning cache', `  ${cacheLine(r.tuningCache)}`, '');
  lines.push(
    'Smoke test (na2d forward + backward; GPUs against the CPU engine, the CPU engine against the textbook loop)',
    renderTable(['device', 'dtype', 'result', 'max error', 'tolerance', 'ms'], r.smoke.map(smokeRow)),
    '',
    r.problems.length
      ? `${r.problems.length} problem(s):\n${r.problems.map((p) => `  - ${p}`).join('\n')}`
      : 'No problems found.',
  );
  return lines.join('\n');
}
