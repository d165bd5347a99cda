// cqlping runs CQL statements against a Cassandra node and prints the rows, one per line, values separated by tabs.
// The stack scripts use it as the readiness probe (a real query, not an open port) and for ad-hoc checks:
//
//	cqlping 127.0.0.1:59042                         # SELECT release_version FROM system.local
//	cqlping 127.0.0.1:59042 "CREATE KEYSPACE ..." "SELECT * FROM ks.t"
//
// It uses the same driver and protocol as the server (apache/cassandra-gocql-driver v2, native protocol v5).
// Exit status 0 only if every statement succeeded.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

type quietLogger struct{}

func (quietLogger) Error(string, ...gocql.LogField)   {}
func (quietLogger) Warning(string, ...gocql.LogField) {}
func (quietLogger) Info(string, ...gocql.LogField)    {}
func (quietLogger) Debug(string, ...gocql.LogField)   {}

func main() {
	timeout := flag.Duration("timeout", 10*time.Second, "connect and per-statement timeout")
	proto := flag.Int("proto", 5, "native protocol version")
	keyspace := flag.String("keyspace", "", "keyspace to USE")
	verbose := flag.Bool("v", false, "log driver messages to stderr")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: cqlping [flags] host:port [CQL statement ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	stmts := flag.Args()[1:]
	if len(stmts) == 0 {
		stmts = []string{"SELECT release_version FROM system.local"}
	}

	cluster := gocql.NewCluster(flag.Arg(0))
	cluster.ProtoVersion = *proto
	cluster.Keyspace = *keyspace
	cluster.Timeout = *timeout
	cluster.ConnectTimeout = *timeout
	cluster.NumConns = 1
	cluster.Consistency = gocql.One
	cluster.Metadata.CacheMode = gocql.Disabled
	cluster.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1} // one attempt: fail fast (0 would add a nil conn)
	cluster.Logger = quietLogger{}
	if *verbose {
		cluster.Logger = gocql.NewLogger(gocql.LogLevelDebug)
	}

	session, err := cluster.CreateSession()
	if err != nil {
		fail("connect %s: %v", flag.Arg(0), err)
	}
	defer session.Close()

	for _, stmt := range stmts {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		err := printRows(session.Query(stmt).IterContext(ctx))
		cancel()
		if err != nil {
			session.Close()
			fail("%s: %v", stmt, err)
		}
	}
}

func printRows(iter *gocql.Iter) error {
	if len(iter.Columns()) == 0 { // DDL, INSERT, ...
		return iter.Close()
	}
	row, err := iter.RowData()
	if err != nil {
		iter.Close()
		return err
	}
	for iter.Scan(row.Values...) {
		cells := make([]string, len(row.Values))
		for i, v := range row.Values {
			cells[i] = fmt.Sprint(reflect.Indirect(reflect.ValueOf(v)).Interface())
		}
		fmt.Println(strings.Join(cells, "\t"))
	}
	return iter.Close()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cqlping: "+format+"\n", args...)
	os.Exit(1)
}
