# Sourced by scripts/run, scripts/test and scripts/bench: makes .venv and installs the project
# (with the extras named in $1, e.g. "test") when pyproject.toml changed since the last install;
# ensure_wrk installs wrk (Debian's package) for the benchmark and its smoke test.
# ensure_chromium installs Debian's chromium and chromium-driver (the console's browser test).
ensure_venv() {
    local extras="${1:-}" python="${PYTHON:-python3}" spec="." stamp
    if [ ! -x .venv/bin/python ]; then
        echo "creating .venv with $($python --version)" >&2
        "$python" -m venv .venv
        .venv/bin/python -m pip install --quiet --upgrade pip
    fi
    [ -n "$extras" ] && spec=".[$extras]"
    stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
    if [ ! -f "$stamp" ]; then
        echo "installing mengchong$([ -n "$extras" ] && echo "[$extras]") into .venv" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
}

ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    echo "installing wrk" >&2
    apt_install wrk
}

# ensure_chromium installs Debian's Chromium and ChromeDriver for the console's browser test.
ensure_chromium() {
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && return 0
    echo "installing chromium and chromium-driver" >&2
    apt_install chromium chromium-driver
}

apt_install() {
    local sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 \
        || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
