Feature: Stopping the handler with SIGTERM
  A service manager stops the handler with SIGTERM (systemd) or the user with Ctrl-C. The handler must finish
  or abandon its current step cleanly: stop a running quiesce (never orphan it), unquiesce the application,
  release its registration so that the next run can register, and exit with status 0.

  @conformance @process
  Scenario: SIGTERM while idle
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And the handler is running
    When the handler receives SIGTERM
    Then the handler exits with status 0 within 10 seconds
    And no app is registered

  @conformance @process
  Scenario: SIGTERM while quiescing
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And the quiesce command takes 20 seconds
    And the handler is running
    When a vMotion is requested
    And the quiesce has started, waiting at most 5 seconds
    And the handler receives SIGTERM
    Then the handler exits with status 0 within 10 seconds
    And the quiesce command is no longer running
    And the unquiesce ran after the quiesce started
    And no app is registered
