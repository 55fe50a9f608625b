#!/usr/bin/env bash
# Re-record every capture in pcaps/ from real protocol stacks (pymodbus, python-snap7,
# dnp3py), each in a private network of namespaces made by netns.sh, the EtherNet/IP ones
# (cpppo, pycomm3) through tests/peers/record_enip.sh and the IEC 104 ones (c104) through
# tests/peers/record_iec104.sh. Needs root.
#
#   tests/peers/record_all.sh [NAME ...]     # default: all; NAME = file name without .pcap
#
# Then checks every capture with tshark (tests/peers/check_pcaps.sh).
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
OUT="${OUT:-$ROOT/pcaps}"
PY="${PYTHON:-python3}"
NETNS="$DIR/netns.sh"
mkdir -p "$OUT"

modbus() {  # name, server identity, master scenario, [rogue scenario]
  local name=$1 identity=$2 scenario=$3 rogue=${4:-}
  local args=(--pcap "$OUT/$name.pcap" --port 502
    --server "exec $PY $DIR/modbus_server.py \$PLC_IP \$PORT --identity $identity"
    --master "exec $PY $DIR/modbus_client.py $scenario \$PLC_IP \$PORT")
  [ -n "$rogue" ] && args+=(--rogue "exec $PY $DIR/modbus_client.py $rogue \$PLC_IP \$PORT" --rogue-delay 0.7)
  "$NETNS" "${args[@]}"
}

s7() {  # name, client scenario
  "$NETNS" --pcap "$OUT/$1.pcap" --port 102 \
    --server "exec $PY $DIR/s7_server.py \$PLC_IP \$PORT" \
    --master "exec $PY $DIR/s7_client.py $2 \$PLC_IP \$PORT"
}

dnp3() {  # name, master scenario
  "$NETNS" --pcap "$OUT/$1.pcap" --port 20000 \
    --server "exec $PY $DIR/dnp3_outstation.py \$PLC_IP \$PORT" \
    --master "exec $PY $DIR/dnp3_master.py $2 \$PLC_IP \$PORT"
}

enip() {  # name: record_enip.sh makes its own network (and checks the file itself)
  OUT="$OUT" PYTHON="$PY" "$DIR/record_enip.sh" "$1"
}

iec104() {  # name: record_iec104.sh makes its own network (and checks the file itself)
  OUT="$OUT" PYTHON="$PY" "$DIR/record_iec104.sh" "$1"
}

record() {
  case "$1" in
    modbus_pymodbus_polling)      modbus "$1" normal polling ;;
    modbus_attack_diagnostics)    modbus "$1" normal diagnostics ;;
    modbus_attack_recon)          modbus "$1" normal recon ;;
    modbus_attack_rogue_write)    modbus "$1" normal rogue-master rogue-writer ;;
    modbus_attack_umas)           modbus "$1" normal umas ;;
    modbus_devid_xss)             modbus "$1" xss polling ;;
    s7comm_snap7)                 s7 "$1" normal ;;
    s7comm_attack_stop_start)     s7 "$1" stop-start ;;
    dnp3_dnp3py)                  dnp3 "$1" normal ;;
    dnp3_attack_restart)          dnp3 "$1" restart ;;
    enip_pycomm3_cpppo)           enip "$1" ;;
    enip_cpppo_polling)           enip "$1" ;;
    iec104_c104_control|iec104_c104_polling|iec104_attack_rogue) iec104 "$1" ;;
    *) echo "record_all.sh: unknown capture $1" >&2; return 2 ;;
  esac
}

ALL=(modbus_pymodbus_polling modbus_attack_diagnostics modbus_attack_recon
  modbus_attack_rogue_write modbus_attack_umas modbus_devid_xss
  s7comm_snap7 s7comm_attack_stop_start dnp3_dnp3py dnp3_attack_restart
  enip_pycomm3_cpppo enip_cpppo_polling
  iec104_c104_control iec104_c104_polling iec104_attack_rogue)
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] && NAMES=("${ALL[@]}")
for n in "${NAMES[@]}"; do
  echo "== $n"
  record "$n"
done
files=()
for n in "${NAMES[@]}"; do files+=("$OUT/$n.pcap"); done
"$DIR/check_pcaps.sh" "${files[@]}"
# The demo plant (pcaps/demo.pcap) is derived from the captures just made.
python3 "$DIR/make_demo.py"
