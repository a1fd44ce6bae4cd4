Feature: Several queued events are fetched one per call
  The hypervisor keeps a queue of events per application, oldest first, but a `check-for-event` call returns
  only one of them, even when several are waiting. A handler that sleeps its poll interval after every event
  drains a queue at one event per interval and eats into the timeout; a good handler asks again at once while
  events keep coming and sleeps only when the reply is empty.

  Scenario: Two timeout changes and a start queued together are fetched in the same second
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And the handler is running
    When at second 10 the host timeout changes to 90 seconds, then to 60 seconds, and a vMotion is requested
    And the handler runs until second 12
    Then at second 10 the handler's check-for-event calls returned, in order:
      | event          |
      | timeout-change |
      | timeout-change |
      | start          |
      | nothing        |
    And the start event gave 60 seconds to acknowledge
    And the migration was not forced

  @conformance @process
  Scenario: A handler process drains the events queued while the guest RPC channel was down
    Given the handler runs as a process on real time
    And the hosts allow 30 seconds for notifications
    And a migration takes 0.2 seconds
    And the handler is running
    When the guest RPC channel goes down
    And the host timeout changes to 20 seconds
    And the host timeout changes to 15 seconds
    And a vMotion is requested
    And the guest RPC channel comes back
    And the operation has ended, waiting at most 20 seconds
    Then the handler fetched, one per check-for-event call:
      | event          |
      | timeout-change |
      | timeout-change |
      | start          |
    And the handler acked the operation after the quiesce ended and before the timeout
