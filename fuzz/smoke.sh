#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds (default 20) on stable
# Rust, without a sanitizer, starting from the committed seeds.
#
#   fuzz/smoke.sh [SECONDS] [TARGET...]
#
# Works from any directory. New corpus entries go to fuzz/corpus/<target>
# (git-ignored), crashes to fuzz/artifacts/<target>/. Prints one summary
# line per target and exits non-zero if any target crashed or failed to run.
# Extra libFuzzer flags can be passed in FUZZ_ARGS (e.g. "-jobs=2").
set -uo pipefail

seconds="${1:-20}"
shift $(( $# > 0 ? 1 : 0 ))
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
# cargo-fuzz finds the fuzz crate from the current directory; run from the
# repository root and name it explicitly anyway.
cd "$root" || exit 2
# The fuzz crate is its own workspace: keep its (release, instrumented)
# build out of the main target directory even if CARGO_TARGET_DIR is set.
export CARGO_TARGET_DIR="$fuzz_dir/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked --version 0.13.2" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz_dir")
fi

# Build all targets first, so build time does not eat into fuzzing time
# and a compile error is reported once.
mkdir -p "$fuzz_dir/target"
build_log="$fuzz_dir/target/smoke-build.log"
if ! cargo fuzz build -s none --fuzz-dir "$fuzz_dir" >"$build_log" 2>&1; then
    cat "$build_log" >&2
    echo "fuzz smoke: build failed" >&2
    exit 2
fi

status=0
summary=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    seeds="$fuzz_dir/seeds/$target"
    log="$fuzz_dir/target/smoke-$target.log"
    mkdir -p "$corpus" "$seeds" "$fuzz_dir/artifacts/$target"
    echo "== $target (${seconds}s)" >&2
    # shellcheck disable=SC2086 # FUZZ_ARGS is split on purpose
    cargo fuzz run -s none --fuzz-dir "$fuzz_dir" "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
    code=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    if [ -z "$execs" ]; then
        execs="$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)"
    fi
    if [ "$code" -eq 0 ]; then
        result="ok"
    else
        result="FAILED (exit $code, log: ${log#"$root"/})"
        status=1
        grep -E "panicked at|^Failing input|artifact_prefix|Test unit written|ERROR" "$log" | head -n 20 >&2
    fi
    summary+=("$(printf '%-16s %12s execs  %s' "$target" "${execs:-?}" "$result")")
done

echo "fuzz smoke: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
exit "$status"
