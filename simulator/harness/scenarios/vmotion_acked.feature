Feature: A vMotion acknowledged in time
  When vCenter migrates a VM, the hypervisor queues a `start` event for every registered application and holds
  the migration. The application fetches it with `check-for-event` (it has to ask: nothing is pushed), gets
  its application ready (the "quiesce"), and acknowledges with `ack-event` and the event's `operationId`.
  The migration runs once every application acknowledged, or at the latest when the notification timeout
  runs out. After the migration an `end` event with the same `operationId` reports the outcome, and the
  application resumes (the "unquiesce").

  The first scenario runs the handler's core in-process on virtual time: the timeout reads as the real 120
  seconds and the scenario takes milliseconds. The second runs the handler as a real process (the bundled
  one, or the command given with --handler-cmd) on a short real timeout.

  Scenario: The whole cycle on virtual time, with the second at which each step happened
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And a migration takes 15 seconds
    And the quiesce command takes 5 seconds
    And the handler is running
    When a vMotion is requested at second 10
    And the handler runs until second 40
    Then the timeline was
      | second | what                     |
      | 0      | app "demo" registered    |
      | 10     | vMotion requested        |
      | 10     | start delivered          |
      | 10     | quiesce started          |
      | 15     | quiesce finished         |
      | 15     | ack received             |
      | 15     | migration started        |
      | 30     | migration ended: success |
      | 30     | end delivered            |
      | 30     | unquiesce started        |
      | 30     | unquiesce finished       |
    And the migration was not forced
    And the quiesce command's environment held
      | variable             | value              |
      | VMOTION_HOOK         | quiesce            |
      | VMOTION_APP_NAME     | demo               |
      | VMOTION_EVENT_TYPE   | start              |
      | VMOTION_OPERATION_ID | the operation's id |
      | VMOTION_OP_TYPE      | host-migration     |
      | VMOTION_TIMEOUT      | 120                |
      | VMOTION_DEADLINE     | epoch of second 128 |
    And the unquiesce command's environment held
      | variable             | value              |
      | VMOTION_EVENT_TYPE   | end                |
      | VMOTION_OPERATION_ID | the operation's id |
      | VMOTION_OP_STATUS    | success            |

  @conformance @process
  Scenario: A handler process quiesces, acks before the timeout and unquiesces after the end
    Given the handler runs as a process on real time
    And the hosts allow 8 seconds for notifications
    And a migration takes 0.2 seconds
    And the quiesce command takes 0.5 seconds
    And the handler is running
    When a vMotion is requested
    And the operation has ended, waiting at most 15 seconds
    Then the quiesce ran once, after the start event was delivered
    And the handler acked the operation after the quiesce ended and before the timeout
    And the migration was not forced
    And the unquiesce ran after the end event was delivered
    And the handler's log does not show the registration token
