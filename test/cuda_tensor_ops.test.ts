// Tensor ops on a GPU (cuBLASLt GEMM, the kernels of kernels/tensor/) against the fp64 oracle in the three GPU
// dtypes, their bad calls (test/helpers/tensor_ops_cases.ts), the device checks, TF32 only on request, and
// ERR_NATTEN_NO_CUBLAS where cuBLASLt is missing (a child process with NATTEN_CUBLASLT_PATH pointing nowhere).
import * as natten from '../lib';
import * as oracle from './oracle';
import { describeGpu } from './helpers/gpu';
import { describeTensorOps, expectCoded } from './helpers/tensor_ops_cases';
import { runFixture } from './reliability/child';

describeGpu('tensor ops (CUDA)', () => {
  describeTensorOps('cuda', ['float32', 'float16', 'bfloat16']);

  // The strided copy moves 16-, 8-, 4- or 2-byte words depending on the layout (kernels/tensor/strided_copy.cu):
  // every width, against the CPU engine bit for bit.
  it.each([
    ['16-byte words', [5, 7, 3 * 16]],
    ['8-byte words', [5, 7, 3 * 4]],
    ['4-byte words', [5, 7, 3 * 2]],
    ['single elements', [5, 7, 3 * 3]],
  ])('chunk, concat and permute match the CPU engine bitwise (%s)', async (_w, shape) => {
    for (const dtype of ['bfloat16', 'float32'] as const) {
      const x = natten.randn(shape, { dtype });
      const g = x.to({ device: 'cuda' });
      const want = natten.chunk(x, 3, 2);
      const got = natten.chunk(g, 3, 2);
      for (let i = 0; i < 3; i++) expect(await got[i].toArray()).toEqual(await want[i].toArray());
      const back = natten.concat([got[2], got[0], got[1]], 2);
      expect(await back.toArray()).toEqual(await natten.concat([want[2], want[0], want[1]], 2).toArray());
      expect(await natten.permute(g, [1, 0, 2]).toArray()).toEqual(await natten.permute(x, [1, 0, 2]).toArray());
      // An odd offset into the source: the split at 1 element cannot move whole words.
      const [a, b] = natten.split(g, [1, shape[2] - 1], 2);
      const [wa, wb] = natten.split(x, [1, shape[2] - 1], 2);
      expect(await a.toArray()).toEqual(await wa.toArray());
      expect(await b.toArray()).toEqual(await wb.toArray());
    }
  });

  it('buildInfo names the cuBLASLt that was loaded', () => {
    natten.linear(natten.zeros([2, 2], { device: 'cuda' }), natten.zeros([2, 2], { device: 'cuda' }));
    expect(natten.buildInfo().cublasLt).toMatch(/libcublasLt\.so\.\d+.*\(cuBLASLt \d+\)/);
  });

  it('tensors on different devices are a coded error at call time', () => {
    const g = natten.zeros([3, 4], { device: 'cuda' }),
      c = natten.zeros([5, 4]);
    expectCoded(() => natten.linear(g, c), TypeError, 'ERR_NATTEN_DEVICE_MISMATCH');
    expectCoded(() => natten.add(g, natten.zeros([4])), TypeError, 'ERR_NATTEN_DEVICE_MISMATCH');
    expectCoded(() => natten.concat([g, natten.zeros([3, 4])]), TypeError, 'ERR_NATTEN_DEVICE_MISMATCH');
    expectCoded(() => natten.matmul(g, natten.zeros([4, 2])), TypeError, 'ERR_NATTEN_DEVICE_MISMATCH');
  });

  it("fp32 GEMM is full fp32 by default and TF32 only after setFloat32MatmulPrecision('high')", async () => {
    // Inputs with bits below TF32's 10-bit mantissa: TF32 rounding shows as ~1e-3 relative error.
    const k = 1024;
    const a = oracle.randnTensor([64, k], 11),
      b = oracle.randnTensor([k, 64], 12);
    const want = oracle.matmul(a, b);
    const ga = natten.tensor(a.data, a.shape, { device: 'cuda', dtype: 'float32' }),
      gb = natten.tensor(b.data, b.shape, { device: 'cuda', dtype: 'float32' });
    const exact = oracle.relError(await natten.matmul(ga, gb).toArray(), want.data);
    natten.setFloat32MatmulPrecision('high');
    try {
      const tf32 = oracle.relError(await natten.matmul(ga, gb).toArray(), want.data);
      expect(exact).toBeLessThan(1e-5);
      expect(tf32).toBeLessThan(2e-2);
      expect(tf32).toBeGreaterThan(exact);
    } finally {
      natten.setFloat32MatmulPrecision('highest');
    }
  });

  it('without cuBLASLt, linear and matmul throw ERR_NATTEN_NO_CUBLAS naming the library; other ops run', async () => {
    const r = await runFixture('no_cublas.js', { env: { NATTEN_CUBLASLT_PATH: '/nonexistent/libcublasLt.so' } });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line).toBeDefined();
    const result = JSON.parse(line!.slice(7));
    for (const op of ['linear', 'matmul']) {
      expect(result[op]).toMatchObject({ name: 'NattenError', code: 'ERR_NATTEN_NO_CUBLAS' });
      expect(result[op].message).toMatch(/libcublasLt\.so\.\d+/);
      expect(result[op].message).toContain('/nonexistent/libcublasLt.so');
    }
    expect(result.cublasLt).toBe('');
    expect(result.gelu[0]).toBeCloseTo(0.8413447, 5);
    expect(result.gelu[1]).toBeCloseTo(-0.1586553, 5);
  });
});
