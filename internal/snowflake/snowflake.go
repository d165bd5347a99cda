// Package snowflake generates 64-bit, time-ordered ids (Twitter/Discord style): sorting ids sorts by creation
// time, which lets Cassandra cluster messages by id and lets clients ask for "everything after id X".
//
// Layout: 1 unused sign bit | 41 bits milliseconds since Epoch | 10 bits node | 12 bits sequence.
package snowflake

import (
	"fmt"
	"sync"
	"time"
)

// Epoch is 2025-01-01T00:00:00Z; 41 bits of milliseconds last until 2094.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	nodeBits = 10
	seqBits  = 12
	maxNode  = 1<<nodeBits - 1
	maxSeq   = 1<<seqBits - 1
)

// Generator hands out unique, strictly increasing ids for one node. Safe for concurrent use.
type Generator struct {
	mu     sync.Mutex
	node   int64
	lastMs int64
	seq    int64
	now    func() time.Time
}

// New returns a generator for a node number in [0, 1023]. Two processes must never share a node number.
func New(node int64) (*Generator, error) {
	if node < 0 || node > maxNode {
		return nil, fmt.Errorf("snowflake: node %d out of range [0, %d]", node, maxNode)
	}
	return &Generator{node: node, now: time.Now}, nil
}

// Next returns the next id. If the clock goes backwards it keeps counting from the last timestamp, so ids
// never decrease; if 4,096 ids are used in one millisecond it borrows the next millisecond.
func (g *Generator) Next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.now().Sub(Epoch).Milliseconds()
	if ms > g.lastMs {
		g.lastMs = ms
		g.seq = 0
	} else {
		g.seq++
		if g.seq > maxSeq {
			g.lastMs++
			g.seq = 0
		}
	}
	return g.lastMs<<(nodeBits+seqBits) | g.node<<seqBits | g.seq
}

// Time returns the creation time encoded in an id.
func Time(id int64) time.Time {
	return Epoch.Add(time.Duration(id>>(nodeBits+seqBits)) * time.Millisecond)
}

// FirstIDAt returns the smallest id that can be generated at t, for range queries by time.
func FirstIDAt(t time.Time) int64 {
	ms := t.Sub(Epoch).Milliseconds()
	if ms < 0 {
		ms = 0
	}
	return ms << (nodeBits + seqBits)
}
