package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/intel"
)

// reloadBackend is a backend whose threat lists reload with a fixed
// outcome.
type reloadBackend struct {
	backend
	err   error
	calls int
}

func (b *reloadBackend) ReloadIntel(context.Context) (intel.ReloadStatus, error) {
	b.calls++
	st := intel.ReloadStatus{Dir: "/etc/vigil/intel", Lists: []intel.ListInfo{{Name: "acme", Kind: "threat", Format: intel.FormatTXT, Entries: 3}}}
	if b.err != nil {
		st.Failures, st.LastError = 1, b.err.Error()
	}
	return st, b.err
}

func post(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReloadIntel(t *testing.T) {
	b := &reloadBackend{}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Token: "tok"}, b, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(s.Close)
	url := "http://" + s.Addr() + "/api/v1/intel/reload"

	if code, _ := post(t, url, ""); code != http.StatusUnauthorized || b.calls != 0 {
		t.Errorf("without the token: %d, %d reloads", code, b.calls)
	}
	if code, _ := get(t, http.DefaultClient, url, "tok"); code != http.StatusMethodNotAllowed || b.calls != 0 {
		t.Errorf("GET: %d, %d reloads", code, b.calls)
	}
	code, body := post(t, url, "tok")
	var st intel.ReloadStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != http.StatusOK || len(st.Lists) != 1 || st.Lists[0].Entries != 3 {
		t.Errorf("reload: %d %s (%v)", code, body, err)
	}
	b.err = errors.New("intel: list file custom/acme.txt: line 2: \"x\" is not a domain")
	code, body = post(t, url, "tok")
	var failed struct {
		Error string           `json:"error"`
		Lists []intel.ListInfo `json:"lists"`
	}
	if err := json.Unmarshal([]byte(body), &failed); err != nil || code != http.StatusUnprocessableEntity ||
		!strings.Contains(failed.Error, "line 2") || len(failed.Lists) != 1 {
		t.Errorf("refused reload: %d %s (%v)", code, body, err)
	}
}

func TestReloadIntelUnsupported(t *testing.T) {
	s, _ := start(t, Config{})
	if code, body := post(t, "http://"+s.Addr()+"/api/v1/intel/reload", ""); code != http.StatusNotImplemented {
		t.Errorf("a backend without reloads: %d %s", code, body)
	}
}
