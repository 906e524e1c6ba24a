#!/usr/bin/env bash
# tools/slurm-local.sh: a single-node Slurm cluster for tests (docs/sweeps.md), from Debian's
# packages slurmctld, slurmd, slurm-client and munge (Slurm 22.05), without systemd and without
# cgroups. Everything lives in one folder: configuration, munge key and socket, controller state,
# slurmd spool, logs and PID files. Nothing under /etc, /run or /var is read or written.
#
#   bash tools/slurm-local.sh start DIR   # start munged, slurmctld, slurmd; wait until the node is idle;
#                                         # writes DIR/env (source it: SLURM_CONF=DIR/etc/slurm.conf)
#   bash tools/slurm-local.sh stop DIR    # cancel what is queued, stop the three daemons by their PIDs
#   bash tools/slurm-local.sh status DIR  # sinfo and squeue of that cluster
#
# The node gets this machine's CPU count and 90% of its memory; one partition, "debug".
# Cgroup-free plugins: proctrack/linuxproc (process tree by parent PID), task/none, no
# accounting. Runs as root (SlurmUser=SlurmdUser=root) or as one user for all daemons.
# Ports: SLURM_LOCAL_PORT (default: a free one from 20000 up; slurmd gets the next).
# Environment: SLURM_LOCAL_TIMEOUT (seconds to wait for the node; default 30).
set -euo pipefail

usage() { echo "usage: bash tools/slurm-local.sh start|stop|status DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
case "$CMD" in start | stop | status) ;; *) usage ;; esac

log() { echo "slurm-local: $*" >&2; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

# A PID file's process, when it is still running: prints its PID.
live_pid() {
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Stop one daemon by its PID file: TERM, up to 10 s, then KILL.
stop_pid() {
  local name=$1 f=$2 pid i
  pid=$(live_pid "$f") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) did not stop on TERM; KILL"
  kill -KILL "$pid" 2>/dev/null || true
}

do_stop() {
  [ -d "$DIR" ] || return 0
  DIR=$(cd "$DIR" && pwd)
  if [ -f "$DIR/etc/slurm.conf" ] && live_pid "$DIR/run/slurmctld.pid" >/dev/null; then
    # Jobs first, so that no slurmstepd outlives its slurmd.
    SLURM_CONF="$DIR/etc/slurm.conf" scancel --full --quiet --user "$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(SLURM_CONF="$DIR/etc/slurm.conf" squeue --noheader --format %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  # slurmd and slurmctld together (slurmctld takes a few seconds to save its state), munged last
  stop_pid slurmd "$DIR/run/slurmd.pid" &
  stop_pid slurmctld "$DIR/run/slurmctld.pid" &
  wait
  stop_pid munged "$DIR/run/munged.pid"
}

# seconds since a `date +%s.%N` stamp (awk: no bc on a minimal Debian)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

do_start() {
  local p
  for p in munged slurmctld slurmd sinfo sbatch scancel squeue; do
    command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$p" >/dev/null 2>&1 ||
      die "$p not found: install Debian's slurmctld slurmd slurm-client munge (apt-get install; tools/setup.sh does this)"
  done
  export PATH=$PATH:/usr/sbin:/sbin
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if live_pid "$DIR/run/slurmctld.pid" >/dev/null; then die "$DIR: a cluster is already running there (stop it first)"; fi
  mkdir -p "$DIR"/{etc,state,spool,log,run,munge}
  # munged warns about (and without --force refuses) group- or world-writable folders on its paths
  chmod go-w "$DIR" "$DIR"/{etc,state,spool,log,run}
  chmod 700 "$DIR/munge"
  local user host cpus mem_kb mem port sport t0
  user=$(id -un)
  host=$(uname -n | cut -d. -f1)  # hostname -s without the hostname package
  cpus=$(nproc)
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  mem=$((mem_kb * 9 / 10 / 1024))
  port=${SLURM_LOCAL_PORT:-}
  if [ -z "$port" ]; then
    for p in $(seq 20000 2 20400); do
      if port_free "$p" && port_free "$((p + 1))"; then port=$p; break; fi
    done
    [ -n "$port" ] || die "no free pair of TCP ports in 20000..20401 (set SLURM_LOCAL_PORT)"
  fi
  sport=$((port + 1))

  # munge: its own key, socket, PID, seed and log in DIR/munge (mode 700, as munged insists)
  [ -f "$DIR/munge/munge.key" ] || { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none; }
  chmod 400 "$DIR/munge/munge.key"
  t0=$(date +%s.%N)
  munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --log-file="$DIR/log/munged.log" --pid-file="$DIR/run/munged.pid" --seed-file="$DIR/munge/munged.seed" ||
    die "munged did not start (log: $DIR/log/munged.log)"

  cat >"$DIR/etc/slurm.conf" <<EOF
# written by tools/slurm-local.sh: a one-node test cluster, all state under $DIR
ClusterName=fglocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$sport
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
MaxArraySize=10001
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$DIR/etc/slurm.conf"
  printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$DIR/env"

  # -i: ignore state left in StateSaveLocation (a fresh cluster every time)
  slurmctld -i -f "$SLURM_CONF" || die "slurmctld did not start (log: $DIR/log/slurmctld.log)"
  slurmd -f "$SLURM_CONF" -N "$host" || die "slurmd did not start (log: $DIR/log/slurmd.log)"

  local timeout=${SLURM_LOCAL_TIMEOUT:-30} state=""
  local deadline=$(($(date +%s) + timeout))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    state=$(sinfo --noheader --nodes "$host" --format %T 2>/dev/null | head -n1 || true)
    case "$state" in idle | idle~ | mixed | allocated) break ;; esac
    sleep 0.2
  done
  case "$state" in
    idle | idle~ | mixed | allocated) ;;
    *)
      log "node $host is '${state:-unknown}' after ${timeout}s; last log lines:"
      tail -n 5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" "$DIR/log/munged.log" >&2 2>/dev/null || true
      do_stop
      exit 1
      ;;
  esac
  log "$(printf 'up in %.1f s: node %s, %s CPUs, %s MB, ports %s/%s; SLURM_CONF=%s' \
    "$(elapsed "$t0")" "$host" "$cpus" "$mem" "$port" "$sport" "$SLURM_CONF")"
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  status)
    DIR=$(cd "$DIR" && pwd)
    export SLURM_CONF="$DIR/etc/slurm.conf"
    sinfo
    squeue
    ;;
esac
