#!/usr/bin/env bash
# Check captures with tshark: no malformed frames or expert errors, the protocol is
# present, and print per file what tshark decodes, counted per direction:
#   req = frames to the server port (TCP or UDP), rsp = frames from it.
# The printed counts are the ones quoted in pcaps/README.md.
#
#   tests/peers/check_pcaps.sh [FILE.pcap ...]        (default: pcaps/*.pcap)
#
# The protocol comes from the file name: modbus*, s7comm*, dnp3*, enip*, iec104*, and recon_*
# naming modbus, s7, enip or iec.
#
# Tolerated: in recon_*enip* files, nmap -sU's own UDP probe to 44818 (an ONC RPC CALL from
# nmap-payloads, xid 0x3eece3ca), which tshark decodes as a malformed EtherNet/IP command
# 0xec3e; such frames are counted apart and are not errors.
#
# Labels: modbus  fc=modbus.func_code exc=modbus.exception_code sub=modbus.diagnostic_code
#                 mei=modbus.mei devid=modbus.read_device_id
#         s7comm  rosctr=s7comm.header.rosctr func=s7comm.param.func
#                 grp=s7comm.param.userdata.funcgroup sub=s7comm.param.userdata.subfunc
#                 szl=s7comm.data.userdata.szl_id pi=s7comm.param.pistart.servicename
#         dnp3    fc=dnp3.al.func uns=dnp3.al.uns
#         enip    cmd=enip.command st=enip.status sc=cip.sc cls=cip.class gs=cip.genstat
#                 (a CIP message inside another, e.g. Unconnected Send or Multiple Service
#                 Packet, lists the outer then the inner values, comma-separated)
#         iec104  apci=iec60870_104.type (0 I, 1 S, 3 U) u=iec60870_104.utype
#                 type=iec60870_asdu.typeid cot=iec60870_asdu.causetx neg=iec60870_asdu.nega
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$ROOT"/pcaps/*.pcap)
fail=0
for f in "${files[@]}"; do
  b=$(basename "$f")
  tolerated=""
  case "$b" in
    recon_*enip*) tolerated="udp.dstport == 44818 && enip.command == 0xec3e" ;;
  esac
  case "$b" in
    modbus*|recon_*modbus*) proto=modbus; port=502
      labels=(fc exc sub mei devid)
      fields=(modbus.func_code modbus.exception_code modbus.diagnostic_code modbus.mei modbus.read_device_id) ;;
    s7comm*|recon_*s7*) proto=s7comm; port=102
      labels=(rosctr func grp sub szl pi)
      fields=(s7comm.header.rosctr s7comm.param.func s7comm.param.userdata.funcgroup s7comm.param.userdata.subfunc
              s7comm.data.userdata.szl_id s7comm.param.pistart.servicename) ;;
    dnp3*) proto=dnp3; port=20000
      labels=(fc uns)
      fields=(dnp3.al.func dnp3.al.uns) ;;
    enip*|recon_*enip*) proto=enip; port=44818
      labels=(cmd st sc cls gs)
      fields=(enip.command enip.status cip.sc cip.class cip.genstat) ;;
    iec104*|recon_*iec*) proto=iec60870_104; port=2404
      labels=(apci u type cot neg)
      fields=(iec60870_104.type iec60870_104.utype iec60870_asdu.typeid iec60870_asdu.causetx iec60870_asdu.nega) ;;
    *) echo "$b: unknown protocol" >&2; fail=1; continue ;;
  esac
  badf="_ws.malformed || _ws.expert.severity == error"
  tol=0 note=""
  if [ -n "$tolerated" ]; then
    tol=$(tshark -n -r "$f" -Y "($badf) && ($tolerated)" 2>/dev/null | wc -l)
    badf="($badf) && !($tolerated)"
    note=", $tol tolerated: nmap's UDP probe"
  fi
  bad=$(tshark -n -r "$f" -Y "$badf" 2>/dev/null | wc -l)
  frames=$(tshark -n -r "$f" 2>/dev/null | wc -l)
  pdus=$(tshark -n -r "$f" -Y "$proto" 2>/dev/null | wc -l)
  echo "### $b  ($(stat -c %s "$f") bytes, $frames frames, $pdus $proto frames, $bad malformed/error$note)"
  if [ "$bad" != 0 ] || [ "$pdus" = 0 ]; then fail=1; fi
  targs=()
  for fl in "${fields[@]}"; do targs+=(-e "$fl"); done
  tshark -n -r "$f" -Y "$proto" -T fields -E occurrence=a -E aggregator=, -e tcp.dstport -e udp.dstport \
      "${targs[@]}" 2>/dev/null \
    | awk -F'\t' -v port="$port" -v labels="${labels[*]}" '
        BEGIN { n = split(labels, L, " ") }
        { line = ($1 == port || $2 == port) ? "req" : "rsp"
          for (i = 1; i <= n; i++) if ($(i + 2) != "") line = line " " L[i] "=" $(i + 2)
          print line }' \
    | sort | uniq -c | sort -k2,2 -V -k3
done
exit $fail
