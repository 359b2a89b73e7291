#!/usr/bin/env bash
# Runs before `npm test` and `npm start`: makes a fresh machine ready, so the
# README's two commands work as written. Does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node dependencies, exactly as locked.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "bootstrap: npm ci" >&2
	npm ci --no-audit --no-fund >&2
fi

# Without a Docker engine the test environments are debootstrap root filesystems.
if ! docker info >/dev/null 2>&1 && ! command -v debootstrap >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bootstrap: apt-get install debootstrap" >&2
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
	fi
fi
