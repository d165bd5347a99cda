// Package mongo stores the frequently updated data (presence, channel metadata, read state) in MongoDB with
// the official v2 driver. It uses only operations that real MongoDB and FerretDB 1.x both implement
// (see README: "MongoDB features we rely on").
package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Connect opens a client and checks that the server answers a real command.
func Connect(ctx context.Context, uri string) (*mongo.Client, error) {
	return ConnectObserved(ctx, uri, nil)
}

// ConnectObserved is Connect with every command reported to obs (nil: none).
func ConnectObserved(ctx context.Context, uri string, obs Observer) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(uri).SetTimeout(10 * time.Second).SetAppName("parley")
	if obs != nil {
		opts.SetMonitor(monitor(obs))
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connecting: %w", err)
	}
	if err := Ping(ctx, client); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return client, nil
}

// Ping runs the ping command.
func Ping(ctx context.Context, c *mongo.Client) error {
	if err := c.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return nil
}
