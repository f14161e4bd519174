/**
 * Checks natten.nn's NeighborhoodAttention modules against PyTorch, and the safetensors round trip:
 *
 *   python test/torch/make_module_cases.py --out DIR
 *   node dist/test/torch/check_modules.js DIR [--devices cpu,cuda] [--require-cuda] [--json FILE]
 *   python test/torch/check_roundtrip.py DIR
 *
 * For each `DIR/case_*.safetensors` (weights of the pure-PyTorch twin of NATTEN's module, `input`, and the
 * twin's float64 `output`, `grad_output` and the twin's float64 gradients `grad.input`, `grad.<parameter>`;
 * the case in `__metadata__.natten_case`): loads it with natten.loadSafetensors,
 * builds NeighborhoodAttention{dims}D from the case's options, loads the weights (strict: the names must
 * be exactly the module's), runs forward on each device, fused and unfused (rpb: unfused only), outputs
 * poisoned with NaN, and compares with `output`, then runs backward(grad_output) and compares dX and every
 * parameter's gradient, within test/helpers/module_tolerance.ts. Then the round
 * trip: `round_trip_python.safetensors` must hold test/torch/pattern.ts's values exactly; Node writes
 * `round_trip_node.safetensors` (the pattern, from Node) and `round_trip_node_resaved.safetensors` (the
 * Python file as loaded, saved again) for check_roundtrip.py. Prints a table; exits 1 on any miss.
 */
import { open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import * as natten from '../../lib';
import { headerLength, parseHeader, PREFIX_BYTES } from '../../lib/safetensors/format';
import { renderTable } from '../../cli/output';
import { MODULE_GRAD_TOL, MODULE_TOL } from '../helpers/module_tolerance';
import { METADATA, patternTensor, ROUND_TRIP } from './pattern';

/** A case as make_module_cases.py describes it in the file's metadata. */
interface CaseMeta {
  name: string;
  dims: 1 | 2 | 3;
  dtype: natten.DType;
  inputShape: number[];
  options: natten.nn.NeighborhoodAttentionModuleOptions;
}

/** One line of the report. */
interface Row {
  check: string;
  dtype: string;
  device: string;
  path: string;
  relError: number | null;
  tol: number | null;
  ok: boolean;
  detail: string;
}

/** Tensors of a case file that are not module parameters (the gradients are `grad.*`). */
const NOT_PARAMETERS = new Set(['input', 'output', 'grad_output']);

const MODULES = [
  natten.nn.NeighborhoodAttention1D,
  natten.nn.NeighborhoodAttention2D,
  natten.nn.NeighborhoodAttention3D,
];

/** The `__metadata__` of a safetensors file, through the library's own header parser. */
async function readMetadata(path: string): Promise<Record<string, string>> {
  const fh = await open(path);
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(PREFIX_BYTES);
    await fh.read(prefix, 0, PREFIX_BYTES, 0);
    const len = headerLength(prefix, size, path);
    const header = new Uint8Array(len);
    await fh.read(header, 0, len, PREFIX_BYTES);
    return parseHeader(header, size - PREFIX_BYTES - len, path).metadata;
  } finally {
    await fh.close();
  }
}

/** max |a - e| / max(1, max |e|); NaN anywhere in `a` (a poisoned element never written) gives NaN. */
function relError(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let diff = 0,
    big = 1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    diff = Number.isNaN(d) ? NaN : Math.max(diff, d);
    big = Math.max(big, Math.abs(e[i]));
  }
  return a.length === e.length ? diff / big : NaN;
}

/** Runs one case's module on one device and attention path; the row says how far it is from PyTorch. */
async function runCase(
  meta: CaseMeta,
  file: Map<string, natten.Tensor>,
  device: natten.DeviceLike,
  fused: boolean,
): Promise<Row> {
  const path = meta.options.relPosBias ? 'unfused (rpb)' : fused ? 'fused' : 'unfused';
  const row: Row = {
    check: meta.name,
    dtype: meta.dtype,
    device,
    path,
    relError: null,
    tol: null,
    ok: false,
    detail: '',
  };
  const params = new Map([...file].filter(([name]) => !NOT_PARAMETERS.has(name) && !name.startsWith('grad.')));
  const wrongDtype = [...params].filter(([, t]) => t.dtype !== meta.dtype).map(([n, t]) => `${n} is ${t.dtype}`);
  const m = new MODULES[meta.dims - 1]({ ...meta.options, device, dtype: meta.dtype });
  const made: natten.Tensor[] = [];
  try {
    natten.useFusedNA(fused);
    m.loadStateDict(params); // strict: every name of the file is a parameter of the module and vice versa
    const x = (file.get('input') as natten.Tensor).to({ device });
    made.push(x);
    const y = m.forward(x);
    made.push(y);
    const want = await (file.get('output') as natten.Tensor).toArray();
    row.relError = relError(await y.toArray(), want);
    row.tol = MODULE_TOL[meta.dtype];
    const grads = await gradientErrors(m, file, device, made);
    const gradTol = MODULE_GRAD_TOL[meta.dtype];
    const worstGrad = Math.max(...grads.map((g) => g.error));
    const badGrads = grads.filter((g) => !(g.error <= gradTol)).map((g) => `${g.name} ${g.error.toExponential(2)}`);
    row.ok = row.relError <= row.tol && wrongDtype.length === 0 && x.dtype === meta.dtype && badGrads.length === 0;
    row.detail = [
      ...wrongDtype,
      `${grads.length} grads, worst ${worstGrad.toExponential(2)} (tol ${gradTol})`,
      ...(badGrads.length ? [`over: ${badGrads.join(', ')}`] : []),
    ].join('; ');
  } catch (e) {
    row.detail = `threw ${(e as Error).message}`;
  } finally {
    natten.useFusedNA(true);
    for (const t of made) t.dispose();
    m.dispose();
  }
  return row;
}

/** The module's backward of the case's `grad_output` after its forward: dX and every parameter's gradient
 * against the twin's float64 `grad.input` and `grad.<name>` (a missing gradient is an error of NaN). */
async function gradientErrors(
  m: natten.nn.NeighborhoodAttentionModule,
  file: Map<string, natten.Tensor>,
  device: natten.DeviceLike,
  made: natten.Tensor[],
): Promise<{ name: string; error: number }[]> {
  const dy = (file.get('grad_output') as natten.Tensor).to({ device });
  made.push(dy);
  const dx = m.backward(dy);
  made.push(dx);
  const out = [{ name: 'input', error: relError(await dx.toArray(), await expected(file, 'grad.input')) }];
  for (const p of m.parameters()) {
    const got = p.grad === null ? [] : await p.grad.toArray();
    out.push({ name: p.name, error: relError(got, await expected(file, `grad.${p.name}`)) });
  }
  return out;
}

/** The values of a reference tensor of the case file (an empty list where the file has none). */
async function expected(file: Map<string, natten.Tensor>, name: string): Promise<ArrayLike<number>> {
  const t = file.get(name);
  return t ? t.toArray() : [];
}

/** Every case file of DIR on every device. */
async function checkModules(dir: string, devices: readonly natten.DeviceLike[]): Promise<Row[]> {
  const files = (await readdir(dir)).filter((f) => /^case_.*\.safetensors$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no case_*.safetensors in ${dir}: run test/torch/make_module_cases.py first`);
  const rows: Row[] = [];
  for (const f of files) {
    const meta = JSON.parse((await readMetadata(join(dir, f))).natten_case) as CaseMeta;
    const tensors = await natten.loadSafetensors(join(dir, f));
    try {
      for (const device of devices)
        for (const fused of meta.options.relPosBias ? [false] : [true, false])
          rows.push(await runCase(meta, tensors, device, fused));
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  return rows;
}

/** Positions where two value lists differ bit for bit (Object.is: -0 is not 0). */
function bitMismatches(a: ArrayLike<number>, e: ArrayLike<number>): number[] {
  const bad: number[] = [];
  if (a.length !== e.length) return [-1];
  for (let i = 0; i < e.length; i++) if (!Object.is(a[i], e[i])) bad.push(i);
  return bad;
}

/** Python's round-trip file against the pattern; then Node's two files for check_roundtrip.py. */
async function checkRoundTrip(dir: string): Promise<Row[]> {
  const pyPath = join(dir, 'round_trip_python.safetensors');
  const loaded = await natten.loadSafetensors(pyPath);
  const metadata = await readMetadata(pyPath);
  const mine = new Map([...ROUND_TRIP].map(([name, s]) => [name, patternTensor(s.dtype, s.shape)]));
  const rows: Row[] = [];
  try {
    for (const [name, want] of mine) {
      const got = loaded.get(name);
      const row: Row = {
        check: `round trip python -> node: ${name}`,
        dtype: want.dtype,
        device: 'cpu',
        path: '-',
        relError: null,
        tol: null,
        ok: false,
        detail: '',
      };
      if (!got) row.detail = 'missing';
      else if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join())
        row.detail = `${got.dtype} [${got.shape}], expected ${want.dtype} [${want.shape}]`;
      else {
        const bad = bitMismatches(await got.toArray(), await want.toArray());
        row.ok = bad.length === 0;
        row.detail = row.ok ? 'bitwise equal' : `${bad.length} elements differ, first at ${bad[0]}`;
      }
      rows.push(row);
    }
    const metaOk = JSON.stringify(metadata) === JSON.stringify(METADATA) && loaded.size === mine.size;
    rows.push({
      check: 'round trip python -> node: metadata, tensor count',
      dtype: '-',
      device: 'cpu',
      path: '-',
      relError: null,
      tol: null,
      ok: metaOk,
      detail: JSON.stringify(metadata),
    });
    await natten.saveSafetensors(join(dir, 'round_trip_node.safetensors'), mine, METADATA);
    await natten.saveSafetensors(join(dir, 'round_trip_node_resaved.safetensors'), loaded, metadata);
  } finally {
    for (const t of [...loaded.values(), ...mine.values()]) t.dispose();
  }
  return rows;
}

const fmt = (x: number | null): string => (x === null ? '-' : x.toExponential(2));

async function main(): Promise<void> {
  const cmd = new Command('check_modules')
    .argument('<dir>', 'the folder make_module_cases.py wrote')
    .option('--devices <list>', 'comma-separated devices (default: cpu, and cuda when there is one)')
    .option('--require-cuda', 'fail when no CUDA device is visible')
    .option('--json <file>', 'also write the rows as JSON')
    .parse();
  const dir = cmd.args[0];
  const o = cmd.opts<{ devices?: string; requireCuda?: boolean; json?: string }>();
  const hasCuda = natten.cuda.isAvailable();
  if (o.requireCuda && !hasCuda)
    throw new Error(`--require-cuda: no CUDA device (${JSON.stringify(natten.buildInfo())})`);
  const devices = (o.devices ? o.devices.split(',') : hasCuda ? ['cpu', 'cuda'] : ['cpu']) as natten.DeviceLike[];
  natten.setPoisonOutputs(true);
  const rows = [...(await checkModules(dir, devices)), ...(await checkRoundTrip(dir))];
  process.stdout.write(
    renderTable(
      ['check', 'dtype', 'device', 'attention', 'relError', 'tolerance', 'ok', 'detail'],
      rows.map((r) => [
        r.check,
        r.dtype,
        r.device,
        r.path,
        fmt(r.relError),
        fmt(r.tol),
        r.ok ? 'ok' : 'MISS',
        r.detail,
      ]),
    ) + '\n',
  );
  const misses = rows.filter((r) => !r.ok).length;
  const worst = Math.max(
    ...rows.filter((r) => r.tol !== null).map((r) => (r.relError ?? Infinity) / (r.tol as number)),
  );
  process.stdout.write(
    `${rows.length} checks on ${devices.join(', ')}: ${misses} missed; largest relError/tolerance ${worst.toFixed(3)}\n`,
  );
  if (o.json) await writeFile(o.json, JSON.stringify({ devices, misses, rows }, null, 1) + '\n');
  process.exitCode = misses === 0 ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
