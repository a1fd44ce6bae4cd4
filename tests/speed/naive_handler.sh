#!/bin/sh
# A deliberately naive handler, the tests' own: polls every 10 s, sleeps 30 s after every event before acting,
# runs no hooks, and on SIGTERM just exits, never unregistering.
set -u
rpc() { vmtoolsd --cmd "vm-operation-notification.$1 $2"; }
field() { printf '%s' "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",} ]*\).*/\1/p"; }
pause() { sleep "$1" & wait $!; }

reply=$(rpc register '{"appName": "naive", "notificationTypes": ["sla-miss"]}') || exit 1
token=$(field "$reply" uniqueToken)
trap 'exit 0' TERM INT
while :; do
    event=$(rpc check-for-event "{\"uniqueToken\": \"$token\"}")
    op=$(field "$event" operationId)
    case $(field "$event" eventType) in
    start) pause 30; rpc ack-event "{\"uniqueToken\": \"$token\", \"operationId\": $op}" >/dev/null ;;
    end) pause 30 ;;
    *) pause 10 ;;
    esac
done
