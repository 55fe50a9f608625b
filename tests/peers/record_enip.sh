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
# The client namespaces use ephemeral ports 50000-60999. The network, the exact captures and
# the cleanup are tests/peers/recordlib.sh's. Each file gets a fresh server (cpppo's session
# handles and connection ids then repeat, see enip_server.py). Every client step and both
# nmap reports are checked, so a peer that changes behaviour fails the recording. Then
# tests/peers/check_pcaps.sh checks the files.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
OUT="${OUT:-$ROOT/pcaps}"
PY="${PYTHON:-python3}"
POLLS="${POLLS:-30}"
[ "$(id -u)" = 0 ] || { echo "record_enip.sh: must run as root" >&2; exit 2; }

TAG=record_enip.sh
PFX=otwen
NET=10.200.8
PORT=44818
HOSTS=(plc hmi scan)
declare -A IP=([plc]=$NET.10 [hmi]=$NET.20 [scan]=$NET.66)
# Client ports above 44818: tshark decodes TCP/UDP by the lower port first, and an ephemeral
# port such as 34980 (EtherCAT over UDP) would take a frame from the enip dissector.
PORTLO=50000

exec 9>/run/otwen-enip.lock
flock -w 120 9 || { echo "record_enip.sh: another recording holds /run/otwen-enip.lock" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otwen.XXXXXX)"
# shellcheck source=tests/peers/recordlib.sh
. "$DIR/recordlib.sh"
trap rec_cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  ip netns exec otwen-plc "$PY" "$DIR/enip_server.py" "${IP[plc]}" "$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  rec_wait_listen tcp "$PORT"
  rec_wait_listen udp "$PORT"
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
      start_server; rec_capture_start
      rec_run "$n" hmi 1 "^enip session: [0-9]+ steps ok$" "$PY" "$DIR/enip_client.py" session "$PLC" "$PORT" ;;
    enip_cpppo_polling)
      start_server; rec_capture_start
      rec_run "$n" hmi 1 "^enip poller: $((POLLS + 1)) steps ok$" \
        "$PY" "$DIR/enip_client.py" poller "$PLC" "$PORT" --polls "$POLLS" --interval 0.1 ;;
    recon_nmap_enip_info)
      start_server; rec_capture_start
      rec_run "$n" scan 1 "productName: 1756-L61/B LOGIX5561" "${NMAP[@]}" -sT "$PLC"
      grep -Eq "^$PORT/tcp +open " "$WORK/run.out" || { echo "record_enip.sh: $n: tcp/$PORT not open" >&2; exit 1; }
      rec_run "$n" scan 1 "productName: 1756-L61/B LOGIX5561" "${NMAP[@]}" -sU -g "$NMAP_UDP_SPORT" "$PLC"
      grep -Eq "^$PORT/udp +open " "$WORK/run.out" || { echo "record_enip.sh: $n: udp/$PORT not open" >&2; exit 1; } ;;
    *) echo "record_enip.sh: unknown capture $n" >&2; exit 2 ;;
  esac
  local rc=0
  rec_capture_stop "$n" || rc=$?
  rec_stop_server
  return "$rc"
}

ALL=(enip_pycomm3_cpppo enip_cpppo_polling recon_nmap_enip_info)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
rec_require_nmap "${NAMES[@]}"
"$PY" -c 'import cpppo, pycomm3; print("peers: cpppo", cpppo.__version__, "| pycomm3", pycomm3.__version__)'
rec_record_all "${NAMES[@]}"
