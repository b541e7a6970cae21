#!/usr/bin/env bash
# Fuzzing: builds the cargo-fuzz targets in fuzz/ once, runs each for SECONDS_PER_TARGET seconds
# from its seed corpus, and prints one line per target (executions, exec/s, corpus size,
# result). Exits non-zero when any target crashed, timed out or ran out of memory; the
# reproducer's path is printed, and `<binary> <reproducer>` replays it.
#
#   ./tests/fuzz/run.sh [SECONDS_PER_TARGET]     (default 30)
#
# Environment:
#   JTB_FUZZ_TARGETS   space-separated subset of the targets (default: all of fuzz/Cargo.toml)
#   JTB_FUZZ_BUILD     release (default: optimised, with debug assertions and overflow checks)
#                      or dev (unoptimised, overflow checks too). Measured from scratch on this
#                      2-core machine: release ~11 CPU-minutes to build, dev ~5.7; release runs
#                      4-7x the executions per second. CI runs dev for a short smoke run.
#   JTB_TOOLS_DIR      where cargo-fuzz is installed (default target/fuzz-tools, reused)
#
# Stable Rust only. cargo-fuzz's default AddressSanitizer build passes `-Zsanitizer=address`,
# which needs a nightly compiler; with `--sanitizer none` it passes only stable flags
# (`-Cpasses=sancov-module`, `-Cllvm-args=-sanitizer-coverage-*`, `-Cdebug-assertions`,
# `--cfg fuzzing`), so no RUSTC_BOOTSTRAP is needed. The crate forbids unsafe code, so what
# libFuzzer catches here is panics (including integer overflow and failed property assertions),
# hangs and memory blow-ups; the C libraries linked in (OpenSSL, aws-lc) are not instrumented.
#
# Generated corpora and reproducers stay under target/fuzz/ (never committed); the committed
# seeds are fuzz/seeds/<target>/, plus the Jira webhook fixtures of the integration tests and the
# packaged example config.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${repo_root}"

# shellcheck source=packaging/prepare-host.sh
. packaging/prepare-host.sh
jtb_ensure_cargo

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-30}
[[ ${seconds} =~ ^[1-9][0-9]*$ ]] || jtb_die "SECONDS_PER_TARGET must be a positive number, not '${seconds}'"
build_mode=${JTB_FUZZ_BUILD:-release}
tools_dir=${JTB_TOOLS_DIR:-${repo_root}/target/fuzz-tools}
work_dir=${repo_root}/target/fuzz
triple=$(rustc -vV | sed -n 's/^host: //p')
export PATH="${tools_dir}/bin:${PATH}"

now() { date +%s; }
started=$(now)

if ! cargo fuzz --version 2>/dev/null | grep -qF "${CARGO_FUZZ_VERSION}"; then
    jtb_log "cargo install --locked cargo-fuzz@${CARGO_FUZZ_VERSION} (into ${tools_dir})"
    t=$(now)
    cargo install --locked --quiet --version "${CARGO_FUZZ_VERSION}" --root "${tools_dir}" cargo-fuzz
    jtb_log "cargo-fuzz installed in $(($(now) - t)) s"
fi

build_args=(--sanitizer none --target-dir "${work_dir}" --target "${triple}")
case ${build_mode} in
    release) profile_dir=release ;;
    dev) build_args+=(--dev) profile_dir=debug ;;
    *) jtb_die "JTB_FUZZ_BUILD must be release or dev, not '${build_mode}'" ;;
esac

if [[ -n ${JTB_FUZZ_TARGETS:-} ]]; then
    read -r -a targets <<<"${JTB_FUZZ_TARGETS}"
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
[[ ${#targets[@]} -gt 0 ]] || jtb_die "no fuzz targets found in fuzz/"

jtb_log "cargo fuzz build ${build_args[*]} (${build_mode}: ${targets[*]})"
t=$(now)
cargo fuzz build --fuzz-dir fuzz "${build_args[@]}"
jtb_log "fuzz targets built in $(($(now) - t)) s"

# Seeds of a target besides fuzz/seeds/<target>: test fixtures, kept in one place.
extra_seeds() {
    case $1 in
        jira_webhook) printf '%s\n' tests/integration/fixtures/jira/*.json ;;
        config) printf '%s\n' packaging/config.example.toml ;;
    esac
}

# stat NAME LOG: the value of libFuzzer's final `stat::NAME:` line
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

rows=()
failed=0
for target in "${targets[@]}"; do
    binary=${work_dir}/${triple}/${profile_dir}/${target}
    [[ -x ${binary} ]] || jtb_die "${binary} was not built"
    corpus=${work_dir}/corpus/${target}
    artifacts=${work_dir}/artifacts/${target}
    log=${work_dir}/logs/${target}.log
    mkdir -p "${corpus}" "${artifacts}" "$(dirname "${log}")"
    [[ -d fuzz/seeds/${target} ]] && cp -f fuzz/seeds/"${target}"/* "${corpus}/"
    while IFS= read -r seed; do
        [[ -n ${seed} ]] && cp -f "${seed}" "${corpus}/"
    done < <(extra_seeds "${target}")

    jtb_log "fuzzing ${target} for ${seconds} s"
    rc=0
    # -timeout: one input running 10 s is a hang; -rss_limit_mb: libFuzzer's default, stated.
    # libFuzzer adds what it finds to the first directory (the corpus under target/).
    "${binary}" "${corpus}" \
        -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="${artifacts}/" >"${log}" 2>&1 || rc=$?

    execs=$(stat number_of_executed_units "${log}")
    rate=$(stat average_exec_per_sec "${log}")
    size=$(find "${corpus}" -type f | wc -l)
    if [[ ${rc} -eq 0 ]]; then
        result=ok
    else
        failed=1
        if grep -q 'ERROR: libFuzzer: timeout' "${log}"; then
            result=timeout
        elif grep -q -e 'ERROR: libFuzzer: out-of-memory' -e 'ERROR: libFuzzer: malloc' "${log}"; then
            result=oom
        else
            result="crash (exit ${rc})"
        fi
        {
            printf '\n--- %s: %s; the end of %s:\n' "${target}" "${result}" "${log}"
            # the panic message and libFuzzer's summary, without the progress and backtrace lines
            grep -v -e '^#[0-9]' -e '^INFO:' -e '^ *[0-9]*: ' -e '^ *at ' -e 'NEW_FUNC' "${log}" |
                cut -c1-2000 | tail -30
            reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "${log}" | tail -1)
            printf -- '--- reproducer: %s\n' "${reproducer:-none written}"
            printf -- '--- replay it:  %s %s\n' "${binary}" "${reproducer:-<input>}"
        } >&2
    fi
    rows+=("$(printf '%-16s %8s %12s %10s %8s  %s' "${target}" "${seconds}" "${execs:-?}" "${rate:-?}" "${size}" "${result}")")
done

printf '\n%-16s %8s %12s %10s %8s  %s\n' target seconds executions exec/s corpus result
printf '%s\n' "${rows[@]}"
printf '\nfuzzing took %s s in all (%s build)\n' "$(($(now) - started))" "${build_mode}"
exit "${failed}"
