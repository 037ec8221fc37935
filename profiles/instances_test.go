package profiles

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestCredentialsCapsAndOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)
	type obs struct {
		id, addr string
		at       int
	}
	var all []obs
	for i := range MaxInstances + 10 {
		id := fmt.Sprintf("i-%017x", i)
		all = append(all, obs{id, "", i * 10})
		for j := range MaxInstanceAddrs + 3 {
			all = append(all, obs{id, fmt.Sprintf("10.0.%d.%d", i, j), i*10 + j})
		}
	}
	apply := func(order []obs) Credentials {
		var c Credentials
		for _, o := range order {
			c.ObserveInstance(o.id, ViaSession, t0.Add(time.Duration(o.at)*time.Minute), o.addr, ViaVPCEndpoint)
		}
		for i := range MaxAccessKeys + 4 {
			c.ObserveKey(fmt.Sprintf("AKIA%016d", i), t0.Add(time.Duration(i)*time.Hour), i == 3)
		}
		c.ObserveQuarantine(t0.Add(5 * time.Hour))
		c.ObserveQuarantine(t0.Add(2 * time.Hour))
		return c
	}
	fwd := apply(all)
	rev := make([]obs, len(all))
	for i, o := range all {
		rev[len(all)-1-i] = o
	}
	if back := apply(rev); !reflect.DeepEqual(fwd, back) {
		t.Fatal("the state depends on the order of the events")
	}
	if len(fwd.Instances) != MaxInstances || len(fwd.Keys) != MaxAccessKeys || !fwd.QuarantinedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("%d instances, %d keys, quarantined %v", len(fwd.Instances), len(fwd.Keys), fwd.QuarantinedAt)
	}
	for _, in := range fwd.Instances {
		if len(in.Addrs) > MaxInstanceAddrs {
			t.Fatalf("%s: %d addresses", in.ID, len(in.Addrs))
		}
	}
	// The most recently seen instances are kept.
	if fwd.Instance(fmt.Sprintf("i-%017x", MaxInstances+9)) == nil || fwd.Instance(fmt.Sprintf("i-%017x", 0)) != nil {
		t.Fatal("eviction kept the wrong instances")
	}

	p := NewPrincipal("111122223333", "us-east-1", "arn:aws:iam::111122223333:role/app")
	p.observe(t0.Add(1000 * time.Hour))
	p.Credentials = fwd
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b); n > MaxCredentialsSize+1024 {
		t.Errorf("encoding of a full credential state: %d bytes, over MaxCredentialsSize %d", n, MaxCredentialsSize)
	}
	var q Principal
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Credentials, fwd) {
		t.Fatal("the credential state does not round-trip")
	}
	// Hostile bytes: every truncation fails cleanly.
	for i := range b {
		var r Principal
		_ = r.UnmarshalBinary(b[:i])
	}
}
