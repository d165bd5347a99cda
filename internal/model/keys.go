package model

import (
	"errors"
	"time"
)

// The key service's domain (end-to-end encrypted conversations, issue #19). It stores public MLS material and
// opaque handshake messages only.

// KeyDevice is one browser of a user: an MLS member with its own credential.
type KeyDevice struct {
	ID           int64
	UserID       int64
	Name         string
	SignatureKey []byte
	CreatedAt    time.Time
	RemovedAt    *time.Time
	KeyPackages  int // one-time key packages left (listings only)
}

// ClaimedKeyPackage is a key package handed out to add a device to a group.
type ClaimedKeyPackage struct {
	DeviceID   int64
	UserID     int64
	Data       []byte
	LastResort bool
}

// KeyGroup is an MLS group as the key service orders it.
type KeyGroup struct {
	ID                 string
	ChannelID          int64 // 0 = not tied to a chat channel
	Epoch              int64
	EpochStartedAt     time.Time
	Messages           int64 // application messages reported in the current epoch
	MembershipDueSince *time.Time
	CreatedBy          int64
}

// KeyGroupMember is a device in a group.
type KeyGroupMember struct {
	DeviceID int64
	UserID   int64
	Removed  bool // the device was removed from its owner's list and must be removed from the group
}

// KeyCommit is the handshake message that moved a group from Epoch to Epoch+1.
type KeyCommit struct {
	GroupID   string
	Epoch     int64
	Sender    int64
	Data      []byte
	CreatedAt time.Time
}

// KeyWelcome is a Welcome waiting for the device it was made for.
type KeyWelcome struct {
	ID       int64
	DeviceID int64
	GroupID  string
	Epoch    int64
	Data     []byte
}

// CommitRequest is a Commit to order: based on Epoch, adding and removing devices.
type CommitRequest struct {
	GroupID string
	Epoch   int64
	Sender  int64
	Data    []byte
	Adds    []int64
	Removes []int64
	Welcome []byte
	Now     time.Time
}

// ErrStaleEpoch says a Commit (or message) was not based on the group's current epoch.
var ErrStaleEpoch = errors.New("stale epoch")

// KeyNotice tells users' devices that something changed for them in the key service: a Commit or Welcome was
// accepted, a device was added or removed, a rotation became due. It is a hint without secrets (the devices
// then sync and verify everything through MLS); the chat server relays it to the users' sockets.
type KeyNotice struct {
	UserIDs  []int64 `json:"users"`
	GroupID  string  `json:"groupId,omitempty"`
	DeviceID int64   `json:"deviceId,omitempty"`
	Reason   string  `json:"reason"` // commit, device_added, device_removed, rotation_due
}
