#!/bin/bash
# FlexAttention's token orders and mask builds on the 2-D/3-D problems (bench/flex_attention.py), to find its
# best: the mask check, the tile-permuted order with the coordinates computed from the tiled index for
# several tiles, and the raster order with the block mask built compiled. From the repo root on the GPU
# machine, in one device call; $OUT gets progress.log and flex.log (one JSON row per line):
#   OUT=... bash dev/gpu/flex_orders.sh
set -o pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
BUDGET=${BUDGET:-400}
source "$(dirname "$0")/steps.sh"
py=${PYTHON:-python}
fx=("$py" bench/flex_attention.py --backward --runs 30)
step check flex 60 "$py" bench/flex_attention.py --check --only none
grep -h "check" "$OUT/flex.log" >>"$OUT/progress.log"
step k13_8x16 flex 60 "${fx[@]}" --only 2d_128x128_k13_D64 --orders tiled --tile 8x16
step k13_16x8 flex 60 "${fx[@]}" --only 2d_128x128_k13_D64 --orders tiled --tile 16x8
step k7_8x8 flex 60 "${fx[@]}" --only 2d_56x56_k7_D32 --orders tiled --tile 8x8
step 3d_4x4x8 flex 60 "${fx[@]}" --only 3d_16x32x32_k5x9x9_D64 --orders tiled --tile 4x4x8
step 3d_2x8x8 flex 60 "${fx[@]}" --only 3d_16x32x32_k5x9x9_D64 --orders tiled --tile 2x8x8
step k31_8x16 flex 60 "${fx[@]}" --only 2d_128x128_k31_D128 --orders tiled --tile 8x16
step 3d_raster_compiled flex 150 "${fx[@]}" --only 3d_16x32x32_k5x9x9_D64 --orders raster --compiled-mask
step k13_raster_compiled flex 120 "${fx[@]}" --only 2d_128x128_k13_D64 --orders raster --compiled-mask
grep -h '"problem"' "$OUT/flex.log" | cut -c1-400 >>"$OUT/progress.log"
progress done
