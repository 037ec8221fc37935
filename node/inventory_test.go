package node

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadInventory(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if x, err := loadInventory("", log); x != nil || err != nil {
		t.Fatalf("no path: %v %v", x, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "eni.json")
	os.WriteFile(good, []byte(`{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.5"}]}`), 0o600)
	if x, err := loadInventory(good, log); err != nil || x.Facts("eni-1") == nil {
		t.Fatalf("good file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"Reservations": [{"Instances": [{"InstanceId": "nope"}]}]}`), 0o600)
	if _, err := loadInventory(bad, log); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file: %v", err)
	}
}
