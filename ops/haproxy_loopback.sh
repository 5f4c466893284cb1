#!/bin/sh
# The HAProxy that Ray Serve starts for a single-machine Ustadh (RAY_SERVE_HAPROXY_BINARY_PATH).
#
# Ray Serve writes HAProxy's config with its stats page and Prometheus exporter bound on every
# interface (`bind *:PORT`, `bind :PORT`), its admin socket world-writable (`stats socket ...
# mode 666 level admin`) and a UDP syslog target (`log 127.0.0.1:514`, which nothing receives but
# for which HAProxy holds UDP sockets on 0.0.0.0), with no setting to change any of it. This copies
# the config named by `-f` with those binds moved to 127.0.0.1, the admin socket made owner-only
# (mode 600) and UDP log targets dropped (the unix-socket log line that feeds Serve's metrics
# stays), and runs the real HAProxy (USTADH_HAPROXY_BINARY, set by ops.ray_local) on the copy,
# under this process id, with every other argument as Ray gave it.
set -eu
real="${USTADH_HAPROXY_BINARY:?USTADH_HAPROXY_BINARY names the haproxy to run}"
previous=""
for arg do
    shift
    if [ "$previous" = "-f" ]; then
        sed -e 's/^\([[:space:]]*bind[[:space:]]\{1,\}\)\*\{0,1\}:/\1127.0.0.1:/' \
            -e 's/^\([[:space:]]*stats[[:space:]]\{1,\}socket[[:space:]].*[[:space:]]mode[[:space:]]\{1,\}\)666/\1600/' \
            -e '/^[[:space:]]*log[[:space:]]\{1,\}[^/[:space:]]*:[0-9]\{1,\}[[:space:]]/d' \
            "$arg" > "$arg.loopback"
        arg="$arg.loopback"
    fi
    set -- "$@" "$arg"
    previous="$arg"
done
exec "$real" "$@"
