// Command dropdata removes the MongoDB database and the Cassandra keyspace of one end-to-end run (named by
// PARLEY_MONGO_DATABASE and PARLEY_CASSANDRA_KEYSPACE; connection settings as for the server). Only names made
// by the e2e suite are accepted, so it can never drop the application's own data.
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	mongoName    = regexp.MustCompile(`^parley_e2e_[a-z0-9]+$`)
	keyspaceName = regexp.MustCompile(`^e2e_[a-z0-9]+$`)
)

func main() {
	failed := false
	if err := dropMongo(os.Getenv("PARLEY_MONGO_URI"), os.Getenv("PARLEY_MONGO_DATABASE")); err != nil {
		fmt.Fprintln(os.Stderr, "dropdata: mongo:", err)
		failed = true
	}
	if err := dropKeyspace(os.Getenv("PARLEY_CASSANDRA_HOSTS"), os.Getenv("PARLEY_CASSANDRA_KEYSPACE")); err != nil {
		fmt.Fprintln(os.Stderr, "dropdata: cassandra:", err)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
}

func dropMongo(uri, name string) error {
	if !mongoName.MatchString(name) {
		return fmt.Errorf("refusing to drop database %q (not an e2e name)", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(20 * time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	if err := client.Database(name).Drop(ctx); err != nil {
		return err
	}
	fmt.Println("[e2e] dropped Mongo database", name)
	return nil
}

func dropKeyspace(hosts, name string) error {
	if !keyspaceName.MatchString(name) {
		return fmt.Errorf("refusing to drop keyspace %q (not an e2e name)", name)
	}
	cluster := gocql.NewCluster(strings.Split(hosts, ",")...)
	cluster.Timeout = 60 * time.Second // schema changes are slow on a busy single node
	cluster.ConnectTimeout = 10 * time.Second
	s, err := cluster.CreateSession()
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
	defer cancel()
	if err := s.Query("DROP KEYSPACE IF EXISTS " + name).ExecContext(ctx); err != nil {
		return err
	}
	fmt.Println("[e2e] dropped Cassandra keyspace", name)
	return nil
}
