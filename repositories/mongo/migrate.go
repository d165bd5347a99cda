package mongo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

//go:embed migrations/*.json
var migrationFiles embed.FS

// Migrate applies pending migrations with golang-migrate. Each migration file is a JSON array of database
// commands (the format of golang-migrate's MongoDB driver); that driver is built on mongo-driver v1 and
// uses transactions FerretDB lacks, so this package supplies a small driver over the v2 client.
func Migrate(ctx context.Context, db *mongo.Database) (uint, error) {
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return 0, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "mongodb", &migrationDriver{ctx: ctx, db: db})
	if err != nil {
		return 0, fmt.Errorf("mongo: migrate: %w", err)
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("mongo: migrate up: %w", err)
	}
	v, _, err := m.Version()
	return v, err
}

// migrationDriver implements golang-migrate's database.Driver. The lock is a document with a unique _id;
// a lock older than two minutes is considered abandoned (FerretDB has no TTL indexes to expire it).
type migrationDriver struct {
	ctx context.Context
	db  *mongo.Database
}

const lockID = "migrate-lock"

func (d *migrationDriver) Open(string) (database.Driver, error) {
	return nil, errors.New("mongo migration driver: use Migrate")
}

func (d *migrationDriver) Close() error { return nil }

func (d *migrationDriver) Lock() error {
	coll := d.db.Collection("schema_lock")
	// Give up before golang-migrate's own 15 s lock timeout: a Lock still polling after migrate returned
	// could take the lock later and never release it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := coll.InsertOne(d.ctx, bson.D{{Key: "_id", Value: lockID}, {Key: "at", Value: time.Now()}})
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongo: taking migration lock: %w", err)
		}
		// Abandoned by a crashed migrator?
		_, _ = coll.DeleteOne(d.ctx, bson.D{{Key: "_id", Value: lockID}, {Key: "at", Value: bson.D{{Key: "$lt", Value: time.Now().Add(-2 * time.Minute)}}}})
		if time.Now().After(deadline) {
			return database.ErrLocked
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (d *migrationDriver) Unlock() error {
	_, err := d.db.Collection("schema_lock").DeleteOne(d.ctx, bson.D{{Key: "_id", Value: lockID}})
	return err
}

func (d *migrationDriver) Run(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var cmds []bson.D
	if err := bson.UnmarshalExtJSON(b, false, &cmds); err != nil {
		return fmt.Errorf("mongo: migration is not a JSON array of commands: %w", err)
	}
	for _, cmd := range cmds {
		if err := d.db.RunCommand(d.ctx, cmd).Err(); err != nil {
			var ce mongo.CommandError
			if errors.As(err, &ce) && ce.Code == 26 { // NamespaceNotFound: dropping what is not there is fine
				continue
			}
			return fmt.Errorf("mongo: running %v: %w", cmd, err)
		}
	}
	return nil
}

func (d *migrationDriver) SetVersion(version int, dirty bool) error {
	coll := d.db.Collection("schema_migrations")
	if version < 0 {
		_, err := coll.DeleteOne(d.ctx, bson.D{{Key: "_id", Value: "version"}})
		return err
	}
	_, err := coll.ReplaceOne(d.ctx, bson.D{{Key: "_id", Value: "version"}},
		bson.D{{Key: "_id", Value: "version"}, {Key: "version", Value: version}, {Key: "dirty", Value: dirty}},
		options.Replace().SetUpsert(true))
	return err
}

func (d *migrationDriver) Version() (int, bool, error) {
	var doc struct {
		Version int  `bson:"version"`
		Dirty   bool `bson:"dirty"`
	}
	err := d.db.Collection("schema_migrations").FindOne(d.ctx, bson.D{{Key: "_id", Value: "version"}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return database.NilVersion, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return doc.Version, doc.Dirty, nil
}

func (d *migrationDriver) Drop() error { return d.db.Drop(d.ctx) }
