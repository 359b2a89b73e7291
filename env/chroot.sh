#!/usr/bin/env bash
# Test environments without a Docker engine: the images that docker-compose.yml
# describes, built as debootstrap root filesystems and entered with chroot.
#
#   env/chroot.sh ensure NAME       build the environment unless it is cached
#   env/chroot.sh path NAME         print its root directory (after ensure)
#   env/chroot.sh sync NAME         copy the files the suites need into /work/mup
#   env/chroot.sh run NAME CMD...   run CMD inside it, in /work/mup
#
# MUP_SLOT=x puts the copy in /work/x instead, so several runs can share one
# environment without replacing each other's files.
# NAME is a directory under env/ (prosody-0.12, prosody-13). Environments are
# cached outside the clone (MUP_ENV_CACHE, default /var/cache/mod_unified_push),
# keyed by the suite and the package list, so a fresh clone reuses them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cache=${MUP_ENV_CACHE:-/var/cache/mod_unified_push}
workdir=/work/${MUP_SLOT:-mup}

die() { echo "env/chroot.sh: $*" >&2; exit 1; }

suite_of() {
	# The Dockerfile's FROM line is the one place that names the suite.
	sed -n 's/^FROM debian:\([a-z]*\).*/\1/p' "$here/$1/Dockerfile"
}

# The Debian mirror this machine's apt uses; never written into the repository.
mirror() {
	local uri
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)
	if [ -z "$uri" ]; then
		uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n 1 || true)
	fi
	[ -n "$uri" ] || die "no Debian mirror found in the apt configuration"
	echo "$uri"
}

root_of() {
	local name=$1 key
	[ -f "$here/$name/Dockerfile" ] || die "unknown environment '$name'"
	key=$( (suite_of "$name"; grep -v '^#' "$here/packages.txt") | sha256sum | cut -c1-12)
	echo "$cache/$name-$key"
}

ensure() {
	local name=$1 root suite tmp
	root=$(root_of "$name")
	[ -f "$root/.complete" ] && return 0
	[ "$(id -u)" = 0 ] || die "building $name needs root (debootstrap and chroot)"
	command -v debootstrap >/dev/null || die "building $name needs debootstrap (apt-get install debootstrap)"
	suite=$(suite_of "$name")
	tmp="$root.partial"
	rm -rf "$tmp"
	mkdir -p "$cache"
	echo "env/chroot.sh: building $name (Debian $suite) in $root" >&2
	debootstrap --variant=minbase "$suite" "$tmp" "$(mirror)" >"$tmp.log" 2>&1 || {
		tail -n 20 "$tmp.log" >&2
		die "debootstrap $suite failed (log: $tmp.log)"
	}
	# Packages must not try to start services inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod +x "$tmp/usr/sbin/policy-rc.d"
	grep -v '^#' "$here/packages.txt" |
		chroot "$tmp" sh -c 'apt-get update -q && xargs env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends && apt-get clean' \
			>>"$tmp.log" 2>&1 || {
		tail -n 20 "$tmp.log" >&2
		die "installing packages into $name failed (log: $tmp.log)"
	}
	touch "$tmp/.complete"
	# Drop environments built from an older package list.
	for old in "$cache/$name"-*; do
		case $old in "$tmp" | "$tmp.log") ;; *) [ -f "$old/.complete" ] && rm -rf "$old" ;; esac
	done
	mv "$tmp" "$root"
	rm -f "$tmp.log"
}

sync() {
	local root
	root=$(root_of "$1")
	rm -rf "${root:?}$workdir"
	mkdir -p "$root$workdir"
	for part in dist spec build src docs README.md .luacheckrc .busted; do
		[ -e "$repo/$part" ] && cp -a "$repo/$part" "$root$workdir/"
	done
	return 0
}

run() {
	local root
	root=$(root_of "$1")
	shift
	[ -f "$root/.complete" ] || die "environment not built; run: env/chroot.sh ensure NAME"
	exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: env/chroot.sh ensure|path|sync|run NAME [CMD...]"
shift
case $cmd in
ensure) ensure "$1" ;;
path) root_of "$1" ;;
sync) sync "$1" ;;
run) run "$@" ;;
*) die "unknown command '$cmd'" ;;
esac
