#!/usr/bin/env bash
# Lint (ESLint, alerts-ui/eslint.config.js) and browser tests of the web UI
# (alerts-ui/tests): an analyzer with the embedded UI on a free port, fed with
# what `otwatch replay` makes of the bundled captures, driven by Debian's
# Chromium through npm playwright-core.
# Installs nothing: `.ci/run` installs chromium and runs `npm ci` in alerts-ui.
# Screenshots of every page land in alerts-ui/tests/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM" ] || missing+=("$CHROMIUM (apt-get install -y chromium)")
for m in playwright-core eslint; do
  [ -d "alerts-ui/node_modules/$m" ] || missing+=("alerts-ui/node_modules/$m (cd alerts-ui && npm ci)")
done
command -v node >/dev/null || missing+=("node (Node.js 20)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'test-ui: missing %s\n' "${missing[@]}" >&2
  exit 1
fi

# Lint first (alerts-ui/eslint.config.js): a lint error fails the step.
(cd alerts-ui && node node_modules/eslint/bin/eslint.js --max-warnings 0 .)
echo "test-ui: eslint found nothing"

# The binaries the tests start; cargo only rebuilds what changed (scripts/test
# has built them already).
# (OTWATCH_UI_NO_BUILD=1: scripts/test's `cargo test --all-features` built them.)
if [ -z "${OTWATCH_UI_NO_BUILD:-}" ]; then
  cargo build --release --locked --all-features -p otwatch -p otwatch-analyzer --bin otwatch --bin analyzer-testd
fi

rm -rf alerts-ui/tests/screenshots
cd alerts-ui
CHROMIUM="$CHROMIUM" node --test --test-concurrency=1 --test-reporter=spec tests/
echo "test-ui: screenshots in alerts-ui/tests/screenshots/"
