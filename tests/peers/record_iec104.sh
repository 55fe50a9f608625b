#!/usr/bin/env bash
# Record real IEC 60870-5-104 peers: c104 (lib60870) controlling stations and Debian's nmap
# (`iec-identify` NSE script) against a c104 controlled station, for the IEC 104 decoder and
# rule tests. Needs root.
#
#   tests/peers/record_iec104.sh [NAME ...]    # default: all; NAME = file name without .pcap
#
#   iec104_c104_control        scada: iec104_client.py control (interrogations, clock sync,
#                              test, read, select/execute and direct commands, set points, a
#                              command to an unknown address)
#   iec104_c104_polling        scada: iec104_client.py poller (supervision only, SECONDS s)
#   iec104_attack_rogue        scada: poller for 6 s, then rogue: iec104_client.py rogue (a
#                              host that is not a control centre interrogates, sets the clock,
#                              opens the breaker and changes a set point)
#   recon_nmap_iec_identify    scan: nmap -sT -p 2404 --script iec-identify (needs
#                              `tests/peers/install.sh --recon` for nmap)
#
# Private network, made of namespaces only (prefix "otwie"; record_enip.sh uses "otwen" and
# 10.200.8.0/24, netns.sh and record_recon.sh "otwpr"/"otwrc" and 10.200.7.0/24):
#
#   ns otwie-rtu    eth0 10.200.9.10  (iec104_server.py: c104 station, common address 47)
#   ns otwie-scada  eth0 10.200.9.20  (the control centre)
#   ns otwie-rogue  eth0 10.200.9.30  (a host that is not a control centre)
#   ns otwie-scan   eth0 10.200.9.66  (nmap; nothing else runs there)
#   MAC of each: 02:00:0a:c8:09:XX, XX = last octet in hex.
#   ns otwie-sw     bridge br0 with one veth port per host; no IP.
#
# The network, the exact captures (on the station's eth0) and the cleanup are
# tests/peers/recordlib.sh's. Each file gets a fresh station. Every client step and the nmap
# report are checked, and tshark checks what the peers cannot report themselves (the negative
# confirmation of the unknown address). Then tests/peers/check_pcaps.sh checks the files.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
OUT="${OUT:-$ROOT/pcaps}"
PY="${PYTHON:-python3}"
SECONDS_POLL="${SECONDS_POLL:-12}"
[ "$(id -u)" = 0 ] || { echo "record_iec104.sh: must run as root" >&2; exit 2; }

TAG=record_iec104.sh
PFX=otwie
NET=10.200.9
PORT=2404
HOSTS=(rtu scada rogue scan)
declare -A IP=([rtu]=$NET.10 [scada]=$NET.20 [rogue]=$NET.30 [scan]=$NET.66)
PORTLO=50000

exec 9>/run/otwie-iec104.lock
flock -w 120 9 || { echo "$TAG: another recording holds /run/otwie-iec104.lock" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otwie.XXXXXX)"
# shellcheck source=tests/peers/recordlib.sh
. "$DIR/recordlib.sh"
trap rec_cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  ip netns exec otwie-rtu "$PY" "$DIR/iec104_server.py" "${IP[rtu]}" "$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  rec_wait_listen tcp "$PORT"
}

# tshark_has NAME FILTER: the capture holds at least one frame matching FILTER.
tshark_has() {
  local n
  n=$(tshark -r "$OUT/$1.pcap" -Y "$2" 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] || { echo "$TAG: $1: no frame matches $2" >&2; exit 1; }
}

RTU=${IP[rtu]}
CLIENT=("$PY" "$DIR/iec104_client.py")

record() {
  local n=$1
  case "$n" in
    iec104_c104_control)
      start_server; rec_capture_start
      rec_run "$n" scada 1 "^iec104 control: 16 steps ok$" "${CLIENT[@]}" control "$RTU" "$PORT" ;;
    iec104_c104_polling)
      start_server; rec_capture_start
      rec_run "$n" scada 1 "^iec104 poller: [0-9]+ steps ok$" \
        "${CLIENT[@]}" poller "$RTU" "$PORT" --seconds "$SECONDS_POLL" ;;
    iec104_attack_rogue)
      start_server; rec_capture_start
      rec_run "$n" scada 1 "^iec104 poller: [0-9]+ steps ok$" "${CLIENT[@]}" poller "$RTU" "$PORT" --seconds 6
      rec_run "$n" rogue 1 "^iec104 rogue: 9 steps ok$" "${CLIENT[@]}" rogue "$RTU" "$PORT" ;;
    recon_nmap_iec_identify)
      start_server; rec_capture_start
      rec_run "$n" scan 1 "^\|_?  *ASDU address: 47$" nmap -n -Pn -sT -p "$PORT" --script iec-identify "$RTU" ;;
    *) echo "$TAG: unknown capture $n" >&2; exit 2 ;;
  esac
  local rc=0
  rec_capture_stop "$n" || rc=$?
  rec_stop_server
  [ "$rc" = 0 ] || return "$rc"
  case "$n" in
    # the unknown address: negative activation confirmation, then cause 47 (unknown IOA)
    iec104_c104_control) tshark_has "$n" "iec60870_asdu.typeid == 45 && iec60870_asdu.causetx == 7 && iec60870_asdu.nega == 1"
                         tshark_has "$n" "iec60870_asdu.causetx == 47" ;;
  esac
}

ALL=(iec104_c104_control iec104_c104_polling iec104_attack_rogue recon_nmap_iec_identify)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
rec_require_nmap "${NAMES[@]}"
"$PY" -c 'import importlib.metadata as m; print("peers: c104", m.version("c104"))'
rec_record_all "${NAMES[@]}"
