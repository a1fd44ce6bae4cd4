@vcsim
Feature: Maintenance mode waits for the guests
  Putting a host into maintenance mode moves its powered-on VMs to the other hosts of its cluster, a few at a
  time. With notifications on, each of those vMotions first notifies the VM's guest and waits for the
  application's ack, or for its timeout. Here the vCenter simulator (vcsim -vmotion-bridge) holds each move
  until the bridge has run it through that VM's guest simulator, with the settings vCenter holds for the VM:
  the real handler, a process in each guest, quiesces and acks (or does not, and the timeout forces the
  migration); then vCenter moves the VM. Short real timeouts (8 and 4 seconds), a 0.5-second quiesce and a
  0.2-second migration.

  @process
  Scenario: Every application acks in time, and every VM ends on another host
    Given a vCenter simulator with 3 VMs in its cluster whose maintenance mode waits for the guests, 2 vMotions at a time per host
    And the VMs "DC0_C0_RP0_VM0, DC0_C0_RP0_VM1, DC0_C0_RP0_VM2" run on host "DC0_C0_H0", each with a guest simulator of its own
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 30"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 8"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM1 --enable --timeout 8"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM2 --enable --timeout 8"
    And each of those VMs runs the handler as a process against its guest simulator
    And host "DC0_C0_H0" enters maintenance mode, the bridge running each vMotion through its guest
    Then vCenter shows the maintenance task running
    And within 60 seconds the maintenance task succeeds
    And host "DC0_C0_H0" is in maintenance mode and every one of those VMs is on another host of cluster "DC0_C0"
    And the bridge reports every VM notified, and none forced
    And each guest was told the timeout vCenter holds for its VM
    And every handler acked its start after its quiesce and before its timeout
    When the administrator runs "vmotion-helper check DC0_C0_RP0_VM1 --json"
    Then the check says the VM runs on a host of cluster "DC0_C0" other than "DC0_C0_H0"

  @process
  Scenario: One slow application is forced at its timeout, and reported
    Given a vCenter simulator with 3 VMs in its cluster whose maintenance mode waits for the guests, 2 vMotions at a time per host
    And the VMs "DC0_C0_RP0_VM0, DC0_C0_RP0_VM1, DC0_C0_RP0_VM2" run on host "DC0_C0_H0", each with a guest simulator of its own
    And the application of "DC0_C0_RP0_VM1" is slow: its quiesce takes 6 seconds, and its handler does not ack a failed quiesce
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 30"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 8"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM1 --enable --timeout 4"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM2 --enable --timeout 8"
    And each of those VMs runs the handler as a process against its guest simulator
    And host "DC0_C0_H0" enters maintenance mode, the bridge running each vMotion through its guest
    Then vCenter shows the maintenance task running
    And within 60 seconds the maintenance task succeeds
    And host "DC0_C0_H0" is in maintenance mode and every one of those VMs is on another host of cluster "DC0_C0"
    And the bridge reports every VM notified, and "DC0_C0_RP0_VM1" forced
    And each guest was told the timeout vCenter holds for its VM
    And every other handler acked its start after its quiesce and before its timeout
