#!/usr/bin/env bash
# Check captures with tshark: no malformed frames or expert errors, the protocol is
# present, and print per file what tshark decodes, counted per direction:
#   req = frames to the server port, rsp = frames from it.
# The printed counts are the ones quoted in pcaps/README.md.
#
#   tests/peers/check_pcaps.sh [FILE.pcap ...]        (default: pcaps/*.pcap)
#
# The protocol comes from the file name: modbus*, s7comm*, dnp3*, and recon_* naming modbus or s7.
#
# Labels: modbus  fc=modbus.func_code exc=modbus.exception_code sub=modbus.diagnostic_code
#                 mei=modbus.mei devid=modbus.read_device_id
#         s7comm  rosctr=s7comm.header.rosctr func=s7comm.param.func
#                 grp=s7comm.param.userdata.funcgroup sub=s7comm.param.userdata.subfunc
#                 szl=s7comm.data.userdata.szl_id pi=s7comm.param.pistart.servicename
#         dnp3    fc=dnp3.al.func uns=dnp3.al.uns
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$ROOT"/pcaps/*.pcap)
fail=0
for f in "${files[@]}"; do
  b=$(basename "$f")
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
    *) echo "$b: unknown protocol" >&2; fail=1; continue ;;
  esac
  bad=$(tshark -n -r "$f" -Y "_ws.malformed || _ws.expert.severity == error" 2>/dev/null | wc -l)
  frames=$(tshark -n -r "$f" 2>/dev/null | wc -l)
  pdus=$(tshark -n -r "$f" -Y "$proto" 2>/dev/null | wc -l)
  echo "### $b  ($(stat -c %s "$f") bytes, $frames frames, $pdus $proto frames, $bad malformed/error)"
  if [ "$bad" != 0 ] || [ "$pdus" = 0 ]; then fail=1; fi
  targs=()
  for fl in "${fields[@]}"; do targs+=(-e "$fl"); done
  tshark -n -r "$f" -Y "$proto" -T fields -E occurrence=a -E aggregator=, -e tcp.dstport "${targs[@]}" 2>/dev/null \
    | awk -F'\t' -v port="$port" -v labels="${labels[*]}" '
        BEGIN { n = split(labels, L, " ") }
        { line = ($1 == port) ? "req" : "rsp"
          for (i = 1; i <= n; i++) if ($(i + 1) != "") line = line " " L[i] "=" $(i + 1)
          print line }' \
    | sort | uniq -c | sort -k2,2 -V -k3
done
exit $fail
