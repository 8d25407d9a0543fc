# Sourced by the prepared GPU scripts (bench/gpu_images_check.sh, bench/gpu_grid_cost.sh): `out` and `PY` set.
# step NAME CAP_S COMMAND...: run the command capped at CAP_S seconds (its process group killed 15 s later if it
# lingers), its whole output in $out/NAME.log, its tail and rc on stdout.
step() {
    local name=$1 cap=$2 start rc
    shift 2
    start=$(date +%s)
    echo "== $name (cap ${cap} s): $*"
    timeout -k 15 "$cap" "$@" >"$out/$name.log" 2>&1
    rc=$?
    tail -n "${STEP_TAIL:-30}" "$out/$name.log"
    echo "== $name: rc $rc$([ "$rc" = 124 ] && echo ' (cap reached)'), $(($(date +%s) - start)) s wall"
    echo
}

# The GPU, the driver and torch, first in every report.
print_machine() {
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
}
