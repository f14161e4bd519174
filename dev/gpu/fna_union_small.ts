/**
 * Small 2-D forwards with each window-union config forced (kernels/fused/forward/forward_union_kernel.cuh):
 * plain, dilated with ragged groups, stride and causal, extra keys past one buffer's capacity, a negative
 * scale, GQA: the workload dev/gpu/fna_union_check.sh runs under compute-sanitizer (memcheck, racecheck,
 * synccheck). Prints one line per case and exits non-zero on a non-finite output.
 */
import * as natten from '../../lib';

interface Case {
  spatial: number[];
  kernel: number[];
  dilation: number[];
  stride: number[];
  causal: boolean[];
  headDim: number;
  extra: number;
  q: number[];
  kv: number[];
}

async function main(): Promise<void> {
  const cases: Case[] = [
    {
      spatial: [20, 19],
      kernel: [7, 7],
      dilation: [1, 1],
      stride: [1, 1],
      causal: [false, false],
      headDim: 32,
      extra: 0,
      q: [8, 8],
      kv: [16, 16],
    },
    {
      spatial: [21, 17],
      kernel: [5, 3],
      dilation: [2, 3],
      stride: [1, 1],
      causal: [false, true],
      headDim: 24,
      extra: 300,
      q: [8, 8],
      kv: [16, 16],
    },
    {
      spatial: [30, 12],
      kernel: [9, 6],
      dilation: [1, 1],
      stride: [1, 3],
      causal: [true, false],
      headDim: 32,
      extra: 0,
      q: [8, 8],
      kv: [16, 16],
    },
    {
      spatial: [18, 18],
      kernel: [9, 9],
      dilation: [1, 1],
      stride: [1, 1],
      causal: [false, false],
      headDim: 64,
      extra: 70,
      q: [8, 8],
      kv: [16, 16],
    },
    {
      spatial: [29, 26],
      kernel: [13, 11],
      dilation: [1, 1],
      stride: [1, 1],
      causal: [false, false],
      headDim: 64,
      extra: 450,
      q: [8, 8],
      kv: [20, 20],
    },
    {
      spatial: [33, 27],
      kernel: [10, 12],
      dilation: [2, 1],
      stride: [3, 1],
      causal: [true, false],
      headDim: 40,
      extra: 0,
      q: [8, 8],
      kv: [20, 20],
    },
    {
      spatial: [26, 30],
      kernel: [13, 11],
      dilation: [1, 1],
      stride: [1, 6],
      causal: [false, false],
      headDim: 64,
      extra: 5,
      q: [8, 8],
      kv: [20, 20],
    },
  ];
  for (const c of cases) {
    const [H, Hkv] = [4, 2];
    const q = natten.randn([2, ...c.spatial, H, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 1 });
    const [k, v] = [2, 3].map((seed) =>
      natten.randn([2, ...c.spatial, Hkv, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed }),
    );
    const ek = c.extra
      ? natten.randn([2, c.extra, Hkv, c.headDim], { dtype: 'bfloat16', device: 'cuda', seed: 4 })
      : undefined;
    const out = natten.na2d(q, k, v, {
      kernelSize: c.kernel,
      dilation: c.dilation,
      stride: c.stride,
      isCausal: c.causal,
      scale: -0.2,
      ...(ek ? { additionalKeys: ek, additionalValues: ek } : {}),
      forwardKernel: 'mma',
      qTileShape: c.q,
      kvTileShape: c.kv,
    });
    const x = await out.toArray();
    let finite = true;
    for (let i = 0; i < x.length; i++) finite = finite && Number.isFinite(Number(x[i]));
    process.stdout.write(`${JSON.stringify(c)} ok finite=${finite}\n`);
    for (const t of [q, k, v, ek, out]) t?.dispose();
    if (!finite) process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
