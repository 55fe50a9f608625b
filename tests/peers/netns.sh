#!/usr/bin/env bash
# Private test network for recording real protocol peers.
#
#   netns.sh --pcap OUT.pcap --port PORT --server CMD --master CMD [--rogue CMD] [--rogue-delay S]
#
# Topology (all names are unique to this harness, prefix "otwpr"):
#
#   ns otwpr-plc    eth0 10.200.7.10/24  (server, listens on PORT)
#   ns otwpr-master eth0 10.200.7.20/24  (normal master / client)
#   ns otwpr-rogue  eth0 10.200.7.30/24  (second client, "unlisted host")
#        |                |                  |
#     otwprplc0       otwprmst0          otwprrog0     (host-side veth ends)
#        +----------- bridge otwprbr0 -------+          (no IP: the host takes no part)
#
# tcpdump captures on the bridge (snaplen full, -U) with filter "tcp port PORT or arp",
# so the capture holds only the traffic between the three namespaces.
# CMD strings run with bash -c inside their namespace; they see PLC_IP, MASTER_IP,
# ROGUE_IP and PORT in the environment. The master and rogue commands run concurrently
# (rogue after --rogue-delay seconds); the server is stopped (SIGTERM) after they exit.
# Everything (processes, namespaces, veths, bridge) is removed on exit, even on failure.
set -euo pipefail

PCAP="" PORT="" SERVER="" MASTER="" ROGUE="" ROGUE_DELAY="0.5"
while [ $# -gt 0 ]; do
  case "$1" in
    --pcap) PCAP="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --server) SERVER="$2"; shift 2 ;;
    --master) MASTER="$2"; shift 2 ;;
    --rogue) ROGUE="$2"; shift 2 ;;
    --rogue-delay) ROGUE_DELAY="$2"; shift 2 ;;
    *) echo "netns.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$PCAP" ] && [ -n "$PORT" ] && [ -n "$SERVER" ] && [ -n "$MASTER" ] || {
  echo "usage: netns.sh --pcap OUT --port PORT --server CMD --master CMD [--rogue CMD]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "netns.sh: must run as root" >&2; exit 2; }

export PLC_IP=10.200.7.10 MASTER_IP=10.200.7.20 ROGUE_IP=10.200.7.30 PORT
BR=otwprbr0
NAMES=(plc master rogue)
declare -A HOSTIF=([plc]=otwprplc0 [master]=otwprmst0 [rogue]=otwprrog0)
declare -A NSIF=([plc]=otwprplc1 [master]=otwprmst1 [rogue]=otwprrog1)
declare -A IP=([plc]=$PLC_IP [master]=$MASTER_IP [rogue]=$ROGUE_IP)
declare -A MAC=([plc]=02:00:0a:c8:07:0a [master]=02:00:0a:c8:07:14 [rogue]=02:00:0a:c8:07:1e)

# One recording at a time on this machine (the names are fixed).
exec 9>/run/otwpr-netns.lock
flock -w 120 9 || { echo "netns.sh: another recording holds /run/otwpr-netns.lock" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otwpr.XXXXXX)"
PIDS=()
TCPDUMP_PID=""

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  sleep 0.2
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
    kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null
  fi
  for n in "${NAMES[@]}"; do
    # kill anything still running inside our namespaces (only ours: by namespace)
    for pid in $(ip netns pids "otwpr-$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip link del "${HOSTIF[$n]}" 2>/dev/null
    ip netns del "otwpr-$n" 2>/dev/null
  done
  ip link del "$BR" 2>/dev/null
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Leftovers of an earlier killed run.
for n in "${NAMES[@]}"; do
  ip link del "${HOSTIF[$n]}" 2>/dev/null || true
  ip netns del "otwpr-$n" 2>/dev/null || true
done
ip link del "$BR" 2>/dev/null || true

ip link add "$BR" type bridge stp_state 0 forward_delay 0
echo 1 > "/proc/sys/net/ipv6/conf/$BR/disable_ipv6"
ip link set "$BR" up
for n in "${NAMES[@]}"; do
  ns="otwpr-$n"
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip link add "${HOSTIF[$n]}" type veth peer name "${NSIF[$n]}"
  echo 1 > "/proc/sys/net/ipv6/conf/${HOSTIF[$n]}/disable_ipv6"
  ip link set "${NSIF[$n]}" netns "$ns"
  ip netns exec "$ns" ip link set "${NSIF[$n]}" name eth0
  ip netns exec "$ns" ip link set eth0 address "${MAC[$n]}"
  ip netns exec "$ns" ip addr add "${IP[$n]}/24" dev eth0
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set eth0 up
  # No offloads: every captured frame is a real on-the-wire frame (<= MTU).
  if command -v ethtool >/dev/null; then
    ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
    ethtool -K "${HOSTIF[$n]}" tso off gso off gro off >/dev/null 2>&1 || true
  fi
  ip link set "${HOSTIF[$n]}" master "$BR"
  ip link set "${HOSTIF[$n]}" up
done

# Capture: full frames, packet-buffered, only our protocol port and ARP.
mkdir -p "$(dirname "$PCAP")"
tcpdump -i "$BR" -s 0 -U -Z root -w "$WORK/cap.pcap" "tcp port $PORT or arp" 2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 100); do
  grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break
  sleep 0.05
done
grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }

# Server.
ip netns exec otwpr-plc bash -c "$SERVER" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 200); do
  ip netns exec otwpr-plc ss -Hltn "sport = :$PORT" | grep -q LISTEN && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "netns.sh: server died" >&2; exit 1; }
  sleep 0.05
done
ip netns exec otwpr-plc ss -Hltn "sport = :$PORT" | grep -q LISTEN || {
  cat "$WORK/server.log" >&2; echo "netns.sh: server never listened on $PORT" >&2; exit 1; }

# Clients.
ip netns exec otwpr-master bash -c "$MASTER" &
MASTER_PID=$!
PIDS+=("$MASTER_PID")
ROGUE_PID=""
if [ -n "$ROGUE" ]; then
  sleep "$ROGUE_DELAY"
  ip netns exec otwpr-rogue bash -c "$ROGUE" &
  ROGUE_PID=$!
  PIDS+=("$ROGUE_PID")
fi
RC=0
wait "$MASTER_PID" || RC=$?
if [ -n "$ROGUE_PID" ]; then wait "$ROGUE_PID" || RC=$?; fi

sleep 0.5
kill -TERM "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
sleep 0.3
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""
if [ "$RC" != 0 ]; then
  echo "---- server log ----" >&2; cat "$WORK/server.log" >&2
  echo "netns.sh: client failed (rc=$RC); capture not written" >&2
  exit "$RC"
fi
mv "$WORK/cap.pcap" "$PCAP"
chmod 644 "$PCAP"
echo "netns.sh: wrote $PCAP ($(stat -c %s "$PCAP") bytes)"
