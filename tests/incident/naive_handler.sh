#!/bin/sh
# A naive vMotion notification handler in another style, for the incident tests: it polls, quiesces, then
# acks whatever the deadline, and logs like the proof of concept's handle_notifications.log (so the PoC
# importer reads it). Usage: naive_handler.sh LOGFILE QUIESCE UNQUIESCE
LOG=$1; QUIESCE=$2; UNQUIESCE=$3
log() { printf '%s [%s] %s: %s\n' "$(date '+%Y-%m-%d %H:%M:%S,%3N')" "$1" "$2" "$3" >> "$LOG"; }
rpc() {
    log DEBUG vmtoolsd "invoke command: ['vmtoolsd', '--cmd', '$1']"
    OUT=$(vmtoolsd --cmd "$1" 2>&1); RC=$?
    log DEBUG vmtoolsd "rc: $RC"
    log DEBUG vmtoolsd "stdout: $OUT"
}
field() { printf '%s' "$OUT" | sed -n "s/.*\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\}[,} ].*/\1/p"; }
hook() {
    log DEBUG invoke_command "command for quiesce/unquiesce: ['$2']"
    "$2"; HRC=$?
    log DEBUG invoke_command "return code: $HRC"
    log INFO monitor "command to $1 has been completed with return code: $HRC"
}
stop() {
    log INFO monitor "interrupted"
    rpc "vm-operation-notification.unregister {\"uniqueToken\": \"$TOKEN\"}"
    exit 1
}
trap stop TERM INT
log INFO monitor "register application: naive"
rpc 'vm-operation-notification.register {"appName": "naive", "notificationTypes": ["sla-miss"]}'
TOKEN=$(field uniqueToken)
while :; do
    rpc "vm-operation-notification.check-for-event {\"uniqueToken\": \"$TOKEN\"}"
    case $(field eventType) in
    start)
        OP=$(field operationId)
        log INFO monitor "application is notified that vmotion has been requested. invoke command to quiesce"
        hook quiesce "$QUIESCE"
        log INFO monitor "acknowledge notification"
        rpc "vm-operation-notification.ack-event {\"uniqueToken\": \"$TOKEN\", \"operationId\": $OP}" ;;
    end)
        hook unquiesce "$UNQUIESCE" ;;
    esac
    sleep 0.2 &
    wait $!
done
