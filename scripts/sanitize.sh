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
b.setErrorClass(Error);
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
  const rnd = (n) => b.randn(dev, t, n, seed++);
  const out = (n) => { const h = b.empty(dev, t, n); b.fill(h, t, n, NaN); return h; };
  // Unfused chain.
  const uq = rnd(B * H * N * D), uk = rnd(B * H * N * D), uv = rnd(B * H * N * Dv);
  const rpb = p.hasRpb ? rnd(H * prod(p.kernel.map((k) => 2 * k - 1))) : null;
  const uek = E ? rnd(B * H * E * D) : null, uev = E ? rnd(B * H * E * Dv) : null;
  const cols = K + E, A = B * H * N * cols;
  const up = { ...p, headsKv: H };
  const attn = out(A), probs = out(A), uo = out(B * H * N * Dv);
  b.naQK(up, t, uq, uk, rpb, uek, attn);
  b.softmax(t, B * H * N, cols, attn, probs);
  b.naAV(up, t, probs, uv, uev, uo);
  const udo = rnd(B * H * N * Dv), dp = out(A), ds = out(A);
  b.naAVBackward(up, t, udo, probs, uv, uev, dp, out(B * H * N * Dv), E ? out(B * H * E * Dv) : null);
  b.softmaxBackward(t, B * H * N, cols, dp, probs, ds);
  b.naQKBackward(up, t, ds, uq, uk, uek, out(B * H * N * D), out(B * H * N * D), rpb ? out(H * prod(p.kernel.map((k) => 2 * k - 1))) : null,
    E ? out(B * H * E * D) : null);
  // Reference fused forward/backward (no rpb on the fused path).
  const fp = { ...p, hasRpb: false };
  const fq = rnd(B * N * H * D), fk = rnd(B * N * Hkv * D), fv = rnd(B * N * Hkv * Dv);
  const fek = E ? rnd(B * E * Hkv * D) : null, fev = E ? rnd(B * E * Hkv * Dv) : null;
  const fo = out(B * N * H * Dv), lse = b.empty(dev, 0, B * N * H);
  const cfg = { useReference: true };
  b.naForward(fp, t, fq, fk, fv, fek, fev, fo, lse, cfg);
  b.naBackward(fp, t, fq, fk, fv, fek, fev, fo, lse, rnd(B * N * H * Dv), out(B * N * H * D), out(B * N * Hkv * D),
    out(B * N * Hkv * Dv), E ? out(B * E * Hkv * D) : null, E ? out(B * E * Hkv * Dv) : null, cfg);
  // Tensor-core fused forward (fp16/bf16; fp32 runs the reference): the heuristic's config.
  if (t) b.naForward(fp, t, fq, fk, fv, fek, fev, out(B * N * H * Dv), b.empty(dev, 0, B * N * H), {});
  // Tensor-core fused backward (fp16/bf16; others fall back to the reference): KV-parallel and deterministic.
  for (const mode of t ? [{}, { kvParallel: false, deterministic: true }] : [])
    b.naBackward(fp, t, fq, fk, fv, fek, fev, fo, lse, rnd(B * N * H * Dv), out(B * N * H * D), out(B * N * Hkv * D),
      out(B * N * Hkv * Dv), E ? out(B * E * Hkv * D) : null, E ? out(B * E * Hkv * Dv) : null, mode);
}
b.synchronize(dev).then(() => console.log(`sanitize: ran every CUDA op on ${problems.length} problems`),
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
