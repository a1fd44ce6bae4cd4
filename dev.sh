#!/usr/bin/env bash
# The project's two entry points, usable on a fresh Debian machine:
#   ./dev.sh demo   set up, then run one full simulated vMotion cycle and print its timeline
#   ./dev.sh test   set up (Debian and Python packages, the vCenter simulator), then run every check
# Extra arguments after "test" go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
venv=${VMOTION_VENV:-$here/.venv}
python=${PYTHON:-python3}

log() { printf '==> %s\n' "$*" >&2; }

ensure_debian_packages() {
    local missing=()
    command -v go >/dev/null 2>&1 || missing+=(golang-go)
    [ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || missing+=(golang-github-vmware-govmomi-dev)
    # Pictures (reports, Gantt charts) are checked in a real browser; handlers run at speed under libfaketime.
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v faketime >/dev/null 2>&1 || missing+=(faketime)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)  # builds the speed runs' clockwait shim once
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        log "missing Debian packages: ${missing[*]} (run as root, or install them)"; return 1
    fi
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
    local extras=$1 stamp="$venv/.installed-$1"
    if [ ! -x "$venv/bin/python" ]; then
        # Debian's own python3 keeps venv and ensurepip in a separate package.
        if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
            && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        fi
        log "creating $venv"
        "$python" -m venv "$venv"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        log "installing the project and its [$extras] extras"
        "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$venv/bin/python" -m pip install -q -e ".[$extras]"
        touch "$stamp"
    fi
}

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
run_pytest() {
    local rc=0
    python -m pytest -p no:cacheprovider "$@" || rc=$?
    if [ $rc -eq 5 ]; then log "pytest collected no tests"; return 1; fi
    return $rc
}

# Every stage runs even when an earlier one failed, so one run shows every problem; the end says which failed.
failed_stages=()
stage() {
    local name=$1 rc=0
    shift
    log "$name"
    "$@" || rc=$?
    if [ $rc -ne 0 ]; then log "FAILED (exit $rc): $name"; failed_stages+=("$name"); fi
    return 0
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
demo)
    ensure_venv helper
    exec "$venv/bin/vmotion-sim" demo "$@"
    ;;
test)
    ensure_debian_packages
    ensure_venv "helper,test"
    export PATH="$venv/bin:$PATH"
    # Let Python keep its bytecode (and pytest its rewritten tests): the suite starts hundreds of interpreters on
    # our modules, and without a cache each one compiles them again.
    unset PYTHONDONTWRITEBYTECODE
    stage "lint: ruff" ruff check .
    stage "types: mypy" mypy
    stage "Python 3.9 compatibility of the runtime packages: vermin" \
        vermin --quiet --no-tips --target=3.9- --violations --eval-annotations simulator handler
    stage "vcsim: build" sh -c 'vcsim/build >/dev/null'
    # The benchmarks' quick mode runs inside pytest tests/ (tests/benchmarks), which also checks what it writes.
    # Two workers (pytest-xdist); arguments given after "test" come later, so "-n 0" runs serially.
    stage "tests: pytest tests/" run_pytest tests -n 2 "$@"
    # The scenarios' two directories named: without them, each worker collects all of tests/ only to deselect
    # it. Hypothesis has no test there; its plugin only costs each process a second.
    stage "scenarios: pytest --gherkin" run_pytest --gherkin -n 2 -p no:hypothesispytest \
        simulator/harness/scenarios features "$@"
    if [ ${#failed_stages[@]} -gt 0 ]; then
        summary=$(printf '%s; ' "${failed_stages[@]}")
        log "failed stages: ${summary%; }"
        exit 1
    fi
    log "every stage passed"
    ;;
*)
    echo "usage: ./dev.sh demo | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
