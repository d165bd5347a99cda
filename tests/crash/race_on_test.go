//go:build linux && race

package crash

// raceBuild: this test binary runs under the race detector, so the server binary is built with -race too
// (the compiled packages are then mostly in the build cache already, and the server's goroutines are checked).
const raceBuild = true
