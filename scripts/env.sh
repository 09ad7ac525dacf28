# Shared by scripts/demo and scripts/test: create .venv and install rig into it.
# Usage: source scripts/env.sh; rig_env "EXTRAS"   (e.g. "dev" or "dev,gui")
set -euo pipefail
RIG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RIG_VENV:-$RIG_ROOT/.venv}"

rig_apt() {
  # Debian packages some tests and features need; installed only when missing and root.
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: missing Debian packages (${missing[*]}); tests needing them are skipped" >&2
  fi
}

rig_env() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
  fi
  # Reinstall only when the project's requirements changed.
  local stamp="$VENV/.rig-installed-$extras"
  if [ ! -f "$stamp" ] || [ "$RIG_ROOT/pyproject.toml" -nt "$stamp" ]; then
    local log="$VENV/.rig-install.log"
    if ! "$VENV/bin/pip" install -q -e "$RIG_ROOT[$extras]" >"$log" 2>&1; then
      grep -v "^WARNING: Location" "$log" >&2
      echo "error: installing rig[$extras] into $VENV failed (log: $log)" >&2
      return 1
    fi
    "$VENV/bin/python" -c "import rig"
    touch "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}
