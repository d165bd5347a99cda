package ratelimit

import (
	"testing"
	"time"
)

func TestBurstThenRefill(t *testing.T) {
	now := time.Unix(1000, 0)
	k := New(12*time.Second, 5) // 5 per minute
	k.now = func() time.Time { return now }
	for i := 0; i < 5; i++ {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("attempt %d refused inside the burst", i)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait <= 0 || wait > 12*time.Second {
		t.Fatalf("6th attempt: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := k.Allow("b"); !ok {
		t.Fatal("another key was limited")
	}
	now = now.Add(12 * time.Second)
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("no token after the refill interval")
	}
}

func TestIdleKeysAreForgotten(t *testing.T) {
	now := time.Unix(1000, 0)
	k := New(time.Second, 2)
	k.now = func() time.Time { return now }
	k.Allow("x")
	now = now.Add(time.Minute)
	k.Allow("y")
	if _, ok := k.buckets["x"]; ok {
		t.Fatal("idle key kept")
	}
}

func TestPeekAndSpendCountOnlySpentEvents(t *testing.T) {
	now := time.Unix(1000, 0)
	k := New(10*time.Second, 2)
	k.now = func() time.Time { return now }
	for i := 0; i < 5; i++ {
		if ok, _ := k.Peek("a"); !ok {
			t.Fatal("peeking took a token")
		}
	}
	k.Spend("a")
	k.Spend("a")
	ok, wait := k.Peek("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("after two spends: ok=%v wait=%v", ok, wait)
	}
	k.Spend("a") // in debt: the wait grows
	if _, wait := k.Peek("a"); wait != 20*time.Second {
		t.Fatalf("debt not counted: wait=%v", wait)
	}
	now = now.Add(20 * time.Second)
	if ok, _ := k.Peek("a"); !ok {
		t.Fatal("no token after the debt was paid")
	}
	if ok, _ := k.Peek("other"); !ok {
		t.Fatal("an unknown key is limited")
	}
}
