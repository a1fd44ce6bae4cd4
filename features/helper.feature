@vcsim
Feature: Configuring notifications through vCenter with the helper
  Before any notification reaches a guest, an administrator sets, in vCenter, the host option
  `VmOpNotificationToApp.Timeout` on every host the VM may run on (the host where the VM runs at vMotion time
  decides), and on the VM the flag `vmOpNotificationToAppEnabled` and, optionally, its own
  `vmOpNotificationTimeout`. `vmotion-helper` does this over the vSphere API. These scenarios run it as an
  administrator would, against a vCenter simulator of their own (default inventory: cluster DC0_C0 with hosts
  DC0_C0_H0..H2 and VM DC0_C0_RP0_VM0), and read every change back through a separate connection.

  Scenario: Setting the timeout of one host
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper host DC0_C0_H0 --timeout 120"
    Then it succeeds
    And vCenter reads VmOpNotificationToApp.Timeout = 120 on host "DC0_C0_H0"

  Scenario: Setting the timeout on every host of a cluster
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 90"
    Then it succeeds
    And vCenter reads VmOpNotificationToApp.Timeout = 90 on every host of cluster "DC0_C0"

  Scenario: Enabling notifications on a VM, with its own timeout
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    Then it succeeds
    And vCenter reads the VM "DC0_C0_RP0_VM0" with notifications enabled and a timeout of 60 seconds

  Scenario: 0 is a value, not "nothing given"
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --timeout 0"
    Then it succeeds
    And vCenter reads the VM "DC0_C0_RP0_VM0" with notifications enabled and a timeout of 0 seconds

  Scenario: A dry run shows the change and makes none
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60 --dry-run"
    Then it succeeds and says "dry run: would change the above, changed nothing"
    And vCenter reads the VM "DC0_C0_RP0_VM0" with notifications disabled and no timeout set
    And vCenter ran 0 reconfigure tasks on the VM "DC0_C0_RP0_VM0"
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 90 --dry-run"
    Then it succeeds and says "dry run: would change the above, changed nothing"
    And vCenter reads VmOpNotificationToApp.Timeout = 0 on every host of cluster "DC0_C0"

  Scenario: Asking again for what is already set changes nothing and starts no task
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    Then it succeeds and says "no change needed: already set, no task started"
    And vCenter ran 1 reconfigure task on the VM "DC0_C0_RP0_VM0"
    And vCenter reads the VM "DC0_C0_RP0_VM0" with notifications enabled and a timeout of 60 seconds

  Scenario: The preflight check says why notifications would not work, then that they would
    Given a vCenter simulator with its default inventory
    When the administrator runs "vmotion-helper check DC0_C0_RP0_VM0 --json"
    Then the check says notifications would not work because of "vmOpNotificationToAppEnabled"
    When the administrator runs "vmotion-helper cluster DC0_C0 --timeout 120"
    And the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    And the administrator runs "vmotion-helper check DC0_C0_RP0_VM0 --json"
    Then the check says notifications would work with an effective timeout of 60 seconds

  Scenario: A vCenter too old for the VM fields is refused rather than silently ignored
    Given a vCenter simulator that advertises only API version "7.0.3.0"
    When the administrator runs "vmotion-helper vm DC0_C0_RP0_VM0 --enable --timeout 60"
    Then it fails with exit status 7 and says "silently drops"
    And vCenter reads the VM "DC0_C0_RP0_VM0" with notifications disabled and no timeout set
