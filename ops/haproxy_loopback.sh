#!/bin/sh
# The HAProxy that Ray Serve starts for a single-machine Ustadh (RAY_SERVE_HAPROXY_BINARY_PATH).
#
# Ray Serve writes HAProxy's config with its stats page and Prometheus exporter bound on every
# interface (`bind *:PORT`, `bind :PORT`) and no setting to change that; on one machine they belong
# on loopback like the rest of the system. This copies the config named by `-f` with those binds
# moved to 127.0.0.1 and runs the real HAProxy (USTADH_HAPROXY_BINARY, set by ops.ray_local) on
# the copy, under this process id, with every other argument as Ray gave it.
set -eu
real="${USTADH_HAPROXY_BINARY:?USTADH_HAPROXY_BINARY names the haproxy to run}"
previous=""
for arg do
    shift
    if [ "$previous" = "-f" ]; then
        sed -e 's/^\([[:space:]]*bind[[:space:]]\{1,\}\)\*\{0,1\}:/\1127.0.0.1:/' "$arg" > "$arg.loopback"
        arg="$arg.loopback"
    fi
    set -- "$@" "$arg"
    previous="$arg"
done
exec "$real" "$@"
