//go:build tools

// Package tools pins the Versity S3 Gateway (Apache-2.0), the S3-compatible server of the local stack:
// scripts/stack/versitygw.sh builds github.com/versity/versitygw/cmd/versitygw from this module into
// .local/bin. It has its own module so its ~80 dependencies stay out of the server's go.mod.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
