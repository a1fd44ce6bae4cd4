package main

// Host advanced options as ESXi 8 answers them for VmOpNotificationToApp.Timeout (protocol.md 8.2).
//
// govmomi's simulator gives every host the same shared settings list, matches QueryOptions names by prefix
// and lets UpdateOptions add any key with any value type. A helper tested against that learns nothing about
// its read path or its bad-input handling, so each host here gets its own option manager that:
//   - holds VmOpNotificationToApp.Timeout from the start, typed xsd:long (value from -host-timeout);
//   - answers QueryOptions by exact name, or by subtree for a name ending in "." (all for ""), and raises
//     InvalidName for a name it does not know;
//   - accepts for that option only a long >= 0 and raises InvalidArgument otherwise, and raises InvalidName
//     for keys it does not know instead of inventing them; every change of a request is checked before any is
//     applied.

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// timeoutKey is the host option that bounds how long a vMotion waits for the guest's ack (seconds).
const timeoutKey = "VmOpNotificationToApp.Timeout"

// hostOptionManager must keep mo.OptionManager as its first field: the simulator's property collector reads
// the managed object's properties from the first embedded mo type of a wrapper.
type hostOptionManager struct {
	mo.OptionManager
}

func newHostOptionManager(self types.ManagedObjectReference, timeout int64) *hostOptionManager {
	m := &hostOptionManager{}
	m.Self = self
	// A deep copy, so that changing one host never changes another.
	for _, opt := range esx.Setting {
		v := *opt.GetOptionValue()
		m.Setting = append(m.Setting, &v)
	}
	m.Setting = append(m.Setting, &types.OptionValue{Key: timeoutKey, Value: timeout})
	m.SupportedOption = append(m.SupportedOption, types.OptionDef{
		ElementDescription: types.ElementDescription{
			Description: types.Description{
				Label:   "VM operation notification timeout",
				Summary: "Seconds a VM operation waits for registered guest applications to acknowledge it",
			},
			Key: timeoutKey,
		},
		OptionType: &types.LongOption{
			OptionType:   types.OptionType{ValueIsReadonly: types.NewBool(false)},
			Min:          0,
			Max:          int64(^uint64(0) >> 1),
			DefaultValue: timeout,
		},
	})
	return m
}

func (m *hostOptionManager) find(key string) *types.OptionValue {
	for _, opt := range m.Setting {
		if v := opt.GetOptionValue(); v.Key == key {
			return v
		}
	}
	return nil
}

func fault(msg string, f types.BaseMethodFault) *soap.Fault {
	return simulator.Fault(msg, f)
}

func (m *hostOptionManager) QueryOptions(req *types.QueryOptions) soap.HasFault {
	body := &methods.QueryOptionsBody{}
	res := &types.QueryOptionsResponse{}
	subtree := req.Name == "" || strings.HasSuffix(req.Name, ".")
	for _, opt := range m.Setting {
		key := opt.GetOptionValue().Key
		if key == req.Name || (subtree && strings.HasPrefix(key, req.Name)) {
			res.Returnval = append(res.Returnval, opt)
		}
	}
	if len(res.Returnval) == 0 {
		body.Fault_ = fault(fmt.Sprintf("A specified parameter was not correct: %s", req.Name),
			&types.InvalidName{Name: req.Name})
		return body
	}
	body.Res = res
	return body
}

// checkChange returns the fault for a change this host refuses, or nil.
func (m *hostOptionManager) checkChange(change *types.OptionValue) *soap.Fault {
	if m.find(change.Key) == nil {
		return fault(fmt.Sprintf("Invalid option name: %s", change.Key), &types.InvalidName{Name: change.Key})
	}
	if change.Key != timeoutKey {
		return nil
	}
	// ESXi types this option as long: an xsd:int, a string or a negative number is an invalid argument.
	if v, ok := change.Value.(int64); !ok || v < 0 {
		return fault(fmt.Sprintf("A specified parameter was not correct: %s (a long >= 0 is required, got %T %v)",
			change.Key, change.Value, change.Value),
			&types.InvalidArgument{InvalidProperty: change.Key})
	}
	return nil
}

func (m *hostOptionManager) UpdateOptions(req *types.UpdateOptions) soap.HasFault {
	body := &methods.UpdateOptionsBody{}
	for _, change := range req.ChangedValue {
		if f := m.checkChange(change.GetOptionValue()); f != nil {
			body.Fault_ = f
			return body
		}
	}
	for _, change := range req.ChangedValue {
		c := change.GetOptionValue()
		m.find(c.Key).Value = c.Value
	}
	body.Res = &types.UpdateOptionsResponse{}
	return body
}

// installHostOptions replaces every host's option manager in the registry with a hostOptionManager.
func installHostOptions(timeout int64) error {
	for _, obj := range simulator.Map.All("HostSystem") {
		host, ok := obj.(*simulator.HostSystem)
		if !ok || host.ConfigManager.AdvancedOption == nil {
			return fmt.Errorf("host %v has no advanced option manager", obj.Reference())
		}
		simulator.Map.Put(newHostOptionManager(*host.ConfigManager.AdvancedOption, timeout))
	}
	return nil
}
