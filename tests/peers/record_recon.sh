#!/usr/bin/env bash
# Record real reconnaissance tools (Debian's nmap and its ICS NSE scripts, PyPI's
# modbus-device-scanner and modscanner) scanning the real protocol peers (pymodbus,
# python-snap7), for the recon/scan rules' tests. Needs root.
#
#   tests/peers/record_recon.sh [NAME ...]    # default: all; NAME = file name without .pcap
#
# Private network of namespaces (prefix "otwrc", separate from netns.sh's "otwpr"):
#
#   ns otwrc-scan  eth0 10.200.7.66  (the scanner; nothing else runs there)
#   ns otwrc-t10   eth0 10.200.7.10  (target; also the single target of the one-host scans;
#                                     the vertical scan's host runs S7, Modbus and DNP3 servers)
#   ns otwrc-t11 .. otwrc-t14        10.200.7.11 .. 10.200.7.14 (targets of the horizontal scans)
#   ns otwrc-t15   eth0 10.200.7.15  (a live host with nothing listening: SYN -> RST)
#   MAC of each: 02:00:0a:c8:07:XX, XX = last octet in hex.
#
# All veths hang off one host bridge otwrcbr0 (no IP, IPv6 and offloads off). tcpdump writes
# every frame to and from the scanner, on its host-side veth otwrcscan0 (no filter; nothing but
# the scan is on it), and the recording fails unless it holds every frame that crossed that
# veth. Before each capture the neighbour caches are flushed, so every file starts with the
# scanner's ARP. Each recording starts its servers, captures, runs the scanner with `timeout`,
# checks the scanner's report (so a peer or tool that changes behaviour fails the recording),
# stops the servers. Everything is removed on exit, even on failure. Then
# tests/peers/check_pcaps.sh checks the files.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
OUT="${OUT:-$ROOT/pcaps}"
PY="${PYTHON:-python3}"
SCAN_TIMEOUT="${SCAN_TIMEOUT:-180}"   # seconds, for one scanner run
# modscanner lives in a venv of its own (tests/peers/install.sh --recon): it needs an older pymodbus.
MODSCANNER="${MODSCANNER:-${MODSCANNER_VENV:-/opt/otwatch-peers/modscanner}/bin/modscanner}"
[ "$(id -u)" = 0 ] || { echo "record_recon.sh: must run as root" >&2; exit 2; }
command -v nmap >/dev/null || { echo "record_recon.sh: nmap missing (tests/peers/install.sh --recon)" >&2; exit 2; }
[ -x "$MODSCANNER" ] || { echo "record_recon.sh: $MODSCANNER missing (tests/peers/install.sh --recon)" >&2; exit 2; }

NET=10.200.7
SCAN_IP=$NET.66
HOSTS=(scan t10 t11 t12 t13 t14 t15)
declare -A IP=([scan]=$SCAN_IP)
for n in 10 11 12 13 14 15; do IP[t$n]=$NET.$n; done
BR=otwrcbr0

exec 9>/run/otwrc-recon.lock
flock -w 120 9 || { echo "record_recon.sh: another recording holds /run/otwrc-recon.lock" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otwrc.XXXXXX)"
SERVER_PIDS=()
TCPDUMP_PID=""

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}

cleanup() {
  local rc=$?
  set +e
  stop_servers
  if [ -n "$TCPDUMP_PID" ]; then kill -INT "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; fi
  for h in "${HOSTS[@]}"; do
    # anything still running inside our namespaces (only ours: by namespace)
    for pid in $(ip netns pids "otwrc-$h" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip link del "otwrc${h}0" 2>/dev/null
    ip netns del "otwrc-$h" 2>/dev/null
  done
  ip link del "$BR" 2>/dev/null
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

net_up() {
  local h ns last
  for h in "${HOSTS[@]}"; do   # leftovers of an earlier killed run
    ip link del "otwrc${h}0" 2>/dev/null || true
    ip netns del "otwrc-$h" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  ip link add "$BR" type bridge stp_state 0 forward_delay 0
  echo 1 > "/proc/sys/net/ipv6/conf/$BR/disable_ipv6"
  ip link set "$BR" up
  for h in "${HOSTS[@]}"; do
    ns="otwrc-$h"
    last=${IP[$h]##*.}
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip link add "otwrc${h}0" type veth peer name "otwrc${h}1"
    echo 1 > "/proc/sys/net/ipv6/conf/otwrc${h}0/disable_ipv6"
    ip link set "otwrc${h}1" netns "$ns"
    ip netns exec "$ns" ip link set "otwrc${h}1" name eth0
    ip netns exec "$ns" ip link set eth0 address "$(printf '02:00:0a:c8:07:%02x' "$last")"
    ip netns exec "$ns" ip addr add "${IP[$h]}/24" dev eth0
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set eth0 up
    if command -v ethtool >/dev/null; then
      ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
      ethtool -K "otwrc${h}0" tso off gso off gro off >/dev/null 2>&1 || true
    fi
    ip link set "otwrc${h}0" master "$BR"
    ip link set "otwrc${h}0" up
  done
}

# start_servers modbus|s7|dnp3 HOST... : one server of that kind per target namespace, on its
# own address.
start_servers() {
  local kind=$1 h port cmd i
  shift
  case "$kind" in
    modbus) port=502 ;;
    s7) port=102 ;;
    dnp3) port=20000 ;;
  esac
  for h in "$@"; do
    case "$kind" in
      modbus) cmd=("$PY" "$DIR/modbus_server.py" "${IP[$h]}" 502 --identity normal) ;;
      s7) cmd=("$PY" "$DIR/s7_server.py" "${IP[$h]}" 102) ;;
      dnp3) cmd=("$PY" "$DIR/dnp3_outstation.py" "${IP[$h]}" 20000) ;;
    esac
    ip netns exec "otwrc-$h" "${cmd[@]}" >"$WORK/server-$kind-$h.log" 2>&1 &
    SERVER_PIDS+=($!)
  done
  for h in "$@"; do
    for i in $(seq 200); do
      ip netns exec "otwrc-$h" ss -Hltn "sport = :$port" | grep -q LISTEN && break
      sleep 0.05
    done
    ip netns exec "otwrc-$h" ss -Hltn "sport = :$port" | grep -q LISTEN || {
      cat "$WORK/server-$kind-$h.log" >&2; echo "record_recon.sh: $kind server on ${IP[$h]} never listened" >&2; exit 1; }
  done
}

# Every frame of a scan goes to or comes from the scanner, so the capture is on the scanner's
# host-side veth. (On the bridge itself, frames went missing from bursts of parallel
# connections.) The veth's own counters say how many frames crossed it: the capture must hold
# exactly that many.
CAPIF=otwrcscan0
frames_on_capif() {
  echo $(( $(cat /sys/class/net/$CAPIF/statistics/rx_packets) + $(cat /sys/class/net/$CAPIF/statistics/tx_packets) ))
}

capture_start() {
  local h
  for h in "${HOSTS[@]}"; do ip netns exec "otwrc-$h" ip neigh flush all; done
  : >"$WORK/tcpdump.err"
  # --immediate-mode hands every frame to tcpdump at once; without it libpcap's ring returns a
  # block of frames only when the block fills or times out (1 s), and a SIGINT sooner loses them.
  tcpdump -i "$CAPIF" -s 0 -U --immediate-mode -Z root -w "$WORK/cap.pcap" 2>"$WORK/tcpdump.err" &
  TCPDUMP_PID=$!
  for _ in $(seq 500); do
    grep -q "listening on" "$WORK/tcpdump.err" && break
    sleep 0.01
  done
  grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }
  FRAMES_BEFORE=$(frames_on_capif)
}

capture_stop() {  # NAME
  local crossed got
  sleep 1
  crossed=$(( $(frames_on_capif) - FRAMES_BEFORE ))
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  got=$(tcpdump -r "$WORK/cap.pcap" 2>/dev/null | wc -l)
  if [ "$got" != "$crossed" ]; then
    echo "record_recon.sh: $1: $crossed frames crossed $CAPIF, $got captured" >&2
    return 1
  fi
  mkdir -p "$OUT"
  mv "$WORK/cap.pcap" "$OUT/$1.pcap"
  chmod 644 "$OUT/$1.pcap"
  echo "record_recon.sh: wrote $OUT/$1.pcap ($(stat -c %s "$OUT/$1.pcap") bytes, $got frames)"
}

# scan NAME COUNT REGEX CMD... : run CMD in the scanner namespace, bounded; exactly COUNT
# lines of its report must match REGEX (extended), or the recording fails.
scan() {
  local name=$1 count=$2 expect=$3 rc=0 got
  shift 3
  echo "+ $*"
  timeout -k 5 "$SCAN_TIMEOUT" ip netns exec otwrc-scan "$@" >"$WORK/scan.out" 2>&1 || rc=$?
  cat "$WORK/scan.out"
  if [ "$rc" != 0 ]; then echo "record_recon.sh: $name: scanner failed (rc=$rc)" >&2; exit 1; fi
  got=$(grep -Ec -- "$expect" "$WORK/scan.out" || true)
  [ "$got" = "$count" ] || {
    echo "record_recon.sh: $name: $got report lines match /$expect/, expected $count" >&2; exit 1; }
}

# nmap: no DNS (-n), no host discovery (-Pn), kernel connect() scan (-sT), one port.
NMAP=(nmap -n -Pn -sT)
ONE=${IP[t10]}
RANGE=$NET.10-15
FIVE=(t10 t11 t12 t13 t14)
# Well-known ICS ports: S7/ISO-TSAP, Modbus, Red Lion Crimson, Fox, PCWorx, IEC 104, CODESYS,
# OPC UA, Melsec, OMRON FINS, GE SRTP, DNP3, BACnet, EtherNet/IP.
ICS_PORTS=102,502,789,1911,1962,2404,2455,4840,5007,9600,18245,20000,47808,44818

record() {
  local n=$1
  case "$n" in
    recon_nmap_s7info)
      start_servers s7 t10; capture_start
      scan "$n" 1 "Module: 6ES7 315-2EH14-0AB0" "${NMAP[@]}" -p 102 --script s7-info "$ONE" ;;
    recon_nmap_modbus_discover)
      start_servers modbus t10; capture_start
      scan "$n" 1 "Device identification: otwatch-test-vendor OTW-PLC-1 1.2.3" \
        "${NMAP[@]}" -p 502 --script modbus-discover "$ONE" ;;
    recon_nmap_modbus_discover_aggressive)
      # The pymodbus peer answers every unit id, so the script's sweep runs to its end (246).
      start_servers modbus t10; capture_start
      scan "$n" 246 "Device identification: otwatch-test-vendor OTW-PLC-1 1.2.3" \
        "${NMAP[@]}" -p 502 --script modbus-discover --script-args modbus-discover.aggressive=true "$ONE" ;;
    recon_nmap_horizontal_modbus)
      start_servers modbus "${FIVE[@]}"; capture_start
      scan "$n" 5 "Device identification: otwatch-test-vendor OTW-PLC-1 1.2.3" \
        "${NMAP[@]}" -p 502 --script modbus-discover "$RANGE" ;;
    recon_nmap_horizontal_s7)
      start_servers s7 "${FIVE[@]}"; capture_start
      scan "$n" 5 "Module: 6ES7 315-2EH14-0AB0" "${NMAP[@]}" -p 102 --script s7-info "$RANGE" ;;
    recon_modbus_device_scanner)
      # hosts of 10.200.7.8/29: .9 (no such host), .10 .. .14 (servers); one worker: in order
      start_servers modbus "${FIVE[@]}"; capture_start
      scan "$n" 5 "^\[\+\] Modbus Device: " \
        "$PY" -m modbus_device_scanner.modbus_device_scanner --subnet "$NET.8/29" --workers 1 --timeout 1 ;;
    recon_modbus_modscanner_holding)
      # holding registers 0..199 in blocks of 50; the peer has 0..99, so the tool splits the
      # refused blocks down to single addresses
      start_servers modbus t10; capture_start
      scan "$n" 1 "^Successful: 100 [|] Failed: 100$" "$MODSCANNER" scan holding --host "$ONE" \
        --start 0 --count 200 --block-size 50 --timeout 1 ;;
    recon_nmap_vertical_modbus_s7)
      # one host serving S7comm, Modbus and DNP3; nmap connects to 14 ICS ports in numeric
      # order (-r) and runs both scripts on the ports they match
      start_servers s7 t10; start_servers modbus t10; start_servers dnp3 t10; capture_start
      scan "$n" 3 "^(102|502|20000)/tcp +open " "${NMAP[@]}" -r -p "$ICS_PORTS" \
        --script s7-info,modbus-discover "$ONE" ;;
    *) echo "record_recon.sh: unknown capture $n" >&2; exit 2 ;;
  esac
  local rc=0
  capture_stop "$n" || rc=$?
  stop_servers
  return "$rc"
}

ALL=(recon_nmap_s7info recon_nmap_modbus_discover recon_nmap_modbus_discover_aggressive
  recon_nmap_horizontal_modbus recon_nmap_horizontal_s7 recon_modbus_device_scanner
  recon_modbus_modscanner_holding recon_nmap_vertical_modbus_s7)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
nmap --version | head -1
net_up
for n in "${NAMES[@]}"; do
  # A capture whose frame count disagrees with the veth's is recorded again (at most 3 tries).
  for try in 1 2 3; do
    echo "== $n (try $try)"
    if record "$n"; then break; fi
    [ "$try" = 3 ] && { echo "record_recon.sh: $n: no exact capture in 3 tries" >&2; exit 1; }
  done
done
files=()
for n in "${NAMES[@]}"; do files+=("$OUT/$n.pcap"); done
"$DIR/check_pcaps.sh" "${files[@]}"
