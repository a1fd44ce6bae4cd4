Feature: A failed migration
  A vMotion can fail after it started. The application still gets the `end` event, from the source host, with
  an `opStatus` other than `success`: the VM did not move, and the application must resume all the same.
  (Only `success` has ever been observed; the simulator's knob `failure_op_status` says `failure`.)

  Scenario: The handler unquiesces after a failed migration and says the VM did not move
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And a migration takes 15 seconds
    And the quiesce command takes 5 seconds
    And the handler is running
    When a vMotion that will fail is requested at second 10
    And the handler runs until second 40
    Then the timeline was
      | second | what                     |
      | 15     | ack received             |
      | 30     | migration ended: failure |
      | 30     | end delivered            |
      | 30     | unquiesce started        |
    And the unquiesce command's environment held
      | variable          | value   |
      | VMOTION_OP_STATUS | failure |
    And the handler logged "the migration failed, the VM did not move"

  @conformance @process
  Scenario: A handler process unquiesces after a failed migration
    Given the handler runs as a process on real time
    And the hosts allow 8 seconds for notifications
    And a migration takes 0.2 seconds
    And the handler is running
    When a vMotion that will fail is requested
    And the operation has ended, waiting at most 15 seconds
    Then the unquiesce ran after the end event was delivered
