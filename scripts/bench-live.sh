#!/usr/bin/env bash
# Live-capture benchmark (not a test): replays a large capture into a veth pair with
# tcpreplay at increasing rates while `otwatch sensor` listens on the other end, and
# prints, per rate, what was sent, what the interface received, what the sensor
# processed, the kernel's drops and the sensor's packets/s; then the highest rate
# with zero drops.
#
#   sudo scripts/bench-live.sh [options]
#     --workers N        sensor workers (default 2)
#     --backend NAME     afpacket (default) or libpcap (builds with --features libpcap)
#     --rates "R1 R2.."  packets/s to try, ascending (default "50000 100000 200000 300000
#                        400000 600000 800000 top"; "top" = tcpreplay --topspeed)
#     --seconds S        seconds of traffic per rate (default 4)
#     --pcap FILE        capture to replay (default: a generated one, see below)
#     --ring-blocks N    AF_PACKET ring blocks per worker (default 32 x 1 MiB)
#     --eve FILE         also write every event as EVE JSON to FILE (default: rules only)
#
# The default capture is generated once into target/bench-live/modbus-1024.pcap:
# 1024 long-lived Modbus/TCP sessions (handshake, then read-holding-registers
# request, response and ACK per transaction), ~1.2 M frames of 60-80 bytes.
# Needs root, iproute2 and tcpreplay (tests/peers/install.sh installs it).
# Everything is made in a namespace `otwbench-src` and a veth `otwbench0` and removed
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

WORKERS=2 BACKEND=afpacket SECONDS_PER_RATE=4 PCAP="" RING_BLOCKS=32 EVE_ARGS=()
RATES="50000 100000 200000 300000 400000 600000 800000 top"
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS="$2"; shift 2 ;;
    --backend) BACKEND="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    --seconds) SECONDS_PER_RATE="$2"; shift 2 ;;
    --pcap) PCAP="$2"; shift 2 ;;
    --ring-blocks) RING_BLOCKS="$2"; shift 2 ;;
    --eve) EVE_ARGS=(--eve "$2"); shift 2 ;;
    *) echo "bench-live.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench-live.sh: must run as root" >&2; exit 2; }
command -v tcpreplay >/dev/null || { echo "bench-live.sh: tcpreplay missing (apt-get install tcpreplay)" >&2; exit 2; }

FEATURES=()
[ "$BACKEND" = libpcap ] && FEATURES=(--features libpcap)
cargo build --release --quiet "${FEATURES[@]}"
OTWATCH="$ROOT/target/release/otwatch"
OUT="$ROOT/target/bench-live"
mkdir -p "$OUT"

if [ -z "$PCAP" ]; then
  PCAP="$OUT/modbus-1024.pcap"
  if [ ! -s "$PCAP" ]; then
    echo "generating $PCAP ..."
    python3 - "$PCAP" <<'PY'
import struct, sys
# 1024 sessions x 400 transactions x 3 frames (+ handshakes), Ethernet/IPv4/TCP,
# checksums zero (tcpreplay and otwatch do not check them).
path = sys.argv[1]
SESSIONS, TX = 1024, 400
out = open(path, "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
ts = [1_700_000_000, 0]
def rec(frame):
    ts[1] += 2
    if ts[1] >= 1_000_000:
        ts[0] += 1; ts[1] -= 1_000_000
    out.write(struct.pack("<IIII", ts[0], ts[1], len(frame), len(frame)))
    out.write(frame)
def mac(n): return bytes([2, 0, 0, 0, n >> 8 & 255, n & 255])
def frame(smac, dmac, sip, dip, sport, dport, seq, ack, flags, payload):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, sip, dip)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)
    f = dmac + smac + b"\x08\x00" + ip + tcp + payload
    return f + b"\0" * max(0, 60 - len(f))
sess = []
for i in range(SESSIONS):
    c = bytes([10, 99, 1 + i // 250, 1 + i % 250]); s = bytes([10, 99, 200, 1 + i % 8])
    sess.append([mac(i), mac(60000 + i % 8), c, s, 20000 + i, 1000 * i, 5000 * i, 0])
for m in sess:  # handshakes
    cm, sm, c, s, port, cs, ss, _ = m
    rec(frame(cm, sm, c, s, port, 502, cs, 0, 0x02, b""))
    rec(frame(sm, cm, s, c, 502, port, ss, cs + 1, 0x12, b""))
    rec(frame(cm, sm, c, s, port, 502, cs + 1, ss + 1, 0x10, b""))
    m[5] += 1; m[6] += 1
for t in range(TX):
    for m in sess:
        cm, sm, c, s, port, cs, ss, tid = m
        req = struct.pack("!HHHBBHH", tid & 0xFFFF, 0, 6, 1, 3, 100, 2)
        rsp = struct.pack("!HHHBBBHH", tid & 0xFFFF, 0, 7, 1, 3, 4, 0x1234, 0x5678)
        rec(frame(cm, sm, c, s, port, 502, cs, ss, 0x18, req))
        rec(frame(sm, cm, s, c, 502, port, ss, cs + len(req), 0x18, rsp))
        rec(frame(cm, sm, c, s, port, 502, cs + len(req), ss + len(rsp), 0x10, b""))
        m[5] += len(req); m[6] += len(rsp); m[7] = tid + 1
out.close()
PY
  fi
fi
FRAMES=$(python3 -c 'import sys,struct
f=open(sys.argv[1],"rb"); f.read(24); n=0
while True:
    h=f.read(16)
    if len(h)<16: break
    f.seek(struct.unpack("<IIII",h)[2],1); n+=1
print(n)' "$PCAP")

NS=otwbench-src IF=otwbench0 PEER=otwbench1
SENSOR_PID=""
cleanup() {
  set +e
  [ -n "$SENSOR_PID" ] && kill -TERM "$SENSOR_PID" 2>/dev/null && wait "$SENSOR_PID" 2>/dev/null
  ip link del "$IF" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
cleanup
ip netns add "$NS"
ip link add "$IF" type veth peer name "$PEER" netns "$NS"
echo 1 > "/proc/sys/net/ipv6/conf/$IF/disable_ipv6"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS" link set "$PEER" up
ip link set "$IF" up
command -v ethtool >/dev/null && ethtool -K "$IF" gro off >/dev/null 2>&1 || true

rx() { cat "/sys/class/net/$IF/statistics/rx_packets"; }
printf '%s, %s workers, %s frames in %s\n' "$BACKEND" "$WORKERS" "$FRAMES" "$PCAP"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
printf '%-8s %10s %10s %10s %8s %8s %10s %10s %8s\n' rate sent if_rx captured k_drops missing sent_pps seen_pps cpu_s
echo "(sent_pps: tcpreplay's achieved rate; seen_pps: frames processed / replay time; cpu_s: sensor CPU seconds)"
BEST=""
for rate in $RATES; do
  if [ "$rate" = top ]; then
    RATE_ARGS=(--topspeed); LIMIT=$FRAMES
  else
    RATE_ARGS=(--pps="$rate"); LIMIT=$((rate * SECONDS_PER_RATE))
    [ "$LIMIT" -gt "$FRAMES" ] && LIMIT=$FRAMES
  fi
  LOG="$OUT/sensor-$rate.log"
  "$OTWATCH" sensor --iface "$IF" --workers "$WORKERS" --backend "$BACKEND" \
    --ring-blocks "$RING_BLOCKS" "${EVE_ARGS[@]}" 2>"$LOG" &
  SENSOR_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$LOG" && break; sleep 0.05; done
  grep -q "listening on" "$LOG" || { cat "$LOG" >&2; exit 1; }
  RX0=$(rx)
  CPU0=$(cpu_ticks "$SENSOR_PID")
  REPLAY=$(ip netns exec "$NS" tcpreplay -i "$PEER" --preload-pcap "${RATE_ARGS[@]}" --limit="$LIMIT" "$PCAP" 2>&1)
  sleep 1
  RX1=$(rx)
  CPU1=$(cpu_ticks "$SENSOR_PID")
  kill -TERM "$SENSOR_PID"; wait "$SENSOR_PID" || true
  SENSOR_PID=""
  SENT=$(sed -n 's/.*Successful packets: *\([0-9]*\).*/\1/p' <<<"$REPLAY" | head -1)
  SENT=${SENT:-0}
  CAPTURED=$(awk '/^packets /{print $2}' "$LOG")
  DROPS=$(sed -n 's/^kernel .* \([0-9]*\) dropped.*/\1/p' "$LOG")
  IFRX=$((RX1 - RX0))
  MISSING=$((SENT - CAPTURED))
  SECS=$(sed -n 's/.* sent in \([0-9.]*\) seconds.*/\1/p' <<<"$REPLAY" | head -1)
  SENT_PPS=$(sed -n 's/.*Rated: .*, \([0-9.]*\) pps.*/\1/p' <<<"$REPLAY" | head -1)
  SEEN_PPS=$(python3 -c "print(int($CAPTURED / max(1e-9, float('${SECS:-0}' or 0))))")
  CPU_S=$(python3 -c "print(round(($CPU1 - $CPU0) / $TCK, 2))")
  printf '%-8s %10s %10s %10s %8s %8s %10s %10s %8s\n' "$rate" "$SENT" "$IFRX" "$CAPTURED" "$DROPS" "$MISSING" "${SENT_PPS%.*}" "$SEEN_PPS" "$CPU_S"
  if [ "${DROPS:-1}" = 0 ] && [ "$MISSING" -le 0 ]; then
    BEST="$rate: ${SENT_PPS%.*} packets/s sent, $SEEN_PPS/s processed, sensor CPU $CPU_S s for $CAPTURED frames"
  fi
done
echo "highest rate with zero drops: ${BEST:-none}"
