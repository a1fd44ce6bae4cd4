Feature: The handler is killed in the middle of an operation and restarted
  A registration lives in the hypervisor, not in the handler: when the handler dies without unregistering,
  its registration stays, and because only one application may register per VM, a restarted handler that
  simply registers again is refused until the VM reboots. A crash can also leave the application quiesced.
  A good handler keeps its token and the operation in progress in a state file, and on restart reuses or
  releases the old registration and resumes the application.

  @conformance @process
  Scenario: Killed with SIGKILL while quiescing, then restarted
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And a migration takes 0.2 seconds
    And the quiesce command takes 3 seconds
    And the handler is running
    When a vMotion is requested
    And the quiesce has started, waiting at most 5 seconds
    And the handler is killed with SIGKILL
    And the handler is started again
    Then within 15 seconds the unquiesce ran after the restart
    And the restarted handler was never refused a registration
    And exactly 1 app is registered

  @conformance @process
  Scenario: Killed with SIGKILL while idle, then restarted, it still handles the next vMotion
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And a migration takes 0.2 seconds
    And the quiesce command takes 0.5 seconds
    And the handler is running
    When the handler is killed with SIGKILL
    And the handler is started again
    And a vMotion is requested
    And the operation has ended, waiting at most 15 seconds
    Then the restarted handler was never refused a registration
    And the handler acked the operation after the quiesce ended and before the timeout
    And the unquiesce ran after the end event was delivered
    And exactly 1 app is registered
