//go:build linux && !race

package crash

const raceBuild = false
