#!/bin/sh
# The part of the public nginx image's entrypoint that docker-compose.yml uses, for the local stand-in
# (docker/local/Dockerfile.nginx): source /docker-entrypoint.d/*.envsh, then render every
# /etc/nginx/templates/NAME.template into /etc/nginx/conf.d/NAME, substituting only the variables that
# are defined (nginx's own $host, $remote_addr... stay as they are).
set -eu
for f in /docker-entrypoint.d/*.envsh; do
    [ -e "$f" ] || continue
    # shellcheck disable=SC1090
    . "$f"
done
defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
for t in /etc/nginx/templates/*.template; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .template)
    envsubst "$defined" < "$t" > "/etc/nginx/conf.d/$name"
done
exec "$@"
