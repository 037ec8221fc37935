package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/detect"
)

// typesBackend is a backend whose engine has custom detection rules.
type typesBackend struct {
	backend
	types []detect.TypeInfo
}

func (b *typesBackend) FindingTypes() []detect.TypeInfo { return b.types }

// TestFindingTypesWithRules: a backend that knows its finding types (the
// node: the catalogue and its custom rules' types) serves them.
func TestFindingTypesWithRules(t *testing.T) {
	b := &typesBackend{types: detect.New(detect.DefaultConfig()).Catalogue()}
	s, err := Listen(Config{Addr: "127.0.0.1:0"}, b, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(s.Close)
	code, body := get(t, http.DefaultClient, "http://"+s.Addr()+"/api/v1/finding-types", "")
	var got struct {
		FindingTypes []detect.TypeInfo `json:"findingTypes"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	if !reflect.DeepEqual(got.FindingTypes, b.types) || len(b.types) <= len(detect.Catalogue()) {
		t.Errorf("served %d types, want the backend's %d", len(got.FindingTypes), len(b.types))
	}
}
