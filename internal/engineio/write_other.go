//go:build !unix

package engineio

// tryWrite never writes here: every frame goes through the writer goroutine (blocking writes).
func (t *wsTransport) tryWrite(b []byte) (int, error) { return 0, nil }

type rawWrite struct{}
