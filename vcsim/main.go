// Command vcsim is a vcsim-compatible vCenter simulator for the vSphere 8 vMotion notification settings.
//
// It runs govmomi's simulator (Debian's 0.24.2, patched by vcsim/patches at build time so that
// VirtualMachineConfigSpec/ConfigInfo carry vmOpNotificationToAppEnabled and vmOpNotificationTimeout),
// advertises an API version new enough that pyvmomi sends both fields (8.0.1.0 by default), and gives
// every host the advanced option VmOpNotificationToApp.Timeout the way ESXi 8 does (see host_options.go).
//
// It listens on loopback only. Once it serves, it prints shell "export" lines (the same as the -E file) so a
// caller that asked for port 0 learns the port.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
)

// Exit statuses: 2 for a bad command line (like flag's own errors), 1 for a failure to start.
const (
	exitUsage = 2
	exitStart = 1
)

// maxVmotionSeconds bounds -vmotion-seconds: a day is more than any test waits, and far from overflow.
const maxVmotionSeconds = 86400

type options struct {
	listen          string
	envFile         string
	apiVersion      string
	username        string
	password        string
	esxMode         bool
	hostTimeout     int64
	hardwareVersion string
	toolsVersion    int
	stdinExit       bool
	trace           bool
	datacenter      int
	cluster         int
	clusterHost     int
	standaloneHost  int
	machine         int
	datastore       int
	folder          int
	pool            int
	app             int
	pod             int
	portgroup       int
	portgroupNSX    int
	opaqueNetwork   int
	delay           int
	delayJitter     float64
	methodDelay     string
	vmotionLimit    int
	vmotionSeconds  float64
	vmotionBridge   bool
}

func parseFlags(args []string) (*options, *simulator.Model, error) {
	o := &options{}
	fs := flag.NewFlagSet("vcsim", flag.ContinueOnError)
	vpx := simulator.VPX()

	fs.StringVar(&o.listen, "l", "127.0.0.1:8989", "listen address `HOST:PORT` on loopback (port 0 picks a free port)")
	fs.StringVar(&o.envFile, "E", "", "write the connection variables (shell export lines) to `FILE` once serving")
	fs.StringVar(&o.apiVersion, "api-version", "8.0.1.0",
		"vSphere API version to advertise; pyvmomi drops fields newer than the negotiated version")
	fs.StringVar(&o.username, "username", "user", "login user name")
	fs.StringVar(&o.password, "password", "pass", "login password")
	fs.BoolVar(&o.esxMode, "esx", false, "simulate a standalone ESXi host instead of vCenter")
	fs.Int64Var(&o.hostTimeout, "host-timeout", 0,
		"initial value of every host's VmOpNotificationToApp.Timeout option, in seconds (>= 0)")
	fs.StringVar(&o.hardwareVersion, "hw-version", "vmx-20",
		"virtual hardware version of the VMs (notifications need vmx-20 or later)")
	fs.IntVar(&o.toolsVersion, "tools-version", 12389,
		"VMware Tools version number reported by the VMs' guests (12389 is 12.3.5; 0 reports no Tools)")
	fs.BoolVar(&o.stdinExit, "stdinexit", false, "exit when standard input closes (so a parent's death stops us)")
	fs.BoolVar(&o.trace, "trace", false, "write SOAP traffic to stderr")
	fs.IntVar(&o.datacenter, "dc", vpx.Datacenter, "number of datacenters")
	fs.IntVar(&o.cluster, "cluster", vpx.Cluster, "number of clusters per datacenter")
	fs.IntVar(&o.clusterHost, "host", vpx.ClusterHost, "number of hosts per cluster")
	fs.IntVar(&o.standaloneHost, "standalone-host", vpx.Host, "number of standalone hosts per datacenter")
	fs.IntVar(&o.machine, "vm", vpx.Machine, "number of VMs per resource pool (cluster or standalone host)")
	fs.IntVar(&o.datastore, "ds", vpx.Datastore, "number of datastores")
	fs.IntVar(&o.folder, "folder", vpx.Folder, "number of folders")
	fs.IntVar(&o.pool, "pool", vpx.Pool, "number of child resource pools per cluster")
	fs.IntVar(&o.app, "app", vpx.App, "number of virtual apps per cluster")
	fs.IntVar(&o.pod, "pod", vpx.Pod, "number of storage pods per datacenter")
	fs.IntVar(&o.portgroup, "pg", vpx.Portgroup, "number of distributed port groups")
	fs.IntVar(&o.portgroupNSX, "pg-nsx", vpx.PortgroupNSX, "number of NSX-backed distributed port groups")
	fs.IntVar(&o.opaqueNetwork, "nsx", vpx.OpaqueNetwork, "number of NSX-backed opaque networks")
	fs.IntVar(&o.delay, "delay", 0, "delay of every method, in milliseconds")
	fs.Float64Var(&o.delayJitter, "delay-jitter", 0, "jitter coefficient of the delays")
	fs.StringVar(&o.methodDelay, "method-delay", "", "per-method delays, `NAME:MS,NAME:MS`")

	fs.IntVar(&o.vmotionLimit, "vmotion-limit", 8,
		"concurrent vMotions per host in maintenance mode (VMware's maximums: 4 on 1 GbE, 8 on 10 GbE)")
	fs.Float64Var(&o.vmotionSeconds, "vmotion-seconds", 0,
		"how long each vMotion of maintenance mode takes without a bridge, in seconds")
	fs.BoolVar(&o.vmotionBridge, "vmotion-bridge", false,
		"each vMotion of maintenance mode waits for the bridge's go (POST /vmotion/go?vm=REF)")

	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.hostTimeout < 0 {
		return nil, nil, fmt.Errorf("-host-timeout must be >= 0, got %d", o.hostTimeout)
	}
	if o.vmotionLimit < 1 {
		return nil, nil, fmt.Errorf("-vmotion-limit must be >= 1, got %d", o.vmotionLimit)
	}
	if !(o.vmotionSeconds >= 0 && o.vmotionSeconds <= maxVmotionSeconds) {
		return nil, nil, fmt.Errorf("-vmotion-seconds must be from 0 to %d, got %g", maxVmotionSeconds, o.vmotionSeconds)
	}
	if err := checkAPIVersion(o.apiVersion); err != nil {
		return nil, nil, err
	}
	if err := checkLoopback(o.listen); err != nil {
		return nil, nil, err
	}

	model := vpx
	if o.esxMode {
		model = simulator.ESX()
	} else {
		model.Datacenter = o.datacenter
		model.Cluster = o.cluster
		model.ClusterHost = o.clusterHost
		model.Host = o.standaloneHost
		model.Folder = o.folder
		model.Pool = o.pool
		model.App = o.app
		model.Pod = o.pod
		model.Portgroup = o.portgroup
		model.PortgroupNSX = o.portgroupNSX
		model.OpaqueNetwork = o.opaqueNetwork
	}
	model.Machine = o.machine
	model.Datastore = o.datastore
	model.DelayConfig.Delay = o.delay
	model.DelayConfig.DelayJitter = o.delayJitter
	delays, err := parseMethodDelay(o.methodDelay)
	if err != nil {
		return nil, nil, err
	}
	model.DelayConfig.MethodDelay = delays
	return o, model, nil
}

// checkAPIVersion accepts dotted numbers such as 6.5, 7.0.3.0 or 8.0.1.0.
func checkAPIVersion(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return fmt.Errorf("-api-version must look like 8.0.1.0, got %q", v)
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return fmt.Errorf("-api-version must look like 8.0.1.0, got %q", v)
		}
	}
	return nil
}

// checkLoopback refuses any address that would expose the simulator beyond this machine.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-l must be HOST:PORT, got %q", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("-l port must be 0-65535, got %q", port)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-l must be a loopback address (127.0.0.0/8, ::1 or localhost), got %q", host)
	}
	return nil
}

func parseMethodDelay(spec string) (map[string]int, error) {
	if spec == "" {
		return nil, nil
	}
	delays := map[string]int{}
	for _, item := range strings.Split(spec, ",") {
		name, ms, ok := strings.Cut(item, ":")
		n, err := strconv.Atoi(ms)
		if !ok || name == "" || err != nil || n < 0 {
			return nil, fmt.Errorf("-method-delay items must be NAME:MS, got %q", item)
		}
		delays[name] = n
	}
	return delays, nil
}

// productVersion turns an API version (8.0.1.0) into the product version shown in AboutInfo (8.0.1).
func productVersion(api string) string {
	parts := strings.Split(api, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	return strings.Join(parts[:3], ".")
}

func advertise(model *simulator.Model, api string) {
	version := productVersion(api)
	model.ServiceContent.About.ApiVersion = api
	model.ServiceContent.About.Version = version
	model.ServiceContent.About.FullName = fmt.Sprintf("%s %s build-0 (vcsim)", model.ServiceContent.About.Name, version)
	// Hosts copy this at creation; their product must match the API they claim to speak.
	esx.HostConfigInfo.Product.ApiVersion = api
	esx.HostConfigInfo.Product.Version = version
	esx.HostConfigInfo.Product.FullName = fmt.Sprintf("VMware ESXi %s build-0 (vcsim)", version)
}

// shellQuote makes a value safe inside a POSIX shell "export" line.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == ':' || r == '/' || r == '@' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envLines are what a caller needs to connect: govc's variables and the VMWARE_* ones our helper reads.
func envLines(u *url.URL, o *options) string {
	port := u.Port()
	withUser := *u
	withUser.User = url.UserPassword(o.username, o.password)
	vars := [][2]string{
		{"GOVC_URL", withUser.String()},
		{"GOVC_INSECURE", "1"},
		{"GOVC_SIM_PID", strconv.Itoa(os.Getpid())},
		{"VMWARE_HOST", u.Hostname()},
		{"VMWARE_PORT", port},
		{"VMWARE_USER", o.username},
		{"VMWARE_PASSWORD", o.password},
		// The certificate is a self-signed test certificate.
		{"VMWARE_VALIDATE_CERTS", "false"},
	}
	var b strings.Builder
	for _, kv := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

// writeFileAtomic writes through a temporary file so a reader never sees half the variables.
func writeFileAtomic(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func run(args []string, stdout, stderr io.Writer) int {
	o, model, err := parseFlags(args)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "vcsim: %v\n", err)
		return exitUsage
	}

	// Before anything is announced: a caller may signal us as soon as it has read the port.
	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)

	esx.HardwareVersion = o.hardwareVersion
	advertise(model, o.apiVersion)
	simulator.Trace = o.trace

	if err := model.Create(); err != nil {
		fmt.Fprintf(stderr, "vcsim: cannot create the inventory: %v\n", err)
		return exitStart
	}
	if err := installHostOptions(o.hostTimeout); err != nil {
		fmt.Fprintf(stderr, "vcsim: %v\n", err)
		return exitStart
	}
	setGuestTools(o.toolsVersion)

	moveTime := time.Duration(o.vmotionSeconds * float64(time.Second))
	newEvacuator(o.vmotionLimit, moveTime, o.vmotionBridge).install(model.Service, o.username, o.password)

	model.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}
	model.Service.TLS = new(tls.Config)
	server := model.Service.NewServer()
	defer server.Close()
	defer model.Remove()

	env := envLines(server.URL, o)
	if o.envFile != "" {
		if err := writeFileAtomic(o.envFile, env); err != nil {
			fmt.Fprintf(stderr, "vcsim: cannot write %s: %v\n", o.envFile, err)
			return exitStart
		}
	}
	fmt.Fprint(stdout, env)
	fmt.Fprintf(stderr, "vcsim: serving https://%s/sdk (API %s)\n", server.URL.Host, o.apiVersion)

	if o.stdinExit {
		go func() {
			_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
			done <- syscall.SIGHUP
		}()
	}
	<-done
	if o.envFile != "" {
		_ = os.Remove(o.envFile)
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
