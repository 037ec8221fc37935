package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/intel"
	"github.com/vigil-sec/vigil/node"
)

// TestIntelReload: a node's customer threat list replaced while it runs,
// by POST /api/v1/intel/reload and by polling; a malformed replacement is
// refused, reported in the status and the metrics, and the old list stays.
func TestIntelReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	intelDir := t.TempDir()
	writeFile := func(name, data string, step int) {
		t.Helper()
		p := filepath.Join(intelDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(time.Duration(step) * time.Minute)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("custom/lists.json", `{"lists": [{"name": "acme", "format": "TXT", "kind": "threat", "file": "acme.txt"}]}`, 0)
	writeFile("custom/acme.txt", "192.0.2.0/24\n", 0)
	n := startNode(t, t.TempDir(), freeAddr(t), func(c *node.Config) {
		c.IntelDir = intelDir
		c.IntelReloadInterval = 50 * time.Millisecond
	})
	defer n.Close()

	seq := 0
	call := func(ip string) {
		t.Helper()
		seq++
		rec := fmt.Sprintf(`{"Records": [{"eventVersion": "1.10", "eventTime": "2026-03-08T21:44:%02dZ", "eventSource": "iam.amazonaws.com",
			"eventName": "CreateUser", "awsRegion": "us-east-1", "sourceIPAddress": %q, "userAgent": "aws-cli/2.15.30",
			"eventType": "AwsApiCall", "recipientAccountId": "111122223333", "eventID": "5d8b1c3e-0000-4000-8000-%012d",
			"managementEvent": true, "eventCategory": "Management", "readOnly": false,
			"userIdentity": {"type": "IAMUser", "principalId": "AIDA3XFRBF23EXAMPLE1", "arn": "arn:aws:iam::111122223333:user/alice",
				"accountId": "111122223333", "accessKeyId": "AKIA3XFRBF23EXAMPLE1", "userName": "alice"}}]}`, seq, ip, seq)
		p := filepath.Join(t.TempDir(), fmt.Sprintf("call-%d.json", seq))
		if err := os.WriteFile(p, []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
		n.replay(t, p)
	}
	// custom returns the .Custom findings by caller: list and entry.
	custom := func() map[string]string {
		out := map[string]string{}
		for _, f := range n.findings(t, "?type=UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom") {
			var v struct {
				Service struct {
					Action struct {
						AwsAPICallAction struct {
							RemoteIPDetails struct {
								IPAddressV4 string `json:"ipAddressV4"`
							} `json:"remoteIpDetails"`
						} `json:"awsApiCallAction"`
					} `json:"action"`
					Evidence struct {
						TI []struct {
							List  string   `json:"threatListName"`
							Names []string `json:"threatNames"`
						} `json:"threatIntelligenceDetails"`
					} `json:"evidence"`
				} `json:"service"`
			}
			if err := json.Unmarshal(f.raw, &v); err != nil {
				t.Fatal(err)
			}
			for _, ti := range v.Service.Evidence.TI {
				out[v.Service.Action.AwsAPICallAction.RemoteIPDetails.IPAddressV4] = ti.List + " " + strings.Join(ti.Names, ",")
			}
		}
		return out
	}
	post := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Post("http://"+n.admin+"/api/v1/intel/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return resp.StatusCode, v
	}

	call("192.0.2.10")
	call("203.0.113.10")
	if got := custom(); got["192.0.2.10"] != "acme 192.0.2.0/24" || len(got) != 1 {
		t.Fatalf("before the change: %v", got)
	}

	// Replaced, then reloaded at once by the admin call.
	writeFile("custom/acme.txt", "203.0.113.0/24\n", 1)
	code, v := post()
	if code != http.StatusOK || !strings.Contains(fmt.Sprint(v["lists"]), "acme") {
		t.Fatalf("reload: %d %v", code, v)
	}
	call("203.0.113.11")
	if got := custom(); got["203.0.113.11"] != "acme 203.0.113.0/24" || len(got) != 2 {
		t.Fatalf("after the reload: %v", got)
	}

	// A malformed replacement: refused by polling and by the admin call.
	writeFile("custom/acme.txt", "203.0.113.0/24\nnot a valid entry\n", 2)
	var st struct {
		Intel intel.ReloadStatus `json:"intel"`
	}
	waitFor(t, "the refused reload in the status", func() bool {
		n.get(t, "/api/v1/status", &st)
		return st.Intel.Failures > 0
	})
	if !strings.Contains(st.Intel.LastError, "custom/acme.txt: line 2") || st.Intel.Dir != intelDir {
		t.Errorf("status: %+v", st.Intel)
	}
	if code, v := post(); code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(v["error"]), "line 2") {
		t.Errorf("reload of a malformed list: %d %v", code, v)
	}
	if f := n.metric(t, "vigil_intel_reload_failures_total"); f < 2 {
		t.Errorf("vigil_intel_reload_failures_total = %g", f)
	}
	call("203.0.113.12")
	call("192.0.2.12")
	if got := custom(); got["203.0.113.12"] != "acme 203.0.113.0/24" || len(got) != 3 {
		t.Errorf("after the refused reload: %v", got)
	}

	// Fixed: the poll puts it in force.
	writeFile("custom/acme.txt", "198.51.100.0/24\n", 3)
	waitFor(t, "the polled reload", func() bool {
		st.Intel = intel.ReloadStatus{} // absent fields are not zeroed by Unmarshal
		n.get(t, "/api/v1/status", &st)
		return st.Intel.LastError == "" && st.Intel.Reloads >= 2
	})
	call("198.51.100.12")
	if got := custom(); got["198.51.100.12"] != "acme 198.51.100.0/24" || len(got) != 4 {
		t.Errorf("after the polled reload: %v", got)
	}
}
