package main

import (
	"strconv"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// setGuestTools makes every VM report VMware Tools at the given version number (major*1024 + minor*32 +
// patch; 12389 is 12.3.5), running when the VM is powered on. govmomi's VMs report "not installed", and
// notifications need Tools 11.0 or later (protocol.md 8.3), so a preflight check would otherwise always fail.
// A version of 0 keeps govmomi's "not installed", for testing that failure.
func setGuestTools(version int) {
	if version == 0 {
		return
	}
	for _, obj := range simulator.Map.All("VirtualMachine") {
		vm, ok := obj.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		running := types.VirtualMachineToolsRunningStatusGuestToolsNotRunning
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			running = types.VirtualMachineToolsRunningStatusGuestToolsRunning
		}
		if vm.Config != nil && vm.Config.Tools != nil {
			vm.Config.Tools.ToolsVersion = int32(version)
		}
		if vm.Guest != nil {
			vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
			vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
			vm.Guest.ToolsVersion = strconv.Itoa(version)
			vm.Guest.ToolsRunningStatus = string(running)
		}
		if vm.Summary.Guest != nil {
			vm.Summary.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
			vm.Summary.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
			vm.Summary.Guest.ToolsRunningStatus = string(running)
		}
	}
}
