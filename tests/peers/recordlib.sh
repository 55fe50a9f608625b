# Shared by the recording scripts (record_enip.sh, record_iec104.sh): a private network of
# namespaces, a server in one of them, exact captures on the server's eth0. Sourced, not run.
#
# The sourcing script sets, before sourcing:
#   TAG     its name, for messages ("record_enip.sh")
#   PFX     namespace prefix ("otwen"); the switch is "$PFX-sw", hosts "$PFX-<host>"
#   NET     the /24, three octets ("10.200.8"); MACs are 02:00:0a:c8:<3rd octet>:<last octet>
#   HOSTS   host names; the first one is the server (its eth0 is captured)
#   IP      associative array host -> address
#   PORTLO  the lowest ephemeral port of the client namespaces (tshark decodes by the lower
#           port first: clients must not use a port some dissector claims)
#   WORK    a private temporary directory (removed on exit)
# and defines record NAME (rec_capture_start, clients through rec_run, rec_capture_stop
# NAME), then calls rec_record_all with the names asked for. Servers are started by the script; it puts their pid in
# SERVER_PID and their output in $WORK/server.log so that rec_stop_server and rec_run's
# failure report find them.
#
# Nothing of it is in the host's own namespace: each veth pair is created with one end in the
# switch namespace (a bridge, no IP) and the other in its host's namespace. IPv6, offloads
# (TSO/GSO/GRO) and the bridge's multicast snooping are off. tcpdump runs inside the server's
# namespace on its eth0 (full frames, --immediate-mode, no filter), and a file is kept only
# when it holds exactly as many frames as eth0's counters saw. The neighbour caches are flushed
# before each capture, so each file starts with ARP. Everything is removed on exit, even on
# failure.

SERVER_PID=""
TCPDUMP_PID=""
RUN_TIMEOUT="${RUN_TIMEOUT:-120}"   # seconds, for one client or scanner run

rec_all_ns() {
  local h
  echo "$PFX-sw"
  for h in "${HOSTS[@]}"; do echo "$PFX-$h"; done
}

rec_stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  timeout 5 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

rec_cleanup() {
  local rc=$? ns pid
  set +e
  rec_stop_server
  if [ -n "$TCPDUMP_PID" ]; then kill -INT "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID" 2>/dev/null; fi
  for ns in $(rec_all_ns); do
    # anything still running inside our namespaces (only ours: by namespace)
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null   # takes its veth ends and the bridge with it
  done
  rm -rf "$WORK"
  exit "$rc"
}

rec_net_up() {
  local ns h last sw="$PFX-sw" octet="${NET##*.}"
  for ns in $(rec_all_ns); do ip netns del "$ns" 2>/dev/null || true; done   # an earlier killed run
  for ns in $(rec_all_ns); do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  # mcast_snooping 0: otherwise the bridge itself sends an IGMP report (224.0.0.106) into a capture
  ip -n "$sw" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$sw" link set br0 up
  for h in "${HOSTS[@]}"; do
    ns="$PFX-$h"
    last=${IP[$h]##*.}
    ip -n "$sw" link add "$h" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set eth0 address "$(printf '02:00:0a:c8:%02x:%02x' "$octet" "$last")"
    ip -n "$ns" addr add "${IP[$h]}/24" dev eth0
    if command -v ethtool >/dev/null; then
      ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
      ip netns exec "$sw" ethtool -K "$h" tso off gso off gro off >/dev/null 2>&1 || true
    fi
    [ "$h" = "${HOSTS[0]}" ] || ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="$PORTLO 60999"
    ip -n "$sw" link set "$h" master br0
    ip -n "$sw" link set "$h" up
    ip -n "$ns" link set eth0 up
  done
}

# The server's eth0 counters say how many frames it sent and received: the capture (on that
# eth0) must hold exactly that many.
rec_frames_on_server() {
  ip netns exec "$PFX-${HOSTS[0]}" sh -c 'echo $(( $(cat /sys/class/net/eth0/statistics/rx_packets) + $(cat /sys/class/net/eth0/statistics/tx_packets) ))'
}

rec_capture_start() {
  local h
  for h in "${HOSTS[@]}"; do ip -n "$PFX-$h" neigh flush all; done
  : >"$WORK/tcpdump.err"
  ip netns exec "$PFX-${HOSTS[0]}" tcpdump -i eth0 -s 0 -U --immediate-mode -Z root -w "$WORK/cap.pcap" \
    2>"$WORK/tcpdump.err" &
  TCPDUMP_PID=$!
  for _ in $(seq 500); do
    grep -q "listening on" "$WORK/tcpdump.err" && break
    sleep 0.01
  done
  grep -q "listening on" "$WORK/tcpdump.err" || { cat "$WORK/tcpdump.err" >&2; exit 1; }
  FRAMES_BEFORE=$(rec_frames_on_server)
}

rec_capture_stop() {  # NAME: moves the capture to $OUT/NAME.pcap, or returns 1
  local crossed got
  sleep 1
  crossed=$(( $(rec_frames_on_server) - FRAMES_BEFORE ))
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  got=$(tcpdump -r "$WORK/cap.pcap" 2>/dev/null | wc -l)
  if [ "$got" != "$crossed" ]; then
    echo "$TAG: $1: $crossed frames crossed the server's eth0, $got captured" >&2
    return 1
  fi
  mkdir -p "$OUT"
  mv "$WORK/cap.pcap" "$OUT/$1.pcap"
  chmod 644 "$OUT/$1.pcap"
  echo "$TAG: wrote $OUT/$1.pcap ($(stat -c %s "$OUT/$1.pcap") bytes, $got frames)"
}

# rec_run NAME HOST COUNT REGEX CMD... : run CMD in $PFX-HOST, bounded; exactly COUNT lines
# of its output must match REGEX (extended), or the recording fails.
rec_run() {
  local name=$1 host=$2 count=$3 expect=$4 rc=0 got
  shift 4
  echo "+ [$host] $*"
  timeout -k 5 "$RUN_TIMEOUT" ip netns exec "$PFX-$host" "$@" >"$WORK/run.out" 2>&1 || rc=$?
  cat "$WORK/run.out"
  if [ "$rc" != 0 ]; then
    echo "---- server log ----" >&2; cat "$WORK/server.log" >&2
    echo "$TAG: $name: $1 failed (rc=$rc)" >&2; exit 1
  fi
  got=$(grep -Ec -- "$expect" "$WORK/run.out" || true)
  [ "$got" = "$count" ] || {
    echo "$TAG: $name: $got output lines match /$expect/, expected $count" >&2; exit 1; }
}

# rec_wait_listen PROTO PORT: waits until the server listens (PROTO tcp or udp), or fails.
rec_wait_listen() {
  local i flag=-Hltn
  [ "$1" = udp ] && flag=-Hlun
  for i in $(seq 200); do
    ip netns exec "$PFX-${HOSTS[0]}" ss "$flag" "sport = :$2" | grep -q . && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$WORK/server.log" >&2
  echo "$TAG: the server on ${IP[${HOSTS[0]}]} never listened on $1 $2" >&2
  exit 1
}

# rec_require_nmap NAME...: nmap is needed (and its version printed) when a name is recon_*.
rec_require_nmap() {
  local n
  for n in "$@"; do
    case "$n" in
      recon_*) command -v nmap >/dev/null ||
                 { echo "$TAG: nmap missing (tests/peers/install.sh --recon)" >&2; exit 2; }
               nmap --version | head -1
               return ;;
    esac
  done
}

# rec_record_all NAME...: the network up, each name recorded by the script's record function
# (three tries for an exact capture), then every file checked.
rec_record_all() {
  local n try
  rec_net_up
  for n in "$@"; do
    for try in 1 2 3; do
      echo "== $n (try $try)"
      if record "$n"; then break; fi
      [ "$try" = 3 ] && { echo "$TAG: $n: no exact capture in 3 tries" >&2; exit 1; }
    done
  done
  rec_check "$@"
}

# rec_check NAME...: the recorded files, checked by check_pcaps.sh.
rec_check() {
  local files=() n
  for n in "$@"; do files+=("$OUT/$n.pcap"); done
  "$DIR/check_pcaps.sh" "${files[@]}"
}
