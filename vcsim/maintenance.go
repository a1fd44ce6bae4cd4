package main

// Maintenance mode that waits for the VMs to leave, as vCenter's does (govmomi's sets the flag at once).
//
// EnterMaintenanceMode_Task returns a running task. A goroutine then moves the host's powered-on VMs to the
// other hosts of its cluster, as DRS would: by name, each to the connected host, not in or entering
// maintenance mode, that runs the fewest VMs, at most -vmotion-limit vMotions at a time on any host (a move
// counts against its source and its destination). Each move is RelocateVM_Task itself (patch 0003), so it is
// also a task in vCenter's task list. Without a bridge a move takes -vmotion-seconds; with -vmotion-bridge it
// waits for the bridge's word, given over HTTP on the simulator's own listener (the protocol is below). A VM
// that has nowhere to go (a standalone host) stays until someone moves it or powers it off. The task
// succeeds, and host.runtime.inMaintenanceMode turns true, when no powered-on VM is left; with
// spec.timeout > 0 it fails with Timedout after that many seconds, and the moves under way go on.
//
// The bridge protocol (HTTP basic authentication with the simulator's user name and password):
//
//	GET  /vmotion/pending        {"moves": [{"id": 1, "vm": "vm-61", "vm_name": "DC0_C0_RP0_VM0", "source":
//	                             "host-21", "source_name": "DC0_C0_H0", "destination": "host-28",
//	                             "destination_name": "DC0_C0_H1", "task": "task-9"}, ...]}: the moves that hold
//	                             their slots and wait for the bridge, oldest first; "id" numbers the moves (a
//	                             VM may move again later), "task" is the maintenance task
//	POST /vmotion/go?vm=vm-61    the guest was notified and acked, or its timeout passed: the move happens
//	                             now; answers 200 {"vm": "vm-61", "host": "DC0_C0_H1"} once the VM is on its
//	                             new host, 404 when no move of that VM waits, 400 without ?vm=
//
// Locks: the registry's per-object locks are never taken while e.mu is held.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// How often an evacuation looks again for VMs that left by other means (powered off, moved by hand).
const evacuationPoll = 100 * time.Millisecond

type ref = types.ManagedObjectReference

// pendingMove is one vMotion that holds its slots and waits for the bridge.
type pendingMove struct {
	ID              uint64 `json:"id"` // admission order, unique: the same VM may move again later
	VM              string `json:"vm"`
	VMName          string `json:"vm_name"`
	Source          string `json:"source"`
	SourceName      string `json:"source_name"`
	Destination     string `json:"destination"`
	DestinationName string `json:"destination_name"`
	Task            string `json:"task"`

	start chan struct{} // closed by the bridge's go
	done  chan error    // the relocation's outcome, for the go request's answer
}

type evacuator struct {
	limit    int
	moveTime time.Duration
	bridge   bool

	mu       sync.Mutex
	busy     map[ref]int // vMotions in flight per host, as source or destination
	entering map[ref]bool
	pending  map[string]*pendingMove // by VM reference value
	admitted uint64                  // moves admitted so far, to number them
}

func newEvacuator(limit int, moveTime time.Duration, bridge bool) *evacuator {
	return &evacuator{
		limit: limit, moveTime: moveTime, bridge: bridge,
		busy: map[ref]int{}, entering: map[ref]bool{}, pending: map[string]*pendingMove{},
	}
}

// install makes EnterMaintenanceMode_Task wait, and serves the bridge protocol on the simulator's listener.
func (e *evacuator) install(service *simulator.Service, username, password string) {
	simulator.EnterMaintenanceMode = e.enter
	auth := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(username)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="vcsim"`)
				answer(w, http.StatusUnauthorized, map[string]string{"error": "login required"})
				return
			}
			next(w, r)
		}
	}
	service.HandleFunc("/vmotion/pending", auth(e.servePending))
	service.HandleFunc("/vmotion/go", auth(e.serveGo))
}

func answer(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (e *evacuator) servePending(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		answer(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET"})
		return
	}
	e.mu.Lock()
	moves := make([]*pendingMove, 0, len(e.pending))
	for _, m := range e.pending {
		moves = append(moves, m)
	}
	e.mu.Unlock()
	sort.Slice(moves, func(i, j int) bool { return moves[i].ID < moves[j].ID })
	answer(w, http.StatusOK, map[string]interface{}{"moves": moves})
}

func (e *evacuator) serveGo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		answer(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	vm := r.URL.Query().Get("vm")
	if vm == "" {
		answer(w, http.StatusBadRequest, map[string]string{"error": "?vm=REFERENCE is required"})
		return
	}
	e.mu.Lock()
	m := e.pending[vm]
	delete(e.pending, vm)
	e.mu.Unlock()
	if m == nil {
		answer(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no move of %s waits", vm)})
		return
	}
	close(m.start)
	if err := <-m.done; err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	answer(w, http.StatusOK, map[string]string{"vm": m.VM, "host": m.DestinationName})
}

// enter runs in the SOAP call, with h locked: it only starts the task.
func (e *evacuator) enter(ctx *simulator.Context, h *simulator.HostSystem, spec *types.EnterMaintenanceMode_Task) ref {
	// The call's context ends with the call; the moves outlive it.
	own := &simulator.Context{Context: context.Background(), Session: ctx.Session, Map: simulator.Map}
	timeout := time.Duration(spec.Timeout) * time.Second
	var task *simulator.Task
	task = simulator.CreateTask(h, "enterMaintenanceMode", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, e.evacuate(own, h, task.Self, timeout)
	})
	go task.Run()
	return task.Self
}

// candidate is a VM still to move, or a host it may go to, read under the object's own lock.
type candidate struct {
	self  ref
	name  string
	count int
}

func (e *evacuator) evacuate(ctx *simulator.Context, h *simulator.HostSystem, task ref, timeout time.Duration) types.BaseMethodFault {
	e.mu.Lock()
	if e.entering[h.Self] {
		e.mu.Unlock()
		return &types.InvalidState{}
	}
	e.entering[h.Self] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.entering, h.Self)
		e.mu.Unlock()
	}()

	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	quit := make(chan struct{})
	defer close(quit)
	finished := make(chan ref)
	moving := map[ref]bool{}

	for {
		left := poweredOnVMs(h)
		if len(left) == 0 && len(moving) == 0 {
			break
		}
		for _, vm := range left {
			if moving[vm.self] {
				continue
			}
			dest, seq, ok := e.admit(h, destinations(h))
			if !ok {
				break
			}
			moving[vm.self] = true
			go func(vm, dest candidate) {
				if err := e.move(ctx, vm, h, dest, task, seq); err != nil {
					fmt.Fprintf(os.Stderr, "vcsim: moving %s off %s: %v\n", vm.name, h.Name, err)
					time.Sleep(evacuationPoll) // the VM is tried again: not in a tight loop
				}
				select {
				case finished <- vm.self:
				case <-quit:
				}
			}(vm, dest)
		}
		select {
		case vm := <-finished:
			delete(moving, vm)
		case <-expired:
			return &types.Timedout{}
		case <-time.After(evacuationPoll):
		}
	}

	simulator.Map.WithLock(h, func() {
		simulator.Map.Update(h, []types.PropertyChange{{Name: "runtime.inMaintenanceMode", Val: true}})
	})
	return nil
}

// poweredOnVMs are the VMs h runs that maintenance mode must move, by name.
func poweredOnVMs(h *simulator.HostSystem) []candidate {
	var refs []ref
	simulator.Map.WithLock(h, func() { refs = append(refs, h.Vm...) })
	var vms []candidate
	for _, r := range refs {
		vm, ok := simulator.Map.Get(r).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			on := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
			if on && vm.Runtime.Host != nil && *vm.Runtime.Host == h.Self {
				vms = append(vms, candidate{self: vm.Self, name: vm.Name})
			}
		})
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].name < vms[j].name })
	return vms
}

// destinations are the other connected hosts of h's cluster that are not in maintenance mode.
func destinations(h *simulator.HostSystem) []candidate {
	var parent *ref
	simulator.Map.WithLock(h, func() { parent = h.Parent })
	if parent == nil {
		return nil
	}
	cluster, ok := simulator.Map.Get(*parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil
	}
	var hosts []ref
	simulator.Map.WithLock(cluster, func() { hosts = append(hosts, cluster.Host...) })
	var found []candidate
	for _, r := range hosts {
		other, ok := simulator.Map.Get(r).(*simulator.HostSystem)
		if !ok || r == h.Self {
			continue
		}
		simulator.Map.WithLock(other, func() {
			up := other.Runtime.ConnectionState == types.HostSystemConnectionStateConnected
			if up && !other.Runtime.InMaintenanceMode {
				found = append(found, candidate{self: other.Self, name: other.Name, count: len(other.Vm)})
			}
		})
	}
	return found
}

// admit takes a slot on h and on the least loaded destination that has one free, if any.
func (e *evacuator) admit(h *simulator.HostSystem, hosts []candidate) (candidate, uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy[h.Self] >= e.limit {
		return candidate{}, 0, false
	}
	var open []candidate
	for _, c := range hosts {
		if !e.entering[c.self] && e.busy[c.self] < e.limit {
			open = append(open, c)
		}
	}
	if len(open) == 0 {
		return candidate{}, 0, false
	}
	// The VMs a host runs plus those on their way there: DRS would not send every VM to the same host.
	load := func(c candidate) int { return c.count + e.busy[c.self] }
	sort.Slice(open, func(i, j int) bool {
		if load(open[i]) != load(open[j]) {
			return load(open[i]) < load(open[j])
		}
		return open[i].name < open[j].name
	})
	e.busy[h.Self]++
	e.busy[open[0].self]++
	e.admitted++
	return open[0], e.admitted, true
}

// move takes one VM from h to dest: after the bridge's go, or after -vmotion-seconds, RelocateVM_Task.
func (e *evacuator) move(ctx *simulator.Context, vm candidate, h *simulator.HostSystem, dest candidate, task ref, seq uint64) error {
	defer func() {
		e.mu.Lock()
		e.busy[h.Self]--
		e.busy[dest.self]--
		e.mu.Unlock()
	}()
	if !e.bridge {
		time.Sleep(e.moveTime)
		return relocate(ctx, vm.self, dest.self)
	}
	m := &pendingMove{
		VM: vm.self.Value, VMName: vm.name, Source: h.Self.Value, SourceName: h.Name,
		Destination: dest.self.Value, DestinationName: dest.name, Task: task.Value,
		ID: seq, start: make(chan struct{}), done: make(chan error, 1),
	}
	e.mu.Lock()
	e.pending[m.VM] = m
	e.mu.Unlock()
	<-m.start
	err := relocate(ctx, vm.self, dest.self)
	m.done <- err
	return err
}

// relocate is RelocateVM_Task with spec.host, as a client would call it (patch 0003 moves the references).
func relocate(ctx *simulator.Context, self, host ref) error {
	vm, ok := simulator.Map.Get(self).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("VM %s is gone", self.Value)
	}
	req := &types.RelocateVM_Task{This: self, Spec: types.VirtualMachineRelocateSpec{Host: &host}}
	var body *methods.RelocateVM_TaskBody
	simulator.Map.WithLock(vm, func() { body = vm.RelocateVMTask(ctx, req).(*methods.RelocateVM_TaskBody) })
	task, ok := simulator.Map.Get(body.Res.Returnval).(*simulator.Task)
	if !ok {
		return fmt.Errorf("RelocateVM_Task of %s left no task", self.Value)
	}
	if task.Info.Error != nil {
		return fmt.Errorf("RelocateVM_Task of %s failed: %s", self.Value, task.Info.Error.LocalizedMessage)
	}
	return nil
}
