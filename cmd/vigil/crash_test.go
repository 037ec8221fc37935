package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the vigil binary: with VIGIL_TEST_MAIN set it
// runs the command line instead of the tests, so the crash test can start
// real vigil processes and kill them.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func vigilProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1")
	logf, err := os.Create(filepath.Join(t.TempDir(), "vigil.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s log:\n%s", args[0], tail(string(b), 4000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// bigFlowFile writes copies of the tour's flow log, each shifted one hour
// later, so that a node is still applying records when it is killed.
func bigFlowFile(t *testing.T, copies int) string {
	t.Helper()
	src, err := os.ReadFile("../../testdata/tour/vpcflow/scan-bruteforce-web.log")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for c := range copies {
		for _, line := range strings.Split(strings.TrimSpace(string(src)), "\n") {
			f := strings.Fields(line)
			for _, i := range []int{10, 11} {
				var ts int64
				fmt.Sscan(f[i], &ts)
				f[i] = fmt.Sprint(ts + int64(c)*3600)
			}
			b.WriteString(strings.Join(f, " "))
			b.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "flows.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCrash kills a node (SIGKILL) while it applies records, with Kafka in
// another process, and restarts it: nothing may be lost or applied twice,
// so findings and profiles equal those of an uninterrupted run.
func TestCrash(t *testing.T) {
	interrupted(t, func(p *processNode) {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		p.start()
	}, "killed the node")
}

// TestStoppedNode stops a node (SIGSTOP) while it applies records, for
// longer than the Kafka session timeout, as a paused VM or a stalled
// process would be, and lets it go on: the groups dropped it meanwhile, so
// it must rejoin, take its partitions back and apply everything. Ingest
// once waited for ever in the transaction it had open when stopped.
func TestStoppedNode(t *testing.T) {
	interrupted(t, func(p *processNode) {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // past the session timeout: both groups drop the node
		if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}, "stopped the node for 10s")
}

// interrupted replays records into a node running in its own process,
// with Kafka in another, does something to the node (interrupt) once it
// has applied some, then waits until everything is applied: every profile
// and finding must equal those of an uninterrupted run.
func interrupted(t *testing.T, interrupt func(*processNode), what string) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	input := append([]string{bigFlowFile(t, 200)}, tour...)
	want := func() map[string]string {
		n := startNode(t, t.TempDir(), freeAddr(t))
		defer n.Close()
		n.replay(t, input...)
		return n.state(t)
	}()

	p := startProcessNode(t)
	vigil(t, append([]string{"replay", "--brokers", p.broker}, input...)...)
	var st struct {
		Applied int64 `json:"appliedEvents"`
	}
	waitFor(t, "some records applied", func() bool {
		p.get(t, "/api/v1/status", &st)
		return st.Applied > 0
	})
	interrupt(p)
	t.Logf("%s after %d events applied", what, st.Applied)
	p.replay(t)
	got := p.state(t)
	if len(got) != len(want) {
		t.Errorf("%d findings and profiles, want %d", len(got), len(want))
	}
	diffs := 0
	for k, w := range want {
		if g := got[k]; g != w && diffs < 5 {
			diffs++
			t.Errorf("%s differs from the uninterrupted run:\n got %s\nwant %s", k, g, w)
		}
	}
}

// processNode is a vigil run process with the embedded broker in a vigil
// broker process.
type processNode struct {
	testNode
	t    *testing.T
	args []string
	cmd  *exec.Cmd
}

// startProcessNode starts a broker process and a node process and waits
// until the node is ready.
func startProcessNode(t *testing.T) *processNode {
	p := &processNode{testNode: testNode{broker: freeAddr(t), admin: freeAddr(t)}, t: t}
	vigilProcess(t, "broker", "--addr", p.broker, "--data-dir", t.TempDir(), "--shards", "4", "--raw-partitions", "1", "--log-level", "warn")
	waitFor(t, "broker listening", func() bool {
		c, err := net.Dial("tcp", p.broker)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	p.args = []string{"run", "--brokers", p.broker, "--data-dir", t.TempDir(), "--admin-addr", p.admin,
		"--gossip-addr", "127.0.0.1:0", "--shards", "4", "--raw-partitions", "1", "--flush-interval", "50ms",
		"--regions", "us-east-1,us-west-2,eu-west-1", "--kafka-session-timeout", "6s", "--kafka-heartbeat-interval", "1s", "--log-level", "info"}
	p.start()
	return p
}

// start starts the node process (again, on the same data directory) and
// waits until it is ready.
func (p *processNode) start() {
	p.cmd = vigilProcess(p.t, p.args...)
	waitFor(p.t, "node ready", func() bool {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}
