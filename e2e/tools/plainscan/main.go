// Command plainscan looks for plaintexts in everything one end-to-end run stored (the encrypted-DM scenario,
// issue #19): every row of the run's Cassandra messages table (raw and base64-decoded), every text, bytea and
// jsonb value in its Postgres database (chat tables and the key service's `keys` schema) and every document of
// its MongoDB database, and every stored file (objects and previews) under the run's PARLEY_STORAGE_DIR (the fs
// store). Usage: plainscan <needle>...; a needle "hex:<hex>" is raw bytes (a file's content); connection settings
// and names come from the run's environment. It prints one JSON line: {"found": [...], "cassandraRows",
// "encryptedRows", "postgresValues", "mongoDocuments", "storedFiles"}, and exits 1 on an error (never on a find:
// the test decides).
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var e2eName = regexp.MustCompile(`^(parley_)?e2e_[a-z0-9]+$`)

type report struct {
	Found          []string `json:"found"`
	CassandraRows  int      `json:"cassandraRows"`
	EncryptedRows  int      `json:"encryptedRows"`
	PostgresValues int      `json:"postgresValues"`
	MongoDocuments int      `json:"mongoDocuments"`
	StoredFiles    int      `json:"storedFiles"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "plainscan:", err)
		os.Exit(1)
	}
}

func run(needles []string) error {
	if len(needles) == 0 {
		return fmt.Errorf("no needles")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := report{Found: []string{}}
	raw := make([][]byte, len(needles))
	for i, n := range needles {
		raw[i] = []byte(n)
		if h, ok := strings.CutPrefix(n, "hex:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) == 0 {
				return fmt.Errorf("needle %d: bad hex", i)
			}
			raw[i] = b
		}
	}
	check := func(where string, b []byte) {
		for i, n := range needles {
			if bytes.Contains(b, raw[i]) {
				if len(n) > 40 {
					n = n[:40] + "…"
				}
				r.Found = append(r.Found, where+": "+n)
			}
		}
	}

	if dir := os.Getenv("PARLEY_STORAGE_DIR"); dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r.StoredFiles++
			rel, _ := filepath.Rel(dir, p)
			check("file "+rel, []byte(rel)) // the key names nothing either
			check("file "+rel, b)
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}

	ks := os.Getenv("PARLEY_CASSANDRA_KEYSPACE")
	if !e2eName.MatchString(ks) {
		return fmt.Errorf("refusing keyspace %q (not an e2e name)", ks)
	}
	cluster := gocql.NewCluster(strings.Split(os.Getenv("PARLEY_CASSANDRA_HOSTS"), ",")...)
	cluster.Keyspace = ks
	cluster.Timeout = 30 * time.Second
	s, err := cluster.CreateSession()
	if err != nil {
		return err
	}
	defer s.Close()
	it := s.Query(`SELECT message_id, content, encrypted FROM messages`).PageSize(500).IterContext(ctx)
	var id int64
	var content string
	var enc bool
	for it.Scan(&id, &content, &enc) {
		r.CassandraRows++
		if enc {
			r.EncryptedRows++
		}
		check(fmt.Sprintf("cassandra message %d", id), []byte(content))
		if dec, err := base64.StdEncoding.DecodeString(content); err == nil {
			check(fmt.Sprintf("cassandra message %d (base64-decoded)", id), dec)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}

	db, err := pgxpool.New(ctx, os.Getenv("PARLEY_POSTGRES_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(ctx, `SELECT table_schema, table_name, column_name FROM information_schema.columns
		WHERE table_schema IN ('public', 'keys') AND data_type IN ('text', 'bytea', 'character varying', 'jsonb')`)
	if err != nil {
		return err
	}
	var cols [][3]string
	for rows.Next() {
		var c [3]string
		if err := rows.Scan(&c[0], &c[1], &c[2]); err != nil {
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	for _, c := range cols {
		vals, err := db.Query(ctx, `SELECT convert_to("`+c[2]+`"::text, 'UTF8') FROM "`+c[0]+`"."`+c[1]+`" WHERE "`+c[2]+`" IS NOT NULL`)
		if err != nil {
			return err
		}
		for vals.Next() {
			var b []byte
			if err := vals.Scan(&b); err != nil {
				return err
			}
			r.PostgresValues++
			check("postgres "+c[0]+"."+c[1]+"."+c[2], b)
		}
		vals.Close()
	}

	name := os.Getenv("PARLEY_MONGO_DATABASE")
	if !e2eName.MatchString(name) {
		return fmt.Errorf("refusing Mongo database %q (not an e2e name)", name)
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(os.Getenv("PARLEY_MONGO_URI")).SetTimeout(20 * time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	mdb := mc.Database(name)
	names, err := mdb.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return err
	}
	for _, n := range names {
		cur, err := mdb.Collection(n).Find(ctx, bson.D{})
		if err != nil {
			return err
		}
		for cur.Next(ctx) {
			r.MongoDocuments++
			js, _ := bson.MarshalExtJSON(cur.Current, false, false)
			check("mongo "+n, js)
		}
		cur.Close(ctx)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
