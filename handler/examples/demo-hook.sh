#!/bin/sh
# Demo quiesce/unquiesce hook for vmotion-handler. It reads the event from the environment (never from its
# command line) and takes about 1.5 s, like a small application leaving and rejoining a load balancer.
#   vmotion-handler --quiesce "demo-hook.sh" --unquiesce "demo-hook.sh"
# Set DEMO_HOOK_LOG=FILE to also append one line per run to FILE, DEMO_HOOK_STEP=SECONDS to pace its steps
# otherwise than 0.5 s apart.
set -eu
step=${DEMO_HOOK_STEP:-0.5}
hook=${VMOTION_HOOK:-unknown}
op=${VMOTION_OPERATION_ID:-?}
if [ "$hook" = quiesce ]; then
    echo "app: quiescing for operation $op (timeout ${VMOTION_TIMEOUT:-?} s, deadline ${VMOTION_DEADLINE:-?})"
    sleep "$step"; echo "app: left the load-balancer pool"
    sleep "$step"; echo "app: flushed and paused writes"
    sleep "$step"; echo "app: quiesced, ready for vMotion"
else
    echo "app: unquiescing after operation $op (${VMOTION_REASON:-?}, opStatus ${VMOTION_OP_STATUS:-none})"
    sleep "$step"; echo "app: resumed writes"
    sleep "$step"; echo "app: rejoined the load-balancer pool"
fi
if [ -n "${DEMO_HOOK_LOG:-}" ]; then
    printf '%s %s %s %s\n' "$hook" "$op" "${VMOTION_REASON:-}" "${VMOTION_OP_STATUS:-}" >> "$DEMO_HOOK_LOG"
fi
