package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigil-sec/vigil/admin"
	"github.com/vigil-sec/vigil/kafka"
	"github.com/vigil-sec/vigil/node"
)

// target is what a scenario measures: a broker and vigil nodes.
type target struct {
	brokers []string
	topics  kafka.Topics
	nodes   []*nodeHandle
	dir     string // scratch directory of this scenario

	broker  *kafka.Broker // embedded, in this process
	inproc  *node.Node
	procs   []*exec.Cmd
	token   string
	http    *http.Client
	stopped bool
}

// nodeHandle is one vigil node and how to measure it.
type nodeHandle struct {
	Name    string
	Admin   string // host:port; "" when unknown
	PID     int    // the process; 0 when it is this process or unknown
	Self    bool   // the node runs in this process
	DataDir string // "" when unknown
	Log     string // its log file, if the harness started it
}

// startTarget starts what the configuration asks for: an embedded broker
// unless Brokers are given, then an in-process node, N processes, or
// nothing (nodes already running).
func startTarget(ctx context.Context, cfg *Config, dir string) (_ *target, err error) {
	t := &target{dir: dir, token: cfg.AdminToken, http: &http.Client{Timeout: 10 * time.Second}}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	t.topics = kafka.DefaultTopics()
	t.topics.Shards, t.topics.RawPartitions = int32(cfg.Shards), int32(cfg.RawPartitions)
	// The reference loop reads the raw records after vigil: vigil must not
	// delete them once ingested.
	t.topics.ManageRaw = false
	t.brokers = cfg.Brokers
	if len(t.brokers) == 0 {
		if t.broker, err = kafka.StartBroker("127.0.0.1:0", filepath.Join(dir, "broker")); err != nil {
			return nil, err
		}
		t.brokers = t.broker.Addrs()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	external := len(cfg.Brokers) > 0 && cfg.Nodes == 0
	if external {
		// The running nodes made the topics; check they exist.
		if err := topicsExist(ctx, cl, t.brokers, t.topics); err != nil {
			return nil, err
		}
	} else if err := kafka.Ensure(ctx, cl, t.topics); err != nil {
		return nil, err
	}
	switch {
	case external:
		for i, a := range cfg.Admin {
			h := &nodeHandle{Name: a, Admin: a}
			if i < len(cfg.DataDirs) {
				h.DataDir = cfg.DataDirs[i]
			}
			t.nodes = append(t.nodes, h)
		}
	case cfg.Nodes == 0:
		err = t.startInProcess(ctx, cfg)
	default:
		err = t.startProcesses(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return t, t.waitReady(ctx)
}

func topicsExist(ctx context.Context, cl *kgo.Client, brokers []string, t kafka.Topics) error {
	names := append(t.Raw(), kafka.EntitiesTopic, kafka.FindingsTopic)
	details, err := kadm.NewClient(cl).ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	for _, n := range names {
		if d, ok := details[n]; !ok || d.Err != nil {
			return fmt.Errorf("topic %s does not exist on %s: start vigil against these brokers first", n, strings.Join(brokers, ","))
		}
	}
	return nil
}

// sessionTimeout is the group session timeout of the nodes the harness
// starts. The harness drives the brokers to saturation, and the embedded
// one serves every request on one goroutine: in one 34-region CloudTrail
// run a heartbeat waited behind produce requests for longer than vigil
// run's 8s, and the node's shards were taken from it mid-phase.
const sessionTimeout = 30 * time.Second

func (t *target) startInProcess(ctx context.Context, cfg *Config) error {
	dataDir := filepath.Join(t.dir, "node")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	nc := node.Config{
		DataDir: dataDir, Kafka: kafka.Config{Brokers: t.brokers, SessionTimeout: sessionTimeout}, Topics: t.topics, Regions: cfg.Regions,
		FlushInterval: cfg.FlushInterval, IdleTimeout: 2 * time.Minute, MaxInFlight: 64, FlushRetryTimeout: 2 * time.Minute,
		TrimInterval: 10 * time.Second, DeadLetterExcerpt: 64, MaxEventBytes: 64 << 10, Logger: log,
	}
	nc.Admin.Addr, nc.Gossip.BindAddr = "127.0.0.1:0", "127.0.0.1:0"
	nc.Gossip.Name = "bench-inprocess"
	n, err := node.Start(ctx, nc)
	if err != nil {
		return err
	}
	t.inproc = n
	t.nodes = []*nodeHandle{{Name: nc.Gossip.Name, Admin: n.AdminAddr(), Self: true, DataDir: dataDir}}
	return nil
}

func (t *target) startProcesses(ctx context.Context, cfg *Config) error {
	var seed string
	for i := range cfg.Nodes {
		admin, gossip := freeAddr(), freeAddr()
		dataDir := filepath.Join(t.dir, fmt.Sprintf("node%d", i+1))
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		args := append(append([]string(nil), cfg.VigilCommand[1:]...), "run",
			"--brokers", strings.Join(t.brokers, ","), "--data-dir", dataDir,
			"--admin-addr", admin, "--gossip-addr", gossip, "--node-name", fmt.Sprintf("bench-node%d", i+1),
			"--shards", strconv.Itoa(cfg.Shards), "--raw-partitions", strconv.Itoa(cfg.RawPartitions),
			"--manage-raw-topics=false", "--regions", strings.Join(cfg.Regions, ","),
			"--flush-interval", cfg.FlushInterval.String(), "--kafka-session-timeout", sessionTimeout.String(), "--log-level", "warn")
		args = append(args, cfg.NodeArgs...)
		if seed != "" {
			// The first node must listen before the others join it.
			if err := waitListening(ctx, seed, time.Minute); err != nil {
				return fmt.Errorf("the first node's gossip: %w", err)
			}
			args = append(args, "--join", seed)
		} else {
			seed = gossip
		}
		cmd := exec.Command(cfg.VigilCommand[0], args...)
		cmd.Env = cfg.VigilEnv
		logPath := filepath.Join(t.dir, fmt.Sprintf("node%d.log", i+1))
		logf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		err = cmd.Start()
		logf.Close()
		if err != nil {
			return fmt.Errorf("starting %s: %w", cfg.VigilCommand[0], err)
		}
		t.procs = append(t.procs, cmd)
		t.nodes = append(t.nodes, &nodeHandle{Name: fmt.Sprintf("bench-node%d", i+1), Admin: admin, PID: cmd.Process.Pid, DataDir: dataDir, Log: logPath})
	}
	return nil
}

// waitListening waits until addr accepts TCP connections.
func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitReady waits until every node is ready and, in a cluster, every
// shard has an owner among them.
func (t *target) waitReady(ctx context.Context) error {
	if len(t.nodes) == 0 {
		return nil
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := t.ready(ctx)
		if err == nil {
			return nil
		}
		for i, p := range t.procs {
			if p.ProcessState != nil || syscall.Kill(p.Process.Pid, 0) != nil {
				return fmt.Errorf("node %d exited; its log: %s", i+1, tailFile(t.nodes[i].Log))
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nodes not ready: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (t *target) ready(ctx context.Context) error {
	for _, n := range t.nodes {
		if n.Admin == "" {
			continue
		}
		resp, err := t.get(ctx, n.Admin, "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: /readyz %s", n.Name, resp.Status)
		}
	}
	if len(t.procs) < 2 {
		return nil
	}
	var c admin.Cluster
	if err := t.getJSON(ctx, t.nodes[0].Admin, "/api/v1/cluster", &c); err != nil {
		return err
	}
	owners := make(map[string]bool)
	for _, s := range c.Shards {
		if s.Owner == "" {
			return fmt.Errorf("shard %d has no owner", s.Shard)
		}
		owners[s.Owner] = true
	}
	if len(owners) < min(len(t.procs), len(c.Shards)) {
		return fmt.Errorf("%d of %d nodes own shards", len(owners), len(t.procs))
	}
	return nil
}

// stopNodes stops the nodes the harness started, gracefully.
func (t *target) stopNodes() {
	if t.stopped {
		return
	}
	t.stopped = true
	if t.inproc != nil {
		t.inproc.Close()
	}
	for _, p := range t.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range t.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
}

func (t *target) close() {
	t.stopNodes()
	if t.broker != nil {
		t.broker.Close()
	}
}

func (t *target) get(ctx context.Context, addr, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.http.Do(req)
}

func (t *target) getJSON(ctx context.Context, addr, path string, v any) error {
	resp, err := t.get(ctx, addr, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s%s: %s %s", addr, path, resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// adminAddr is a node's admin endpoint to ask for the cluster's status.
func (t *target) adminAddr() string {
	for _, n := range t.nodes {
		if n.Admin != "" {
			return n.Admin
		}
	}
	return ""
}

// status returns the cluster's status, or nil when no node can be asked.
func (t *target) status(ctx context.Context) (*admin.Status, error) {
	a := t.adminAddr()
	if a == "" {
		return nil, nil
	}
	var st admin.Status
	if err := t.getJSON(ctx, a, "/api/v1/status", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// entities counts the cluster's entities of both kinds, a page at a time.
func (t *target) entities(ctx context.Context) (int64, error) {
	a := t.adminAddr()
	if a == "" {
		return 0, errors.New("no admin endpoint")
	}
	var n int64
	for _, kind := range []string{"principal", "network"} {
		cursor := ""
		for {
			var page admin.ActorList
			path := "/api/v1/actors?kind=" + kind + "&limit=10000"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			if err := t.getJSON(ctx, a, path, &page); err != nil {
				return n, err
			}
			n += int64(len(page.Actors))
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return n, nil
}

// nodeSample is one reading of a node's resources.
type nodeSample struct {
	RSS, Heap int64   // bytes; -1 unknown
	CPU       float64 // seconds of CPU used since it started; -1 unknown
}

// sample reads a node's resident memory, Go heap in use and CPU time.
func (t *target) sample(ctx context.Context, n *nodeHandle) nodeSample {
	s := nodeSample{RSS: -1, Heap: -1, CPU: -1}
	metrics := map[string]float64{}
	if n.Admin != "" {
		metrics = t.metrics(ctx, n.Admin)
	}
	if v, ok := metrics["go_memstats_heap_inuse_bytes"]; ok {
		s.Heap = int64(v)
	}
	switch {
	case n.Self:
		s.RSS = procRSS("self")
		s.CPU = selfCPU()
	case n.PID > 0:
		s.RSS = procRSS(strconv.Itoa(n.PID))
		s.CPU = procCPU(n.PID)
	default:
		if v, ok := metrics["process_resident_memory_bytes"]; ok {
			s.RSS = int64(v)
		}
		if v, ok := metrics["process_cpu_seconds_total"]; ok {
			s.CPU = v
		}
	}
	return s
}

// metrics reads a node's Prometheus metrics without labels' distinction:
// the first sample of each name (every metric carries the node label).
func (t *target) metrics(ctx context.Context, addr string) map[string]float64 {
	out := make(map[string]float64)
	resp, err := t.get(ctx, addr, "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		switch name {
		case "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total":
		default:
			continue
		}
		if _, seen := out[name]; seen {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// procRSS returns VmRSS of /proc/<pid>/status in bytes, or -1.
func procRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return -1
}

// procCPU returns utime+stime of /proc/<pid>/stat in seconds, or -1.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name may hold spaces: fields start after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// selfCPU returns this process's user and system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// compactedSize opens the closed Pebble database in dir, flushes its
// memtable and compacts it whole, closes it, and returns its size on disk:
// what the entities take once the write-ahead log and overwritten
// versions are gone (a short run leaves most data in the log, which says
// more about the run's length than about a profile's size).
func compactedSize(ctx context.Context, dir string) (int64, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		return -1, err
	}
	err = db.Flush()
	if err == nil {
		err = db.Compact(ctx, []byte{0}, bytes.Repeat([]byte{0xff}, 16), true)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, err
	}
	return dirSize(dir), nil
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)         {}
func (quietPebble) Errorf(string, ...any)        {}
func (quietPebble) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
