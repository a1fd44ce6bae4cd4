"""Bytes captured from a real ESXi 8 (protocol.md section 3, S1 OBS), vmtoolsd's trailing newline removed."""

REGISTER = (
    '{"version":"1.0.0", "result": true, "guaranteed": true, '
    '"uniqueToken": "52964f1a-6c7e-b373-b588-545b39581e1a", "notificationTimeoutInSec": 120 }'
)
LIST = '{"version":"1.0.0", "result": true, "info": [     {"appName": "demo", "notificationTypes": ["sla-miss"]}] }'
OK = '{"version":"1.0.0", "result": true }'
START = (
    '{"version":"1.0.0", "result": true, "eventType": "start",  "opType": "host-migration", '
    '"eventGenTimeInSec": 1666994660, "notificationTimeoutInSec": 120, "destNotificationTimeoutInSec": 120, '
    '"notificationTypes": ["sla-miss"],  "operationId": 6279072957175440971 }'
)
END = (
    '{"version":"1.0.0",  "result": true, "eventType": "end",  "opType": "host-migration", "opStatus": "success", '
    '"eventGenTimeInSec": 1666730200, "notificationTypes": ["sla-miss"],  "operationId": 6279072692702276663 }'
)
TIMEOUT_CHANGE = (
    '{"version":"1.0.0",  "result": true, "eventType": "timeout-change",  "eventGenTimeInSec": 1666736715, '
    '"notificationTimeoutInSec": 120, "newNotificationTimeoutInSec": 60, "notificationTypes": ["sla-miss"],  '
    '"operationId": 1666736715415723 }'
)
ACK = '{"version":"1.0.0", "result": true, "operationId": 6279072957175440971,  "ackStatus": "ack_received" }'

REGISTER_DEMO = 'vm-operation-notification.register {"appName": "demo", "notificationTypes": ["sla-miss"]}'
