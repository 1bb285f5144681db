#!/bin/sh
# Builds the Go smux interop peer offline (GOPATH mode) into the path $1.
# Needs Debian's golang-go and golang-github-xtaci-smux-dev (smux v1.5.16).
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTPUT_BINARY" >&2
    exit 2
fi
out=$1
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
here=$(cd "$(dirname "$0")" && pwd)
gocache=${GOCACHE:-${TMPDIR:-/tmp}/smux-peer-gocache}
cd "$here/smux-peer"
env GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$gocache" \
    go build -o "$out" .
echo "built $out"
