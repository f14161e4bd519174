/**
 * One small forward per dims with forwardKernel 'wgmma-ws' forced, with and without dilation (TMA and
 * cp.async producers), with extra keys and a negative scale, and the 2-D strip and 3-D plane configs forced: the workload dev/gpu/fna_ws_check.sh runs under
 * compute-sanitizer (memcheck, racecheck, synccheck). Prints one line per case and exits non-zero on an error.
 */
import * as natten from '../../lib';

async function main(): Promise<void> {
  const cases = [
    { spatial: [150], kernel: [33], dilation: [1], headDim: 64 },
    { spatial: [150], kernel: [17], dilation: [3], headDim: 128 },
    { spatial: [20, 19], kernel: [7, 5], dilation: [1, 1], headDim: 128 },
    { spatial: [20, 19], kernel: [5, 5], dilation: [2, 1], headDim: 64 },
    // The 2-D strip configs: whole union rows (k 7), row segments (axis-1 union wider than 64 keys), dilated.
    { spatial: [20, 19], kernel: [7, 7], dilation: [1, 1], headDim: 64, strip: 64 },
    { spatial: [6, 90], kernel: [5, 70], dilation: [1, 1], headDim: 128, strip: 64 },
    { spatial: [20, 19], kernel: [5, 5], dilation: [2, 1], headDim: 128, strip: 128 },
    { spatial: [9, 8, 10], kernel: [3, 5, 3], dilation: [1, 1, 1], headDim: 64 },
    { spatial: [9, 8, 10], kernel: [3, 3, 3], dilation: [1, 2, 1], headDim: 128 },
    // The 3-D plane configs: 8x16 and 8x8 plane tiles, TMA and (dilated) cp.async loads, ragged edges.
    { spatial: [9, 8, 10], kernel: [3, 5, 3], dilation: [1, 1, 1], headDim: 64, q: [2, 8, 8], kv: [1, 8, 16] },
    { spatial: [9, 13, 10], kernel: [3, 5, 7], dilation: [1, 2, 1], headDim: 128, q: [2, 8, 8], kv: [1, 8, 16] },
    { spatial: [7, 8, 11], kernel: [3, 3, 5], dilation: [2, 1, 1], headDim: 64, q: [2, 8, 8], kv: [1, 8, 8] },
  ];
  for (const c of cases as {
    spatial: number[];
    kernel: number[];
    dilation: number[];
    headDim: number;
    strip?: number;
    q?: number[];
    kv?: number[];
  }[]) {
    const shape = [2, ...c.spatial, 2, c.headDim];
    const [q, k, v] = [1, 2, 3].map((seed) => natten.randn(shape, { dtype: 'bfloat16', device: 'cuda', seed }));
    const ek = natten.randn([2, 70, 2, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 4 });
    const op = [natten.na1d, natten.na2d, natten.na3d][c.spatial.length - 1];
    const out = op(q, k, v, {
      kernelSize: c.kernel,
      dilation: c.dilation,
      scale: -0.125,
      additionalKeys: ek,
      additionalValues: ek,
      forwardKernel: 'wgmma-ws',
      ...(c.strip ? { qTileShape: [16, 8], kvTileShape: [1, c.strip] } : {}),
      ...(c.q && c.kv ? { qTileShape: c.q, kvTileShape: c.kv } : {}),
    });
    const x = await out.toArray();
    let finite = true;
    for (let i = 0; i < x.length; i++) finite = finite && Number.isFinite(Number(x[i]));
    process.stdout.write(`${JSON.stringify(c)} ok finite=${finite}\n`);
    for (const t of [q, k, v, ek, out]) t.dispose();
    if (!finite) process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
