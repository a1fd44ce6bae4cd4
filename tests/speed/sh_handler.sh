#!/bin/sh
# A vMotion notification handler in plain POSIX shell, the tests' own: it knows nothing about speed.
# Polls every second; on a start it "quiesces" for $QUIESCE_S seconds (sleep), then acks; logs with date.
set -u
log() { printf '%s %s\n' "$(date +%s.%N)" "$*" >> "$HANDLER_LOG"; }
rpc() { vmtoolsd --cmd "vm-operation-notification.$1 $2"; }
field() { printf '%s' "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",} ]*\).*/\1/p"; }
pause() { sleep "$1" & wait $!; }

reply=$(rpc register '{"appName": "sh-handler", "notificationTypes": ["sla-miss"]}') || exit 1
token=$(field "$reply" uniqueToken)
log "registered"
trap 'rpc unregister "{\"uniqueToken\": \"$token\"}" >/dev/null; log unregistered; exit 0' TERM INT
while :; do
    event=$(rpc check-for-event "{\"uniqueToken\": \"$token\"}")
    op=$(field "$event" operationId)
    case $(field "$event" eventType) in
    start)
        log "start $op"
        pause "$QUIESCE_S"
        log "ack $op"
        rpc ack-event "{\"uniqueToken\": \"$token\", \"operationId\": $op}" >/dev/null
        ;;
    end) log "end $op" ;;
    *) pause 1 ;;
    esac
done
