package node

import (
	"log/slog"

	"github.com/vigil-sec/vigil/inventory"
)

// loadInventory loads the --inventory file or directory, or returns nil
// when none is given. A file that does not load stops the node, as the
// other input files do.
func loadInventory(path string, log *slog.Logger) (*inventory.Index, error) {
	if path == "" {
		return nil, nil
	}
	x, err := inventory.Load(path)
	if err != nil {
		return nil, err
	}
	log.Info("EC2 inventory loaded", "instances", x.Instances, "interfaces", x.Interfaces, "path", path)
	return x, nil
}
