Feature: A quiesce that outlasts the timeout
  An application cannot refuse or postpone a vMotion beyond the notification timeout: when the timeout runs
  out without an acknowledgement, the hypervisor starts the migration anyway ("forced"). A good handler knows
  the deadline (`eventGenTimeInSec` + `notificationTimeoutInSec`), stops a quiesce that would run past it, and
  never leaves the application quiesced: the `end` event still comes, and it unquiesces then.

  The bundled handler stops the quiesce a safety margin (2 seconds) before the deadline. Its policy on a
  failed or stopped quiesce decides whether it acks anyway (the migration can start 2 seconds earlier) or
  does not ack (the hypervisor forces the migration at the timeout).

  Scenario Outline: A 300-second quiesce against a 120-second timeout, with the policy "<policy>"
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And a migration takes 15 seconds
    And the quiesce command takes 300 seconds
    And the handler's policy on a failed quiesce is "<policy>"
    And the handler is running
    When a vMotion is requested at second 10
    And the handler runs until second 200
    Then the timeline was
      | second    | what                     |
      | 10        | start delivered          |
      | 10        | quiesce started          |
      | 128       | quiesce stopped          |
      | <release> | <released by>            |
      | <release> | migration started        |
      | <ended>   | migration ended: success |
      | <ended>   | end delivered            |
      | <ended>   | unquiesce started        |
    And the migration <forced or not>

    Examples:
      | policy     | release | released by                     | ended | forced or not                   |
      | ack-anyway | 128     | ack received                    | 143   | was not forced                  |
      | no-ack     | 130     | migration forced at the timeout | 145   | was forced at the timeout       |

  @conformance @process
  Scenario: A handler process does not let a long quiesce run past a short real timeout
    Given the handler runs as a process on real time
    And the hosts allow 5 seconds for notifications
    And a migration takes 0.2 seconds
    And the quiesce command takes 60 seconds
    And the handler is running
    When a vMotion is requested
    And the operation has ended, waiting at most 15 seconds
    Then the quiesce was stopped by the timeout
    And the unquiesce ran after the end event was delivered

  Scenario Outline: A quiesce command that fails, with the policy "<policy>"
    Given the handler runs in-process on virtual time, polling every second
    And the hosts allow 120 seconds for notifications
    And a migration takes 15 seconds
    And the quiesce command fails with exit status 3 after 4 seconds
    And the handler's policy on a failed quiesce is "<policy>"
    And the handler is running
    When a vMotion is requested at second 10
    And the handler runs until second 200
    Then the timeline was
      | second    | what                              |
      | 10        | quiesce started                   |
      | 14        | quiesce failed with exit status 3 |
      | <release> | <released by>                     |
      | <ended>   | end delivered                     |
      | <ended>   | unquiesce started                 |
    And the migration <forced or not>

    Examples:
      | policy     | release | released by                     | ended | forced or not             |
      | ack-anyway | 14      | ack received                    | 29    | was not forced            |
      | no-ack     | 130     | migration forced at the timeout | 145   | was forced at the timeout |

  @conformance @process
  Scenario: A handler process whose quiesce command fails still resumes the application after the end
    Given the handler runs as a process on real time
    And the hosts allow 5 seconds for notifications
    And a migration takes 0.2 seconds
    And the quiesce command fails with exit status 3 after 0.5 seconds
    And the handler is running
    When a vMotion is requested
    And the operation has ended, waiting at most 15 seconds
    Then the unquiesce ran after the end event was delivered
