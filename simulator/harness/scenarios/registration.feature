Feature: Registering an application for vMotion notifications
  An application inside a VM asks the hypervisor to be told about vMotions by sending guest RPCs through
  VMware Tools: `vmtoolsd --cmd 'vm-operation-notification.register {...}'`. The hypervisor answers with a
  one-line JSON reply. A successful registration returns a secret token (`uniqueToken`) that the application
  uses for every later call, and the notification timeout in force (`notificationTimeoutInSec`): how long a
  vMotion will wait for the application's acknowledgement.

  Registration works only when the VM has notifications enabled (`vmOpNotificationToAppEnabled`) and the
  timeout is a positive number of seconds: the host option `VmOpNotificationToApp.Timeout`, or the VM's own
  `vmOpNotificationTimeout` when that is smaller. Only one application may be registered per VM at a time.

  These scenarios talk to the simulated hypervisor directly, the way any handler does.

  Background:
    Given the hosts allow 120 seconds for notifications

  Scenario: An application registers and gets its token and the timeout in force
    When a guest app registers as "demo"
    Then the registration succeeds with a notification timeout of 120 seconds
    And the token looks like "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lowercase hex

  Scenario: The VM's own timeout counts when it is smaller than the host's
    Given the VM allows 60 seconds for notifications
    When a guest app registers as "demo"
    Then the registration succeeds with a notification timeout of 60 seconds

  Scenario: Listing shows the registered applications, never their tokens
    Given a guest app registered as "demo"
    When the guest lists the registered apps
    Then the reply is exactly:
      """
      {"version":"1.0.0", "result": true, "info": [     {"appName": "demo", "notificationTypes": ["sla-miss"]}] }
      """

  Scenario: Only one application may be registered at a time
    Given a guest app registered as "demo"
    When a guest app registers as "second"
    Then the registration is refused with "Max allowed limit of 1 concurrent apps already registered."
    And exactly 1 app is registered

  Scenario: A freed place can be taken by another application
    Given a guest app registered as "demo"
    When "demo" unregisters
    And a guest app registers as "second"
    Then the registration succeeds with a notification timeout of 120 seconds

  Scenario: Nobody can register while notifications are disabled on the VM
    Given vMotion notifications are disabled on the VM
    When a guest app registers as "demo"
    Then the registration is refused with "VM operation notification not enabled on this VM"

  Scenario: Nobody can register while the host's timeout is at its default of 0
    Given the hosts allow 0 seconds for notifications
    When a guest app registers as "demo"
    Then the registration is refused with "timeout is not configured"

  Scenario: A token nobody was given is refused
    Given a guest app registered as "demo"
    When the guest unregisters with a token nobody was given
    Then the call is refused with "Could not find application with the token."
    And exactly 1 app is registered

  Scenario: An application with nothing pending gets an empty reply
    Given a guest app registered as "demo"
    When "demo" asks for an event
    Then the reply is exactly:
      """
      {"version":"1.0.0", "result": true }
      """
