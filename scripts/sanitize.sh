#!/usr/bin/env bash
# compute-sanitizer over the CUDA NA kernels: runs every CUDA op (unfused QK/AV/softmax and their
# backward, reference and tensor-core fused forward/backward) once on a representative set of small problems (1/2/3-D,
# dilation, stride, causal, even kernels, rpb, extra KV, GQA, large windows split into blocks, fp32/fp16/
# bf16) under memcheck and under racecheck, and fails on any reported error or hazard.
#   NATTEN_ADDON_PATH   the addon to check (default build/Release/natten.node)
#   SANITIZE_TOOLS      tools to run (default "memcheck racecheck")
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
addon=${NATTEN_ADDON_PATH:-$root/build/Release/natten.node}
tools=${SANITIZE_TOOLS:-memcheck racecheck}
if ! command -v compute-sanitizer >/dev/null 2>&1; then
  echo "sanitize: compute-sanitizer not found (it ships with the CUDA toolkit)" >&2
  exit 2
fi
[ -f "$addon" ] || { echo "sanitize: no addon at $addon (build it, or set NATTEN_ADDON_PATH)" >&2; exit 2; }

script=$(mktemp --suffix .js)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'EOF'
// Runs each CUDA NA op once per problem through the raw addon (no TypeScript build needed).
const b = require(process.argv[2]);
b.setErrorClass({ errorClass: Error });
if (b.deviceCount() < 1) throw new Error('no CUDA device');
const dev = 0;
const problems = [
  { dims: 1, batch: 1, heads: 2, headsKv: 1, headDim: 40, headDimV: 24, length: [70], kernel: [13], stride: [2], dilation: [2], causal: [true], nExtra: 2 },
  { dims: 2, batch: 2, heads: 2, headDim: 64, length: [11, 13], kernel: [5, 4], stride: [1, 2], dilation: [2, 1], causal: [false, true] },
  { dims: 3, batch: 1, heads: 3, headsKv: 3, headDim: 32, length: [5, 6, 7], kernel: [3, 3, 5], stride: [1, 1, 2], nExtra: 1 },
  { dims: 2, batch: 1, heads: 2, headDim: 32, length: [15, 15], kernel: [7, 7], hasRpb: true },
  { dims: 1, batch: 1, heads: 1, headDim: 16, length: [300], kernel: [257] },
  { dims: 2, batch: 1, heads: 1, headDim: 8, headDimV: 136, length: [20, 18], kernel: [17, 15] },
];
const prod = (a) => a.reduce((x, y) => x * y, 1);
let seed = 1;
for (const [i, p] of problems.entries()) {
  const t = i % 3;  // dtype code: float32, float16, bfloat16
  const B = p.batch, H = p.heads, Hkv = p.headsKv ?? H, D = p.headDim, Dv = p.headDimV ?? D, E = p.nExtra ?? 0;
  const N = prod(p.length), K = prod(p.kernel);
  const rnd = (n) => b.randn({ device: dev, dtype: t, numel: n, seed: seed++ });
  const out = (n) => { const h = b.empty({ device: dev, dtype: t, numel: n }); b.fill({ dtype: t, numel: n, dst: h, value: NaN }); return h; };
  const opt = (n, on) => (on ? out(n) : null);
  // Unfused chain.
  const uq = rnd(B * H * N * D), uk = rnd(B * H * N * D), uv = rnd(B * H * N * Dv);
  const nRpb = H * prod(p.kernel.map((k) => 2 * k - 1));
  const rpb = p.hasRpb ? rnd(nRpb) : null;
  const uek = E ? rnd(B * H * E * D) : null, uev = E ? rnd(B * H * E * Dv) : null;
  const cols = K + E, A = B * H * N * cols, rows = B * H * N;
  const u = { dtype: t, problem: { ...p, headsKv: H } };
  const attn = out(A), probs = out(A), uo = out(B * H * N * Dv);
  b.naQK({ ...u, q: uq, k: uk, rpb, additionalKeys: uek, attn });
  b.softmax({ dtype: t, rows, cols, x: attn, y: probs });
  b.naAV({ ...u, attn: probs, v: uv, additionalValues: uev, output: uo });
  const udo = rnd(B * H * N * Dv), dp = out(A), ds = out(A);
  b.naAVBackward({ ...u, dOut: udo, attn: probs, v: uv, additionalValues: uev, dAttn: dp, dv: out(B * H * N * Dv),
    dAdditionalValues: opt(B * H * E * Dv, E) });
  b.softmaxBackward({ dtype: t, rows, cols, dy: dp, y: probs, dx: ds });
  b.naQKBackward({ ...u, dAttn: ds, q: uq, k: uk, additionalKeys: uek, dq: out(B * H * N * D), dk: out(B * H * N * D),
    dRpb: opt(nRpb, p.hasRpb), dAdditionalKeys: opt(B * H * E * D, E) });
  // Fused forward/backward (no rpb on the fused path): the reference kernels, then the tensor-core ones.
  const f = { dtype: t, problem: { ...p, hasRpb: false } };
  const ins = { ...f, q: rnd(B * N * H * D), k: rnd(B * N * Hkv * D), v: rnd(B * N * Hkv * Dv),
    additionalKeys: E ? rnd(B * E * Hkv * D) : null, additionalValues: E ? rnd(B * E * Hkv * Dv) : null };
  const fo = out(B * N * H * Dv), lse = b.empty({ device: dev, dtype: 0, numel: B * N * H });
  const backward = (config) => b.naBackward({ ...ins, output: fo, lse, dOut: rnd(B * N * H * Dv), dq: out(B * N * H * D),
    dk: out(B * N * Hkv * D), dv: out(B * N * Hkv * Dv), dAdditionalKeys: opt(B * E * Hkv * D, E),
    dAdditionalValues: opt(B * E * Hkv * Dv, E), config });
  b.naForward({ ...ins, output: fo, lse, config: { useReference: true } });
  backward({ useReference: true });
  // Tensor-core fused forward (fp16/bf16; fp32 runs the reference): the heuristic's config.
  if (t) b.naForward({ ...ins, output: out(B * N * H * Dv), lse: b.empty({ device: dev, dtype: 0, numel: B * N * H }), config: {} });
  // Tensor-core fused backward (fp16/bf16; others fall back to the reference): KV-parallel and deterministic.
  for (const mode of t ? [{}, { kvParallel: false, deterministic: true }] : []) backward(mode);
}
b.synchronize({ device: dev }).then(() => console.log(`sanitize: ran every CUDA op on ${problems.length} problems`),
  (e) => { console.error(e); process.exit(1); });
EOF

status=0
for tool in $tools; do
  log=$(mktemp)
  echo "sanitize: compute-sanitizer --tool $tool"
  compute-sanitizer --tool "$tool" --error-exitcode 3 node "$script" "$addon" >"$log" 2>&1
  rc=$?
  tail -n 20 "$log"
  # memcheck: "ERROR SUMMARY: 0 errors"; racecheck: "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)".
  if [ $rc -ne 0 ] || ! grep -qE "ERROR SUMMARY: 0 errors|0 hazards displayed \(0 errors, 0 warnings\)" "$log" ||
     ! grep -q "sanitize: ran every CUDA op" "$log"; then
    echo "sanitize: $tool FAILED (exit $rc)" >&2
    status=1
  else
    echo "sanitize: $tool clean"
  fi
  rm -f "$log"
done
exit $status
