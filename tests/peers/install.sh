#!/usr/bin/env bash
# Install what tests/peers/ needs: tcpdump + tshark (+ ethtool, iproute2) from Debian and the
# pinned Python peers from PyPI. Idempotent; runs as root with no stdin (CI).
#   tests/peers/install.sh            PYTHON=/path/to/python3 to choose the interpreter
#   tests/peers/install.sh --recon    also the scanners of tests/peers/record_recon.sh, of
#                                     record_enip.sh's recon_nmap_enip_info and of
#                                     record_iec104.sh's recon_nmap_iec_identify (nmap,
#                                     modbus-device-scanner, modscanner): recording only, the
#                                     tests replay the committed captures
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
RECON=0
[ "${1:-}" = "--recon" ] && RECON=1
export DEBIAN_FRONTEND=noninteractive

# chromium: the browser of the UI tests (scripts/test-ui.sh); libpcap-dev: the `libpcap`
# capture back-end; tcpreplay: scripts/bench-live.sh; nmap (with --recon): its ICS NSE scripts
# are the scanners of tests/peers/record_recon.sh, record_enip.sh (enip-info) and
# record_iec104.sh (iec-identify).
APT_PKGS=(tcpdump tshark ethtool iproute2 rsyslog rsyslog-gnutls rsyslog-relp systemd logrotate man-db prometheus chromium libpcap-dev tcpreplay)
[ "$RECON" = 1 ] && APT_PKGS+=(nmap)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # tshark asks whether non-root users may capture: answer it up front.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

pip_args=(install -q --disable-pip-version-check -r "$DIR/requirements.txt")
if "$PY" -m pip install --help 2>/dev/null | grep -q -- --root-user-action; then
  pip_args+=(--root-user-action=ignore)
fi
# A Debian system interpreter refuses pip without this (PEP 668); pyenv/venv ones do not.
if "$PY" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
  pip_args+=(--break-system-packages)
fi
"$PY" -m pip "${pip_args[@]}" </dev/null
"$PY" -c 'import importlib.metadata, pymodbus, snap7, dnp3, cpppo, pycomm3, c104, communityid; print("peers:", "pymodbus", pymodbus.__version__, "| python-snap7", snap7.__version__, "| dnp3py", dnp3.__version__, "| cpppo", cpppo.__version__, "| pycomm3", pycomm3.__version__, "| c104", importlib.metadata.version("c104"))'
command -v tcpdump tshark >/dev/null
[ "$RECON" = 1 ] || exit 0

"$PY" -m pip "${pip_args[@]/requirements.txt/requirements-recon.txt}" </dev/null
"$PY" -c 'import modbus_device_scanner'
command -v nmap >/dev/null

# modscanner pins pymodbus<3.15, which the peers cannot share: it gets a venv of its own.
MODSCANNER_VENV="${MODSCANNER_VENV:-/opt/otwatch-peers/modscanner}"
if { [ -x "$MODSCANNER_VENV/bin/python" ] || "$PY" -m venv "$MODSCANNER_VENV"; } &&
   "$MODSCANNER_VENV/bin/python" -m pip install -q --disable-pip-version-check \
     -r "$DIR/requirements-modscanner.txt" </dev/null; then
  "$MODSCANNER_VENV/bin/modscanner" version
else
  echo "install.sh: modscanner could not be installed in $MODSCANNER_VENV" >&2
  exit 1
fi
