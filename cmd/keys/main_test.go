package main

import (
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/services/keys"
)

// TestPolicyFromEnvironment: the rotation policy and the per-claimer claim limit come from the environment,
// with the defaults of the README's configuration table, and bad values are refused by name.
func TestPolicyFromEnvironment(t *testing.T) {
	p, err := policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.ClaimBurst != keys.DefaultPolicy.ClaimBurst || p.ClaimEvery != keys.DefaultPolicy.ClaimEvery || p.MaxMessages != keys.DefaultPolicy.MaxMessages {
		t.Fatalf("defaults: %+v", p)
	}
	t.Setenv("PARLEY_KEYS_CLAIM_BURST", "5")
	t.Setenv("PARLEY_KEYS_CLAIM_EVERY", "250ms")
	t.Setenv("PARLEY_KEYS_ROTATE_MESSAGES", "4")
	if p, err = policy(); err != nil || p.ClaimBurst != 5 || p.ClaimEvery != 250*time.Millisecond || p.MaxMessages != 4 {
		t.Fatalf("configured: %+v %v", p, err)
	}
	t.Setenv("PARLEY_KEYS_CLAIM_BURST", "0")
	t.Setenv("PARLEY_KEYS_CLAIM_EVERY", "soon")
	_, err = policy()
	if err == nil || !strings.Contains(err.Error(), "PARLEY_KEYS_CLAIM_BURST") || !strings.Contains(err.Error(), "PARLEY_KEYS_CLAIM_EVERY") {
		t.Fatalf("bad values: %v", err)
	}
}

// TestSweepEveryFromEnvironment: the sweep period defaults to a minute; a bad value is refused by name.
func TestSweepEveryFromEnvironment(t *testing.T) {
	if d, err := sweepEvery(); err != nil || d != time.Minute {
		t.Fatalf("default: %v %v", d, err)
	}
	t.Setenv("PARLEY_KEYS_SWEEP_EVERY", "5s")
	if d, err := sweepEvery(); err != nil || d != 5*time.Second {
		t.Fatalf("configured: %v %v", d, err)
	}
	t.Setenv("PARLEY_KEYS_SWEEP_EVERY", "-1s")
	if _, err := sweepEvery(); err == nil || !strings.Contains(err.Error(), "PARLEY_KEYS_SWEEP_EVERY") {
		t.Fatalf("bad value: %v", err)
	}
}
