@vcsim
Feature: One vMotion across both sides
  The whole story in one scenario: the administrator configures vCenter with the helper; the hypervisor (the
  guest simulator) takes its effective timeout, and the destination host's, from that vCenter; vCenter
  requests the vMotion; the real handler, running as a process in the guest, quiesces the application and
  acknowledges; the migration runs; the handler unquiesces; and vCenter shows the VM on its new host.
  The timeouts here are short real ones (8 seconds), because the handler is a real process.

  @process
  Scenario: Configured in vCenter, acknowledged in the guest, moved in vCenter
    Given a vCenter simulator with its default inventory
    And the handler runs as a process on real time
    And a migration takes 0.2 seconds
    And the quiesce command takes 0.5 seconds
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 30"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 8"
    And the guest simulator takes its settings from vCenter for moving "DC0_C0_RP0_VM0" to another host of its cluster
    Then the guest simulator's effective timeout is 8 seconds and its destination timeout is 8 seconds
    When the handler starts
    And vCenter requests the vMotion
    And the operation has ended, waiting at most 15 seconds
    And vCenter completes the move
    Then the handler acked the operation after the quiesce ended and before the timeout
    And the unquiesce ran after the end event was delivered
    And vCenter shows the VM on the destination host
