Feature: The timeout changes while the application is quiescing
  When the timeout in force changes (an administrator sets another value on the host or the VM), every
  registered application gets a `timeout-change` event with the old (`notificationTimeoutInSec`) and the new
  value (`newNotificationTimeoutInSec`). Whether the hypervisor then moves the deadline of a vMotion already
  waiting is not documented; the shrinking scenarios switch the simulator's knob `timeout_change_moves_deadline`
  on, the case a handler must survive when the timeout shrinks; when it grows, the case to survive is the
  default, a deadline that stays where it was. VMware's own sample daemon acknowledges `timeout-change` events too.

  Scenario: The timeout shrinks from 120 to 60 seconds during a 100-second quiesce
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And the hypervisor moves the deadline of a waiting vMotion when the timeout changes
    And a migration takes 15 seconds
    And the quiesce command takes 100 seconds
    And the handler is running
    When a vMotion is requested at second 10
    And the host timeout changes to 60 seconds at second 20
    And the handler runs until second 100
    Then the timeline was
      | second | what                     |
      | 10     | quiesce started          |
      | 20     | timeout-change delivered |
      | 20     | timeout-change acked     |
      | 68     | quiesce stopped          |
      | 68     | ack received             |
      | 68     | migration started        |
      | 83     | migration ended: success |
      | 83     | unquiesce started        |
    And the migration was not forced
    And the handler logged "re-planned operation"

  # Whether the hypervisor moves a running deadline when the timeout grows is not documented; the simulator
  # keeps the old one by default, so a handler must keep the earlier of the two deadlines, never the later.
  Scenario: The timeout grows from 60 to 120 seconds during a 100-second quiesce and the deadline stays
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 60 seconds for notifications
    And a migration takes 15 seconds
    And the quiesce command takes 100 seconds
    And the handler is running
    When a vMotion is requested at second 10
    And the host timeout changes to 120 seconds at second 20
    And the handler runs until second 200
    Then the timeline was
      | second | what                     |
      | 10     | quiesce started          |
      | 20     | timeout-change delivered |
      | 68     | quiesce stopped          |
      | 68     | ack received             |
      | 68     | migration started        |
      | 83     | unquiesce started        |
    And the migration was not forced

  @conformance @process
  Scenario: A handler process re-plans its quiesce when the timeout shrinks during it
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And the hypervisor moves the deadline of a waiting vMotion when the timeout changes
    And a migration takes 0.2 seconds
    And the quiesce command takes 20 seconds
    And the handler is running
    When a vMotion is requested
    And the quiesce has started, waiting at most 5 seconds
    And the host timeout changes to 6 seconds
    And the operation has ended, waiting at most 20 seconds
    Then the migration was not forced
    And the handler acked the operation after the quiesce ended and before the timeout
