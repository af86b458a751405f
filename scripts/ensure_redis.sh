#!/bin/sh
# redis-server for the Redis cache tests (and a one-machine `--cache-url`): the Debian package,
# installed when missing. Prints where it is; exits 1 with one line when it cannot be installed.
set -e
if command -v redis-server >/dev/null 2>&1; then
    command -v redis-server
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    if $SUDO apt-get install -y -q redis-server >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q redis-server >/dev/null 2>&1; }; then
        command -v redis-server
        exit 0
    fi
fi
echo "redis-server is missing and could not be installed: install the redis-server package (Debian/Ubuntu: apt-get install redis-server)" >&2
exit 1
