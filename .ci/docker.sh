# shellcheck shell=bash
# A Docker engine for CI, started by hand the way issue 4 (fact 5) found to work on these machines, and the
# vCenter simulator's image built into it. Source this file, then:
#   docker_up     install docker.io/docker-compose (and Go + govmomi for the image) if missing, start dockerd
#                 on its own socket and directories, export DOCKER_HOST and the testcontainers variables,
#                 build the vmotion-vcsim image, check docker-compose.yml and bring its vcsim service up once
#   docker_down   stop that dockerd by its pid
# Works as root on a fresh Debian machine with no standard input. VMOTION_DOCKER_DIR (default
# /tmp/vmotion-docker) holds the socket, data, exec root, pid file and the engine's log.

VMOTION_DOCKER_DIR=${VMOTION_DOCKER_DIR:-/tmp/vmotion-docker}
VMOTION_VCSIM_IMAGE=vmotion-vcsim:latest

_docker_log() { printf '==> docker: %s\n' "$*" >&2; }

_docker_repo() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

_docker_install() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    # The image holds the simulator binary, which vcsim/build compiles from these.
    command -v go >/dev/null 2>&1 || missing+=(golang-go)
    [ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || missing+=(golang-github-vmware-govmomi-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    _docker_log "installing ${missing[*]}"
    apt-get update -qq </dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
}

_docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1 </dev/null; }

_docker_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The image is FROM scratch (there is no registry here) and labelled with the binary's digest, the label
# simulator/vcenter/vcsim.py checks before it would rebuild.
_docker_build_vcsim_image() {
    local repo bin ctx digest
    repo=$(_docker_repo)
    bin=$("$repo/vcsim/build" </dev/null | tail -n 1) || return 1
    digest=$(sha256sum "$bin" | cut -d' ' -f1)
    ctx=$(mktemp -d)
    cp "$bin" "$ctx/vcsim"
    cp "$repo/vcsim/Dockerfile" "$ctx/Dockerfile"
    _docker_log "building $VMOTION_VCSIM_IMAGE"
    if ! docker build -q --network none -t "$VMOTION_VCSIM_IMAGE" \
        --label "org.vmotion.vcsim.binary-sha256=$digest" "$ctx" </dev/null >/dev/null; then
        rm -rf "$ctx"
        _docker_log "docker build of $VMOTION_VCSIM_IMAGE failed"
        return 1
    fi
    rm -rf "$ctx"
}

# True once the simulator on 127.0.0.1:PORT answers with the API version it must advertise.
_docker_vcsim_answers() {
    python3 - "$1" 2>/dev/null <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the simulator's certificate is self-signed
url = f"https://127.0.0.1:{sys.argv[1]}/sdk/vimServiceVersions.xml"
try:
    body = urllib.request.urlopen(url, context=ctx, timeout=2).read()
except OSError:
    sys.exit(1)
sys.exit(0 if b"<version>8.0.1.0</version>" in body else 1)
PY
}

# Issue 4 asks CI to check the compose file and bring the vcsim service up once.
_docker_compose_smoke() {
    local repo port i up=no
    repo=$(_docker_repo)
    port=$(_docker_free_port)
    _docker_log "docker-compose config, then the vcsim service up on 127.0.0.1:$port and down"
    (cd "$repo" && VCSIM_PORT=$port docker-compose config -q </dev/null) || return 1
    (cd "$repo" && VCSIM_PORT=$port docker-compose up -d --no-build vcsim </dev/null) || return 1
    for i in $(seq 1 100); do
        if _docker_vcsim_answers "$port"; then up=yes; break; fi
        sleep 0.1
    done
    if [ "$up" != yes ]; then
        (cd "$repo" && VCSIM_PORT=$port docker-compose logs vcsim </dev/null) >&2
    fi
    (cd "$repo" && VCSIM_PORT=$port docker-compose down </dev/null) || return 1
    if [ "$up" != yes ]; then
        _docker_log "the compose vcsim service did not answer on 127.0.0.1:$port"
        return 1
    fi
}

docker_up() {
    local dir=$VMOTION_DOCKER_DIR i
    _docker_install || return 1
    mkdir -p "$dir/data" "$dir/exec"
    export DOCKER_HOST="unix://$dir/docker.sock"
    if [ -f "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null && _docker_answers; then
        _docker_log "reusing dockerd $(cat "$dir/dockerd.pid") on $DOCKER_HOST"
    else
        _docker_log "starting dockerd on $DOCKER_HOST (log: $dir/dockerd.log)"
        # No bridge and no iptables: these machines cannot create them, and every container uses the host
        # network on loopback anyway.
        dockerd --host "$DOCKER_HOST" --data-root "$dir/data" --exec-root "$dir/exec" \
            --pidfile "$dir/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
            </dev/null >"$dir/dockerd.log" 2>&1 &
        for i in $(seq 1 300); do
            if _docker_answers; then break; fi
            sleep 0.1
        done
        if ! _docker_answers; then
            tail -n 20 "$dir/dockerd.log" >&2
            _docker_log "dockerd did not answer within 30 s"
            docker_down
            return 1
        fi
    fi
    # testcontainers: its reaper image cannot be pulled, and this machine looks like a container itself.
    export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CONNECTION_MODE=docker_host TC_HOST=127.0.0.1
    # From here on a vCenter simulator is guaranteed: a test that cannot get one is a failure, not a skip.
    export VMOTION_REQUIRE_VCSIM=1
    # The caller's trap is not set yet when this fails: stop the engine here, or it outlives the run.
    if ! _docker_build_vcsim_image || ! _docker_compose_smoke; then
        docker_down
        return 1
    fi
}

docker_down() {
    local dir=$VMOTION_DOCKER_DIR pid i
    [ -f "$dir/dockerd.pid" ] || return 0
    pid=$(cat "$dir/dockerd.pid")
    kill -0 "$pid" 2>/dev/null || return 0
    _docker_log "stopping dockerd $pid"
    kill -TERM "$pid"
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        _docker_log "dockerd $pid ignored SIGTERM for 30 s; killing it"
        kill -KILL "$pid"
    fi
    # dockerd leaves its default network namespace mounted; unmount it so the directory can be removed.
    umount "$dir/exec/netns/default" 2>/dev/null || true
}
