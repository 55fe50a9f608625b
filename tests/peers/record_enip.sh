#!/usr/bin/env bash
# Record real EtherNet/IP + CIP peers: pycomm3 clients and Debian's nmap (`enip-info` NSE script)
# against the cpppo simulated Logix controller, for the EtherNet/IP decoder and rule tests.
# Needs root.
#
#   tests/peers/record_enip.sh [NAME ...]    # default: all; NAME = file name without .pcap
#
#   enip_pycomm3_cpppo     tests/peers/enip_client.py session  (reads and writes)
#   enip_cpppo_polling     tests/peers/enip_client.py poller   (reads only, POLLS polls)
#   recon_nmap_enip_info   nmap -sT and nmap -sU, port 44818, --script enip-info (needs
#                          `tests/peers/install.sh --recon` for nmap)
#
# Private network, made of namespaces only (prefix "otwen"; netns.sh uses "otwpr" and
# 10.200.7.0/24, record_recon.sh "otwrc" and 10.200.7.0/24 as well):
#
#   ns otwen-plc   eth0 10.200.8.10  (enip_server.py: cpppo, TCP and UDP 44818)
#   ns otwen-hmi   eth0 10.200.8.20  (the pycomm3 client / poller)
#   ns otwen-scan  eth0 10.200.8.66  (nmap; nothing else runs there)
#   MAC of each: 02:00:0a:c8:08:XX, XX = last octet in hex.
#   ns otwen-sw    bridge br0 with one veth port per host (plc, hmi, scan); no IP.
#
# Nothing of it is in the host's own namespace: each veth pair is created with one end in
# otwen-sw and the other in its host's namespace. IPv6, offloads (TSO/GSO/GRO) and the bridge's
# multicast snooping are off; the client namespaces use ephemeral ports 50000-60999.
# tcpdump runs inside otwen-plc on its eth0 (full frames, --immediate-mode, no filter: every
# frame to or from the controller), and a file is kept only when it holds exactly as many frames
# as eth0's counters saw (otherwise it is recorded again, at most 3 tries). Each file gets a fresh
# server (cpppo's session handles and connection ids then repeat, see enip_server.py), and the
# neighbour caches are flushed first, so each file starts with ARP. Every client step and both
# nmap reports are checked, so a peer that changes behaviour fails the recording. Everything is
# removed on exit, even on failure. Then tests/peers/check_pcaps.sh checks the files.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
OUT="${OUT:-$ROOT/pcaps}"
PY="${PYTHON:-python3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-120}"   # seconds, for one client or scanner run
POLLS="${POLLS:-30}"
[ "$(id -u)" = 0 ] || { echo "record_enip.sh: must run as root" >&2; exit 2; }

NET=10.200.8
PORT=44818
HOSTS=(plc hmi scan)
declare -A IP=([plc]=$NET.10 [hmi]=$NET.20 [scan]=$NET.66)
SW=otwen-sw
ALL_NS=("$SW" otwen-plc otwen-hmi otwen-scan)

exec 9>/run/otwen-enip.lock
flock -w 120 9 || { echo "record_enip.sh: another recording holds /run/otwen-enip.lock" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otwen.XXXXXX)"
SERVER_PID=""
TCPDUMP_PID=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  timeout 5 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  local rc=$? ns pid
  set +e
  stop_server
  if [ -n "$TCPDUMP_PID" ]; then kill -INT "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; fi
  for ns in "${ALL_NS[@]}"; do
    # anything still running inside our namespaces (only ours: by namespace)
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null   # takes its veth ends and the bridge with it
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

net_up() {
  local ns h last
  for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done   # an earlier killed run
  for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  # mcast_snooping 0: otherwise the bridge itself sends an IGMP report (224.0.0.106) into a capture
  ip -n "$SW" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$SW" link set br0 up
  for h in "${HOSTS[@]}"; do
    ns="otwen-$h"
    last=${IP[$h]##*.}
    ip -n "$SW" link add "$h" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set eth0 address "$(printf '02:00:0a:c8:08:%02x' "$last")"
    ip -n "$ns" addr add "${IP[$h]}/24" dev eth0
    if command -v ethtool >/dev/null; then
      ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
      ip netns exec "$SW" ethtool -K "$h" tso off gso off gro off >/dev/null 2>&1 || true
    fi
    # Client ports above 44818: tshark decodes TCP/UDP by the lower port first, and an
    # ephemeral port such as 34980 (EtherCAT over UDP) would take a frame from the enip dissector.
    [ "$h" = plc ] || ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="50000 60999"
    ip -n "$SW" link set "$h" master br0
    ip -n "$SW" link set "$h" up
    ip -n "$ns" link set eth0 up
  done
}

start_server() {
  local i
  ip netns exec otwen-plc "$PY" "$DIR/enip_server.py" "${IP[plc]}" "$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 200); do
    if ip netns exec otwen-plc ss -Hltn "sport = :$PORT" | grep -q LISTEN &&
       ip netns exec otwen-plc ss -Hlun "sport = :$PORT" | grep -q .; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$WORK/server.log" >&2
  echo "record_enip.sh: cpppo server on ${IP[plc]} never listened on TCP and UDP $PORT" >&2
  exit 1
}

# The controller's eth0 counters say how many frames it sent and received: the capture (on that
# eth0) must hold exactly that many.
frames_on_plc() {
  ip netns exec otwen-plc sh -c 'echo $(( $(cat /sys/class/net/eth0/statistics/rx_packets) + $(cat /sys/class/net/eth0/statistics/tx_packets) ))'
}

capture_start() {
  local ns
  for ns in otwen-plc otwen-hmi otwen-scan; do ip -n "$ns" neigh flush all; done
  : >"$WORK/tcpdump.err"
  ip netns exec otwen-plc tcpdump -i eth0 -s 0 -U --immediate-mode -Z root -w "$WORK/cap.pcap" \
    2>"$WORK/tcpdump.err" &
  TCPDUMP_PID=$!
  for _ in $(seq 500); do
    grep -q "listening on" "$WORK/tcpdump.err" && break
    sleep 0.01
  done
  grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }
  FRAMES_BEFORE=$(frames_on_plc)
}

capture_stop() {  # NAME
  local crossed got
  sleep 1
  crossed=$(( $(frames_on_plc) - FRAMES_BEFORE ))
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  got=$(tcpdump -r "$WORK/cap.pcap" 2>/dev/null | wc -l)
  if [ "$got" != "$crossed" ]; then
    echo "record_enip.sh: $1: $crossed frames crossed the controller's eth0, $got captured" >&2
    return 1
  fi
  mkdir -p "$OUT"
  mv "$WORK/cap.pcap" "$OUT/$1.pcap"
  chmod 644 "$OUT/$1.pcap"
  echo "record_enip.sh: wrote $OUT/$1.pcap ($(stat -c %s "$OUT/$1.pcap") bytes, $got frames)"
}

# run NAME HOST COUNT REGEX CMD... : run CMD in otwen-HOST, bounded; exactly COUNT lines of its
# output must match REGEX (extended), or the recording fails.
run() {
  local name=$1 host=$2 count=$3 expect=$4 rc=0 got
  shift 4
  echo "+ [$host] $*"
  timeout -k 5 "$RUN_TIMEOUT" ip netns exec "otwen-$host" "$@" >"$WORK/run.out" 2>&1 || rc=$?
  cat "$WORK/run.out"
  if [ "$rc" != 0 ]; then
    echo "---- server log ----" >&2; cat "$WORK/server.log" >&2
    echo "record_enip.sh: $name: $1 failed (rc=$rc)" >&2; exit 1
  fi
  got=$(grep -Ec -- "$expect" "$WORK/run.out" || true)
  [ "$got" = "$count" ] || {
    echo "record_enip.sh: $name: $got output lines match /$expect/, expected $count" >&2; exit 1; }
}

# nmap: no DNS (-n), no host discovery (-Pn), one port; -sT kernel connect() scan, -sU UDP scan
# from a fixed source port (-g; nmap picks its raw probes' port itself, and may pick one below
# 44818: see the port range above).
NMAP=(nmap -n -Pn -p "$PORT" --script enip-info)
NMAP_UDP_SPORT=50066
PLC=${IP[plc]}

record() {
  local n=$1
  case "$n" in
    enip_pycomm3_cpppo)
      start_server; capture_start
      run "$n" hmi 1 "^enip session: [0-9]+ steps ok$" "$PY" "$DIR/enip_client.py" session "$PLC" "$PORT" ;;
    enip_cpppo_polling)
      start_server; capture_start
      run "$n" hmi 1 "^enip poller: $((POLLS + 1)) steps ok$" \
        "$PY" "$DIR/enip_client.py" poller "$PLC" "$PORT" --polls "$POLLS" --interval 0.1 ;;
    recon_nmap_enip_info)
      start_server; capture_start
      run "$n" scan 1 "productName: 1756-L61/B LOGIX5561" "${NMAP[@]}" -sT "$PLC"
      grep -Eq "^$PORT/tcp +open " "$WORK/run.out" || { echo "record_enip.sh: $n: tcp/$PORT not open" >&2; exit 1; }
      run "$n" scan 1 "productName: 1756-L61/B LOGIX5561" "${NMAP[@]}" -sU -g "$NMAP_UDP_SPORT" "$PLC"
      grep -Eq "^$PORT/udp +open " "$WORK/run.out" || { echo "record_enip.sh: $n: udp/$PORT not open" >&2; exit 1; } ;;
    *) echo "record_enip.sh: unknown capture $n" >&2; exit 2 ;;
  esac
  local rc=0
  capture_stop "$n" || rc=$?
  stop_server
  return "$rc"
}

ALL=(enip_pycomm3_cpppo enip_cpppo_polling recon_nmap_enip_info)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
for n in "${NAMES[@]}"; do
  case "$n" in
    recon_*) command -v nmap >/dev/null ||
               { echo "record_enip.sh: nmap missing (tests/peers/install.sh --recon)" >&2; exit 2; }
             nmap --version | head -1 ;;
  esac
done
"$PY" -c 'import cpppo, pycomm3; print("peers: cpppo", cpppo.__version__, "| pycomm3", pycomm3.__version__)'
net_up
for n in "${NAMES[@]}"; do
  for try in 1 2 3; do
    echo "== $n (try $try)"
    if record "$n"; then break; fi
    [ "$try" = 3 ] && { echo "record_enip.sh: $n: no exact capture in 3 tries" >&2; exit 1; }
  done
done
files=()
for n in "${NAMES[@]}"; do files+=("$OUT/$n.pcap"); done
"$DIR/check_pcaps.sh" "${files[@]}"
