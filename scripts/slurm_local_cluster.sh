#!/usr/bin/env bash
# slurm_local_cluster.sh: a throwaway single-node Slurm cluster on this machine, for testing `ablate` sweeps
# against a real scheduler (CI, local checks). Everything lives under one folder DIR: slurm.conf, the munge key,
# munge socket, state and spool folders, pid files and logs. No systemd, no cgroups, no accounting database.
#
#   scripts/slurm_local_cluster.sh install    # apt-get install slurm-wlm + munge if missing (Debian/Ubuntu, root)
#   scripts/slurm_local_cluster.sh start DIR  # write DIR/slurm.conf, start munged, slurmctld, slurmd; wait until
#                                             # the node is idle; print `export SLURM_CONF=DIR/slurm.conf` last on
#                                             # stdout (all other messages go to stderr), so:
#                                             #   eval "$(scripts/slurm_local_cluster.sh start /tmp/slurm)"
#   scripts/slurm_local_cluster.sh stop DIR   # cancel all jobs, stop every daemon that `start DIR` started (by
#                                             # the pid files in DIR) and any slurmstepd/job process left over
#   scripts/slurm_local_cluster.sh status DIR # daemons' pids, sinfo and squeue
#   scripts/slurm_local_cluster.sh env DIR    # print the export lines again
#
# Cluster: one node named `hostname -s` (NodeAddr=127.0.0.1) with CPUs=$(nproc), one partition `debug`
# (Default=YES, MaxTime=INFINITE), SlurmUser=root, select/cons_tres with CR_Core (one job per core; memory not
# tracked), proctrack/linuxproc, task/none, no accounting (sacct does not work; finished jobs are listed in
# DIR/log/jobcomp.txt by jobcomp/filetxt and stay visible to `scontrol show job` for MinJobAge seconds),
# JobRequeue=1 (sbatch --requeue, scontrol requeue; a requeued job keeps its id, may start again after
# cred_expire seconds, sees SLURM_RESTART_COUNT=1,2,..., and its output file is truncated unless
# --open-mode=append). Clients (sbatch, squeue, scancel, scontrol, sinfo, srun) need only SLURM_CONF exported;
# the munge socket path is in slurm.conf (AuthInfo=socket=...). The munge CLI needs
# `--socket=DIR/munge/munge.socket`. Job output goes where sbatch puts it (default: slurm-%j.out, for arrays
# slurm-%A_%a.out, in the submitting directory). Job tasks get SLURM_LOCAL_CLUSTER_DIR=DIR in their environment.
#
# Signals, as in any Slurm: `scancel --signal=TERM JOB` signals only job steps (srun), NOT the batch script; use
# `scancel --batch --signal=TERM JOB` (the batch shell only) or `--full` (the batch shell and all its
# processes). Likewise `sbatch --signal=TERM@30` signals steps only; `--signal=B:TERM@30` signals the batch shell
# (so `exec` the program from the batch script, or trap and forward), up to 60 s earlier than asked.
#
# Must run as root (slurmd needs it; jobs run as root too). `start` refuses to start a second time in the same
# DIR while its daemons run, and wipes DIR's previous Slurm state and logs, so each start is a fresh cluster.
# Two clusters on one machine need different ports (SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT).
#
# Settings (environment):
#   SLURM_LOCAL_CTLD_PORT (6817), SLURM_LOCAL_SLURMD_PORT (6818)  TCP ports on 127.0.0.1
#   SLURM_LOCAL_NODE_NAME (`hostname -s`)   node name (slurmd is started with -N this)
#   SLURM_LOCAL_CPUS ($(nproc))             CPUs of the node
#   SLURM_LOCAL_KILL_WAIT (30)              KillWait: seconds between SIGTERM and SIGKILL on cancel/time limit
#   SLURM_LOCAL_MIN_JOB_AGE (3600)          MinJobAge: seconds a finished job stays in `scontrol show job`/`squeue -t all`
#   SLURM_LOCAL_START_TIMEOUT (60)          seconds `start` waits for the node to become idle
#   SLURM_LOCAL_STOP_TIMEOUT (10)           seconds `stop` waits for jobs to end after scancel (SIGTERM); then it
#                                           SIGKILLs their processes
#   SLURM_LOCAL_PROCTRACK (linuxproc)       ProctrackType plugin: linuxproc (by parent pid) or pgid (by process group)
#   SLURM_LOCAL_SCHED_INTERVAL (1)          seconds between scheduler passes (Slurm's defaults: 60 main, 30 backfill);
#                                           besides these, Slurm schedules on submit and job end, at most every ~2-3 s
#   SLURM_LOCAL_DEBUG (info)                SlurmctldDebug/SlurmdDebug (e.g. debug, debug2)
#   SLURM_LOCAL_CRED_EXPIRE (10)            AuthInfo cred_expire (>= 5): also how long a requeued job waits
#                                           before it may start again (Slurm's default is 120 s)
#
# Checked with Debian 12 (bookworm) packages slurm-wlm 22.05.8-4+deb12u3 (`sinfo --version` with SLURM_CONF set,
# or `slurmctld -V`: slurm-wlm 22.05.8) and munge 0.5.15-2+deb12u1 (`munged --version`: munge-0.5.15
# (2022-06-22)). Start takes about 1.3 s, stop about 4.5 s (each daemon needs 1.5-2 s to exit on SIGTERM).
set -euo pipefail

PROG=slurm_local_cluster
# Set in the environment of every daemon this script starts (slurmstepd inherits it from slurmd) and, by the
# TaskProlog, of every job task, so `stop` can find exactly this cluster's processes, and nothing else, by
# reading /proc/PID/environ.
MARKER=SLURM_LOCAL_CLUSTER_DIR

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# For `start`: on failure once a daemon may be running, print the daemons' logs and stop what was started.
START_DIR=""
START_STARTED=0
on_start_exit() {
  local rc=$?
  if [[ $rc -ne 0 && $START_STARTED -eq 1 ]]; then
    print_logs "$START_DIR"
    log "start failed (exit $rc); stopping what was started in $START_DIR"
    cmd_stop "$START_DIR" || true
  fi
  exit "$rc"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

need_root() { [[ ${EUID:-$(id -u)} -eq 0 ]] || die "must run as root (slurmd and SlurmUser=root need it)"; }

# ---------------------------------------------------------------------------------------------------- install
cmd_install() {
  need_root
  local missing=()
  local pkg
  for pkg in slurm-wlm munge; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "slurm-wlm and munge already installed"
  else
    command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
    # Keep the packages' maintainer scripts from starting system-wide munged/slurmctld/slurmd services (they
    # would take the default ports and /run/munge): a temporary policy-rc.d, unless the image has one already.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\n# temporary, from %s install\nexit 101\n' "$PROG" > "$policy"
      chmod 755 "$policy"
      made_policy=1
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
      log "apt-get install failed; running apt-get update and retrying"
      apt-get update >&2
      apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
    if [[ $made_policy -eq 1 ]]; then rm -f "$policy"; trap - EXIT; fi
  fi
  log "$(slurmctld -V 2>&1 | head -n1) (slurmctld -V); $(munged --version 2>&1 | head -n1)"
}

# ---------------------------------------------------------------------------------------------------- helpers
abs_dir() {
  [[ -n ${1:-} ]] || die "missing DIR argument"
  local d=$1
  [[ $d == /* ]] || d="$PWD/$d"
  # Normalise without requiring it to exist (realpath -m); strip a trailing slash.
  realpath -m -- "$d"
}

# pid_of NAME DIR: the pid in DIR/run/NAME.pid if that process is alive and carries our marker for DIR.
pid_of() {
  local f="$2/run/$1.pid" pid
  [[ -s $f ]] || return 1
  pid=$(tr -dc '0-9' < "$f")
  [[ -n $pid ]] || return 1
  is_ours "$pid" "$2"
  printf '%s\n' "$pid"
}

# is_ours PID DIR: the process is alive and its environment holds MARKER=DIR.
is_ours() {
  [[ -r /proc/$1/environ ]] || return 1
  tr '\0' '\n' < "/proc/$1/environ" 2>/dev/null | grep -qxF -- "$MARKER=$2"
}

# All pids (one a line) of live processes carrying the marker for DIR, plus all their descendants.
our_pids() {
  local dir=$1 p roots=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p -eq $$ ]] && continue
    if is_ours "$p" "$dir" 2>/dev/null; then roots+=("$p"); fi
  done
  [[ ${#roots[@]} -gt 0 ]] || return 0
  # Descendants too: a job's process that dropped the marker from its environment still dies with the cluster.
  ps -eo pid=,ppid= | awk -v roots="${roots[*]}" -v self="$$" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      changed = 1
      while (changed) {
        changed = 0
        for (p in parent) if (!(p in keep) && (parent[p] in keep) && p != self) { keep[p] = 1; changed = 1 }
      }
      for (p in keep) print p
    }'
}

# Pids of job processes of the cluster in DIR: marked processes (and descendants) other than the daemons.
job_pids() {
  local p exe
  for p in $(our_pids "$1"); do
    exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
    case ${exe##*/} in slurmctld* | slurmd* | slurmstepd* | munged*) continue ;; esac
    printf '%s\n' "$p"
  done
}

alive() { kill -0 "$1" 2>/dev/null; }

# wait_gone SECONDS PID...: 0 once all are gone, 1 on timeout.
wait_gone() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs)) p any
  while :; do
    any=0
    for p in "$@"; do if alive "$p"; then any=1; fi; done
    [[ $any -eq 0 ]] && return 0
    [[ $SECONDS -ge $deadline ]] && return 1
    sleep 0.2
  done
}

port_in_use() {
  # Something already listens on 127.0.0.1:PORT (or on all addresses).
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

print_logs() {
  local dir=$1 f
  for f in "$dir"/log/munged.log "$dir"/log/slurmctld.log "$dir"/log/slurmd.log "$dir"/log/*.stdout; do
    [[ -s $f ]] || continue
    printf '%s: ----- %s (last 60 lines) -----\n' "$PROG" "$f" >&2
    tail -n 60 -- "$f" >&2
  done
}

print_env() {
  local dir=$1
  printf '# munge CLI for this cluster: munge --socket=%q\n' "$dir/munge/munge.socket"
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf"
}

# ---------------------------------------------------------------------------------------------------- start
cmd_start() {
  need_root
  local dir
  dir=$(abs_dir "${1:-}")
  local b
  for b in munged slurmctld slurmd sinfo scontrol squeue scancel; do
    command -v "$b" >/dev/null || die "$b not found; run: $0 install"
  done
  local n
  for n in munged slurmctld slurmd; do
    if pid_of "$n" "$dir" >/dev/null 2>&1; then
      die "a cluster is already running in $dir ($n pid $(pid_of "$n" "$dir")); run: $0 stop $dir"
    fi
  done

  local host node
  host=$(hostname -s)   # slurmctld only runs where its SlurmctldHost name is the host name
  node=${SLURM_LOCAL_NODE_NAME:-$host}
  local cpus=${SLURM_LOCAL_CPUS:-$(nproc)}
  local ctld_port=${SLURM_LOCAL_CTLD_PORT:-6817}
  local slurmd_port=${SLURM_LOCAL_SLURMD_PORT:-6818}
  local kill_wait=${SLURM_LOCAL_KILL_WAIT:-30}
  local min_job_age=${SLURM_LOCAL_MIN_JOB_AGE:-3600}
  local timeout=${SLURM_LOCAL_START_TIMEOUT:-60}
  local debug=${SLURM_LOCAL_DEBUG:-info}
  local cred_expire=${SLURM_LOCAL_CRED_EXPIRE:-10}
  local proctrack=${SLURM_LOCAL_PROCTRACK:-linuxproc}
  local sched_interval=${SLURM_LOCAL_SCHED_INTERVAL:-1}
  [[ -n $node ]] || die "empty node name (hostname -s); set SLURM_LOCAL_NODE_NAME"
  [[ $cred_expire =~ ^[0-9]+$ && $cred_expire -ge 5 ]] \
    || die "SLURM_LOCAL_CRED_EXPIRE must be an integer >= 5 (slurmctld ignores smaller values), got '$cred_expire'"
  [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_CPUS must be a positive integer, got '$cpus'"
  local p
  for p in "$ctld_port" "$slurmd_port"; do
    if port_in_use "$p"; then
      die "port $p is in use (another slurmctld/slurmd?); set SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT"
    fi
  done
  # RealMemory as slurmd measures it (a larger value would drain the node); 1 MB if unknown.
  local mem
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
  [[ -n $mem ]] || mem=1

  local t0=$SECONDS
  mkdir -p -- "$dir"
  chmod go-w -- "$dir"   # munged refuses group/world-writable folders on its paths
  # A fresh cluster each time: forget jobs, node state and logs of an earlier start in this DIR.
  rm -rf -- "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
  mkdir -p -- "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
  chmod 700 -- "$dir/state" "$dir/spool"
  chmod 755 -- "$dir/munge" "$dir/log" "$dir/run"   # munged wants its socket folder world-executable

  # On any failure after daemons may have started: show the logs and take everything down again.
  START_DIR=$dir
  trap on_start_exit EXIT

  # munge: its own key, socket, pid, seed and log files in DIR/munge and DIR/log.
  local key="$dir/munge/munge.key" sock="$dir/munge/munge.socket"
  if [[ ! -s $key ]]; then
    (umask 077 && head -c 1024 /dev/urandom > "$key")
  fi
  chmod 400 -- "$key"
  START_STARTED=1
  env "$MARKER=$dir" munged --force \
    --socket="$sock" --key-file="$key" --pid-file="$dir/run/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log" \
    </dev/null >>"$dir/log/munged.stdout" 2>&1 \
    || die "munged failed to start"
  local deadline=$((SECONDS + 10))
  until [[ -S $sock ]] && munge -n --socket="$sock" 2>/dev/null | unmunge --socket="$sock" >/dev/null 2>&1; do
    [[ $SECONDS -lt $deadline ]] || die "munged did not answer on $sock within 10 s"
    sleep 0.1
  done

  cat > "$dir/slurm.conf" <<EOF
# Written by scripts/slurm_local_cluster.sh start $dir: a throwaway single-node cluster.
ClusterName=ablatelocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock,cred_expire=$cred_expire
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=$debug
SlurmdDebug=$debug
ProctrackType=proctrack/$proctrack
TaskProlog=$dir/task_prolog.sh
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=$sched_interval,bf_interval=$sched_interval
MpiDefault=none
JobRequeue=1
ReturnToService=2
KillWait=$kill_wait
MinJobAge=$min_job_age
InactiveLimit=0
MailProg=/bin/true
PropagateResourceLimits=NONE
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  chmod 644 -- "$dir/slurm.conf"
  # Marks every job task with MARKER=DIR (TaskProlog lines `export NAME=VALUE` go into the task's environment).
  printf '#!/bin/sh\necho "export %s=%s"\n' "$MARKER" "$dir" > "$dir/task_prolog.sh"
  chmod 755 -- "$dir/task_prolog.sh"
  export SLURM_CONF="$dir/slurm.conf"

  # Both daemonise themselves and write their pid files (SlurmctldPidFile, SlurmdPidFile); their stdio goes to
  # files so that `eval "$(... start DIR)"` does not wait on them.
  env "$MARKER=$dir" SLURM_CONF="$dir/slurm.conf" slurmctld -f "$dir/slurm.conf" \
    </dev/null >>"$dir/log/slurmctld.stdout" 2>&1 \
    || die "slurmctld failed to start"
  env "$MARKER=$dir" SLURM_CONF="$dir/slurm.conf" slurmd -f "$dir/slurm.conf" -N "$node" \
    </dev/null >>"$dir/log/slurmd.stdout" 2>&1 \
    || die "slurmd failed to start"

  # Wait for the node to be idle.
  deadline=$((SECONDS + timeout))
  local state=""
  while :; do
    state=$(sinfo --noheader --Node --nodes="$node" --format=%T 2>/dev/null | head -n1 || true)
    [[ $state == idle ]] && break
    case $state in
      inval | drain* | fail*)   # slurmctld rejected the node's registration; waiting will not help
        scontrol show node "$node" >&2 2>/dev/null || true
        die "node $node is '$state' (see Reason= above; e.g. more CPUs or memory configured than slurmd found)" ;;
    esac
    for n in slurmctld slurmd; do
      if ! pid_of "$n" "$dir" >/dev/null 2>&1 && [[ $((SECONDS - t0)) -gt 5 ]]; then
        die "$n is not running (see its log above)"
      fi
    done
    if [[ $SECONDS -ge $deadline ]]; then
      scontrol show node "$node" >&2 2>/dev/null || true
      die "node $node not idle after ${timeout}s (state: '${state:-no answer from slurmctld}')"
    fi
    sleep 0.2
  done
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s: node $node ($cpus CPUs, ${mem} MB), partition debug, conf $dir/slurm.conf"
  print_env "$dir"
}

# ---------------------------------------------------------------------------------------------------- stop
cmd_stop() {
  local dir
  dir=$(abs_dir "${1:-}")
  need_root
  local stop_timeout=${SLURM_LOCAL_STOP_TIMEOUT:-10}
  local conf="$dir/slurm.conf" ctld="" slurmd="" munged=""
  ctld=$(pid_of slurmctld "$dir" 2>/dev/null || true)
  slurmd=$(pid_of slurmd "$dir" 2>/dev/null || true)
  munged=$(pid_of munged "$dir" 2>/dev/null || true)

  # 1. Cancel all jobs while the controller still runs, so their steps get SIGTERM then SIGKILL (KillWait).
  if [[ -n $ctld && -f $conf ]]; then
    local jobs
    jobs=$(SLURM_CONF=$conf squeue --noheader --format=%A 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [[ -n ${jobs// /} ]]; then
      log "cancelling jobs: $jobs"
      # shellcheck disable=SC2086  # one argument per job id
      SLURM_CONF=$conf scancel $jobs 2>/dev/null || true
      local deadline=$((SECONDS + stop_timeout)) killed=0
      while [[ -n $(SLURM_CONF=$conf squeue --noheader --format=%A 2>/dev/null || true) ]]; do
        if [[ $SECONDS -ge $deadline ]]; then
          [[ $killed -eq 0 ]] || { log "jobs still listed 10s after SIGKILL; stopping anyway"; break; }
          # Slurm itself would wait KillWait seconds more, and slurmd does not exit before; kill the jobs' own
          # processes (marked by the TaskProlog) directly.
          log "jobs still running ${stop_timeout}s after scancel; sending SIGKILL to their processes"
          local jp
          jp=$(job_pids "$dir" | tr '\n' ' ')
          # shellcheck disable=SC2086
          [[ -z ${jp// /} ]] || kill -KILL $jp 2>/dev/null || true
          killed=1
          deadline=$((SECONDS + 10))
        fi
        sleep 0.3
      done
    fi
  fi

  # 2. The daemons, by pid file: slurmd, slurmctld, then munged; SIGTERM, then SIGKILL after 10 s.
  local p pids=()
  for p in "$slurmd" "$ctld"; do [[ -n $p ]] && pids+=("$p"); done
  if [[ ${#pids[@]} -gt 0 ]]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    if ! wait_gone 10 "${pids[@]}"; then
      log "slurm daemons did not exit on SIGTERM; sending SIGKILL"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 5 "${pids[@]}" || true
    fi
  fi

  # 3. Leftovers: slurmstepd (carries the marker, inherited from slurmd), job processes (the TaskProlog puts the
  #    marker into every task's environment, so this also finds processes that escaped their job, e.g. children
  #    orphaned when their batch shell exited: proctrack/linuxproc loses those) and their descendants.
  local left
  left=$(our_pids "$dir" | grep -vxF -- "${munged:-none}" | tr '\n' ' ' || true)
  if [[ -n ${left// /} ]]; then
    log "killing leftover processes: $left"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 5 $left || true
  fi

  if [[ -n $munged ]]; then
    kill -TERM "$munged" 2>/dev/null || true
    wait_gone 10 "$munged" || { kill -KILL "$munged" 2>/dev/null || true; wait_gone 5 "$munged" || true; }
  fi

  left=$(our_pids "$dir" | tr '\n' ' ' || true)
  if [[ -n ${left// /} ]]; then
    # shellcheck disable=SC2086
    ps -o pid,ppid,args -p "${left// /,}" >&2 2>/dev/null || true
    die "processes of the cluster in $dir are still running: $left"
  fi
  rm -f -- "$dir"/run/*.pid "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
  if [[ -z $ctld$slurmd$munged ]]; then
    log "nothing was running in $dir"
  else
    log "stopped the cluster in $dir"
  fi
}

# ---------------------------------------------------------------------------------------------------- status
cmd_status() {
  local dir n p
  dir=$(abs_dir "${1:-}")
  for n in munged slurmctld slurmd; do
    if p=$(pid_of "$n" "$dir" 2>/dev/null); then log "$n: running, pid $p"; else log "$n: not running"; fi
  done
  if pid_of slurmctld "$dir" >/dev/null 2>&1; then
    SLURM_CONF="$dir/slurm.conf" sinfo >&2 || true
    SLURM_CONF="$dir/slurm.conf" squeue >&2 || true
  fi
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  env) dir=$(abs_dir "${2:-}"); print_env "$dir" ;;
  -h | --help | help) usage 0 ;;
  "") usage ;;
  *) log "unknown command: $1"; usage ;;
esac
