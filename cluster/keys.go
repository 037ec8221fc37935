package cluster

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/memberlist"
)

// ErrNotEncrypted is returned by SetKeys on a Membership that gossips in
// plain text: encryption cannot be turned on in a running cluster, since
// the nodes that have no key yet would no longer understand it.
var ErrNotEncrypted = errors.New("cluster: gossip runs without encryption; a keyring can only be replaced on a node started with a key")

// ParseKeys reads a gossip keyring: base64 keys of 16, 24 or 32 bytes, one
// per line, blank lines and lines starting with # ignored. The first key
// is the primary. A key listed twice counts once. Errors name the line,
// never its content.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("gossip keys: line %d: not valid base64", i+1)
		}
		if err := checkKey(key); err != nil {
			return nil, fmt.Errorf("gossip keys: line %d: %w", i+1, err)
		}
		if !containsKey(keys, key) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("gossip keys: no key (only blank lines and comments)")
	}
	return keys, nil
}

// checkKey checks an AES key's size, without quoting the key.
func checkKey(key []byte) error {
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return fmt.Errorf("key of %d bytes, want 16, 24 or 32", n)
	}
	return nil
}

// checkKeys checks a keyring: not empty, every key of a valid size.
func checkKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("cluster: empty gossip keyring")
	}
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("cluster: gossip key %d of %d: %w", i+1, len(keys), err)
		}
	}
	return nil
}

func containsKey(keys [][]byte, key []byte) bool {
	return slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) })
}

// SetKeys replaces the gossip keyring of the running node, without a
// restart: keys[0] becomes the primary, which encrypts what this node
// sends; every key in keys decrypts what it receives; keys no longer
// listed are dropped. On an error the keyring may hold the new keys in
// addition to the old ones, never fewer: call again with the keys wanted.
//
// To rotate the key of a running cluster without losing a message, every
// node must be able to decrypt a key before any node encrypts with it, and
// no node may still encrypt with a key when it is dropped:
//
//  1. Append the new key as a second line of the key file on every node,
//     and send each node SIGHUP (vigil run calls SetKeys with the file's
//     keys). The old key still encrypts; both decrypt.
//  2. Once every node has it, move the new key to the first line on every
//     node and send SIGHUP. Nodes now encrypt with the new key, and the
//     old one still decrypts what the others have not switched yet.
//  3. Once every node has switched, remove the old line on every node and
//     send SIGHUP.
//
// A node started with the file of any step joins the others. Keys are
// never logged nor put in errors.
func (m *Membership) SetKeys(keys [][]byte) error {
	if m.keyring == nil {
		return ErrNotEncrypted
	}
	if err := checkKeys(keys); err != nil {
		return err
	}
	m.keysMu.Lock()
	defer m.keysMu.Unlock()
	// Add before switching, and switch before removing: the primary in
	// use is never removed, and the new one is on the ring before it
	// encrypts.
	for i, k := range keys {
		if err := m.keyring.AddKey(bytes.Clone(k)); err != nil {
			return fmt.Errorf("cluster: adding gossip key %d: %w", i+1, err)
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("cluster: switching to the primary gossip key: %w", err)
	}
	if err := removeKeys(m.keyring, keys); err != nil {
		return fmt.Errorf("cluster: removing gossip keys: %w", err)
	}
	m.log.Debug("gossip keyring installed", "keys", len(keys))
	return nil
}

// removeKeys drops the keys of ring that keep does not list; keep[0] is
// the ring's primary. memberlist reads the slice GetKeys returns without
// the keyring's lock, and Keyring.RemoveKey shifts the keys after the one
// removed in place, under such readers; removing the last key shifts
// nothing. So keys are removed from the end, and a kept key that followed
// a removed one is removed and added back: it is missing for
// microseconds, and a packet encrypted with it then is lost like any UDP
// packet.
func removeKeys(ring *memberlist.Keyring, keep [][]byte) error {
	cur := slices.Clone(ring.GetKeys())
	first := slices.IndexFunc(cur, func(k []byte) bool { return !containsKey(keep, k) })
	if first < 0 {
		return nil
	}
	for i := len(cur) - 1; i >= first; i-- {
		if err := ring.RemoveKey(cur[i]); err != nil {
			return err
		}
	}
	for _, k := range cur[first+1:] {
		if containsKey(keep, k) {
			if err := ring.AddKey(k); err != nil {
				return err
			}
		}
	}
	return nil
}
