#!/bin/sh
# chromium for the HTML report's browser tests (tests/report/test_view_browser.py, driven by
# Playwright): Debian's package, installed when missing (Playwright's own browser download is not
# used). Prints where it is; exits 1 with one line when it cannot be installed.
set -e
if command -v chromium >/dev/null 2>&1; then
    command -v chromium
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    if $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; }; then
        command -v chromium
        exit 0
    fi
fi
echo "chromium is missing and could not be installed: install the chromium package (Debian/Ubuntu: apt-get install chromium)" >&2
exit 1
