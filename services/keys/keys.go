// Package keys is the key service of end-to-end encrypted conversations (issue #19): it keeps each device's
// published MLS key packages and hands each one-time package out once, orders every group's Commits (one per
// epoch), delivers Welcomes, and enforces the rotation policy (a group's epoch must advance every
// Policy.MaxAge or Policy.MaxMessages and after a member device is removed; beyond the grace, application
// messages are refused). It sees public keys and opaque MLS messages only, never a private key or plaintext.
package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/repositories/keystore"
)

// Store is the key service's storage (repositories/keystore).
type Store interface {
	CreateDevice(ctx context.Context, userID int64, name string, signatureKey []byte) (model.KeyDevice, error)
	CountDevices(ctx context.Context, userID int64) (int, error)
	Device(ctx context.Context, id int64) (model.KeyDevice, error)
	Devices(ctx context.Context, userID int64) ([]model.KeyDevice, error)
	RemoveDevice(ctx context.Context, userID, deviceID int64, now time.Time) ([]string, error)
	PublishKeyPackages(ctx context.Context, deviceID int64, oneTime [][]byte, lastResort []byte) (int, error)
	ClaimKeyPackages(ctx context.Context, userID, exceptDevice int64) ([]model.ClaimedKeyPackage, error)
	CreateGroup(ctx context.Context, g model.KeyGroup, creator model.KeyDevice) error
	Group(ctx context.Context, id string) (model.KeyGroup, error)
	GroupsOfUser(ctx context.Context, userID, channelID int64) ([]model.KeyGroup, error)
	Members(ctx context.Context, groupID string) ([]model.KeyGroupMember, error)
	Commit(ctx context.Context, req model.CommitRequest) (int64, error)
	Commits(ctx context.Context, groupID string, since int64, limit int) ([]model.KeyCommit, error)
	Seen(ctx context.Context, groupID string, deviceID, epoch int64) (int64, error)
	Welcomes(ctx context.Context, deviceID int64) ([]model.KeyWelcome, error)
	AckWelcome(ctx context.Context, deviceID, id int64) error
	CountMessage(ctx context.Context, groupID string, epoch int64, lim keystore.MessageLimits) (int64, error)
	GroupUsers(ctx context.Context, groupIDs []string) ([]int64, error)
	Peers(ctx context.Context, userID int64) ([]int64, error)
	ClaimDueByAge(ctx context.Context, startedBefore time.Time, limit int) ([]keystore.DueGroup, error)
}

// Notifier carries notices to the users' devices (repositories/redis.KeyNotices, relayed by the chat server as
// the socket event e2ee:sync). A notice is a hint: a lost one costs a device its next fallback poll, a forged
// one a sync.
type Notifier interface {
	Notify(ctx context.Context, n model.KeyNotice) error
}

// Policy is the rotation policy.
type Policy struct {
	MaxAge          time.Duration // an epoch older than this is due for rotation (N days)
	MaxMessages     int64         // ... as is one with this many application messages (M)
	Grace           time.Duration // beyond MaxAge (or a pending removal) by this much, messages are refused
	GraceMessages   int64         // beyond MaxMessages by this many, messages are refused
	MaxDevices      int           // active devices per user
	MaxKeyPackages  int           // one-time key packages stored per device
	MaxPackageBytes int           // size of one key package
	MaxCommitBytes  int           // size of a Commit or Welcome
	ClaimEvery      time.Duration // one key-package claim per this long per user, after a burst of ClaimBurst:
	ClaimBurst      int           // without it one user could drain everyone's one-time packages
}

// DefaultPolicy: rotate weekly or every 1,000 messages, refuse a day (or 100 messages) later.
var DefaultPolicy = Policy{
	MaxAge: 7 * 24 * time.Hour, MaxMessages: 1000, Grace: 24 * time.Hour, GraceMessages: 100,
	MaxDevices: 10, MaxKeyPackages: 200, MaxPackageBytes: 16 << 10, MaxCommitBytes: 256 << 10,
	ClaimEvery: 3 * time.Second, ClaimBurst: 20,
}

// Service implements the key service's operations for an authenticated user.
type Service struct {
	store  Store
	policy Policy
	now    func() time.Time
	log    *slog.Logger
	notify Notifier // nil: clients find changes by polling

	shared   SharedLimiter // the claim budget of all replicas; nil: per instance only
	warnedAt atomic.Int64  // when the shared budget's failure was last logged (unix ns): once a minute, not per claim
	claimMu  sync.Mutex
	claimers map[int64]*rate.Limiter // per claiming user, on this instance
}

// SharedLimiter is a rate limit every replica shares (repositories/redis.RateLimiter: GCRA in one Lua script on
// Redis's clock). It answers false and the wait when the key is over its budget, and an error when it cannot
// tell (then it must not have counted).
type SharedLimiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
}

// Option changes a Service at construction.
type Option func(*Service)

// ShareClaimBudget keeps each user's claim budget in l, so several replicas enforce one budget (its burst and
// period must be Policy.ClaimBurst and Policy.ClaimEvery). While l fails, each replica falls back to its own.
func ShareClaimBudget(l SharedLimiter) Option { return func(s *Service) { s.shared = l } }

// WithClock replaces time.Now (tests of the time-based policy).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

func New(store Store, notify Notifier, policy Policy, log *slog.Logger, opts ...Option) *Service {
	s := &Service{store: store, notify: notify, policy: policy, now: time.Now, log: log, claimers: map[int64]*rate.Limiter{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// allowClaim applies the per-user claim budget: the replicas' shared one when there is one, else (or while it
// cannot answer: failing open to a bound that is only per replica beats refusing every claim) this instance's.
func (s *Service) allowClaim(ctx context.Context, userID int64) error {
	if s.policy.ClaimEvery <= 0 {
		return nil
	}
	if s.shared != nil {
		ok, wait, err := s.shared.Allow(ctx, "keys:claims:"+strconv.FormatInt(userID, 10))
		switch {
		case err == nil && ok:
			return nil
		case err == nil:
			return apperr.RateLimit(wait)
		}
		if now, last := s.now().UnixNano(), s.warnedAt.Load(); now-last >= int64(time.Minute) && s.warnedAt.CompareAndSwap(last, now) {
			s.log.Warn("shared claim budget unavailable; this replica's own budget applies", "err", err)
		}
	}
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	l, ok := s.claimers[userID]
	if !ok {
		if len(s.claimers) > 100_000 {
			s.claimers = map[int64]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(s.policy.ClaimEvery), s.policy.ClaimBurst)
		s.claimers[userID] = l
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return apperr.RateLimit(d)
	}
	return nil
}

// announce sends a notice after the change is stored; a failure is logged, never the caller's error (the
// clients' fallback poll finds the change).
func (s *Service) announce(ctx context.Context, n model.KeyNotice) {
	if s.notify == nil || len(n.UserIDs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.notify.Notify(ctx, n); err != nil {
		s.log.Warn("key notice not sent", "reason", n.Reason, "group", n.GroupID, "err", err)
	}
}

func usersOf(members ...[]model.KeyGroupMember) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, ms := range members {
		for _, m := range ms {
			if !seen[m.UserID] {
				seen[m.UserID] = true
				out = append(out, m.UserID)
			}
		}
	}
	return out
}

// Refusal is a policy refusal the client can act on: Reason is "stale_epoch" (catch up on Commits first) or
// "rotation_overdue" (commit a rotation first).
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Message }

func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrNotFound):
		return apperr.New(apperr.NotFound, what+" not found")
	case errors.Is(err, model.ErrConflict):
		return apperr.New(apperr.Conflict, strings.TrimPrefix(err.Error(), model.ErrConflict.Error()+": "))
	case errors.Is(err, model.ErrStaleEpoch):
		return &Refusal{Reason: "stale_epoch", Message: "the group has moved past this epoch; fetch its Commits first"}
	}
	var r *Refusal
	if errors.As(err, &r) {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, err, "key storage unavailable")
}

// ownDevice returns a user's active device.
func (s *Service) ownDevice(ctx context.Context, userID, deviceID int64) (model.KeyDevice, error) {
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		return d, storeErr(err, "device")
	}
	if d.UserID != userID || d.RemovedAt != nil {
		return d, apperr.New(apperr.NotFound, "device not found")
	}
	return d, nil
}

// RegisterDevice registers a new device (a browser) for the user with the public key of its credential.
func (s *Service) RegisterDevice(ctx context.Context, userID int64, name string, signatureKey []byte) (model.KeyDevice, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return model.KeyDevice{}, apperr.InvalidField("name", "name must be 1-64 characters")
	}
	if len(signatureKey) < 16 || len(signatureKey) > 4096 {
		return model.KeyDevice{}, apperr.InvalidField("signatureKey", "signatureKey must be a public key (16-4096 bytes)")
	}
	n, err := s.store.CountDevices(ctx, userID)
	if err != nil {
		return model.KeyDevice{}, storeErr(err, "device")
	}
	if n >= s.policy.MaxDevices {
		return model.KeyDevice{}, apperr.New(apperr.LimitReached, "too many devices; remove one first")
	}
	d, err := s.store.CreateDevice(ctx, userID, name, signatureKey)
	return d, storeErr(err, "device")
}

// Devices lists the user's active devices.
func (s *Service) Devices(ctx context.Context, userID int64) ([]model.KeyDevice, error) {
	d, err := s.store.Devices(ctx, userID)
	return d, storeErr(err, "device")
}

// UserDevices lists another user's active devices (to show their fingerprints).
func (s *Service) UserDevices(ctx context.Context, userID int64) ([]model.KeyDevice, error) {
	return s.Devices(ctx, userID)
}

// RemoveDevice removes one of the user's devices: its key packages go, and every group it is in owes a
// Commit that removes it (until then the rotation policy counts the grace from now).
func (s *Service) RemoveDevice(ctx context.Context, userID, deviceID int64) ([]string, error) {
	groups, err := s.store.RemoveDevice(ctx, userID, deviceID, s.now())
	if err != nil {
		return nil, storeErr(err, "device")
	}
	s.log.Info("device removed", "user", userID, "device", deviceID, "groups", len(groups))
	// The owner's other devices and everyone sharing a group with the removed device: one of them commits it out,
	// and the removed browser itself learns it is out.
	users := []int64{userID}
	if len(groups) > 0 {
		us, err := s.store.GroupUsers(ctx, groups)
		if err != nil {
			s.log.Warn("key notice: group users", "err", err)
		}
		users = append(users, us...)
	}
	s.announce(ctx, model.KeyNotice{UserIDs: dedup(users), DeviceID: deviceID, Reason: "device_removed"})
	return groups, nil
}

// PublishKeyPackages stores key packages for one of the user's own devices.
func (s *Service) PublishKeyPackages(ctx context.Context, userID, deviceID int64, oneTime [][]byte, lastResort []byte) (int, error) {
	if _, err := s.ownDevice(ctx, userID, deviceID); err != nil {
		return 0, err
	}
	if len(oneTime) == 0 && lastResort == nil {
		return 0, apperr.InvalidField("keyPackages", "nothing to publish")
	}
	if len(oneTime) > s.policy.MaxKeyPackages {
		return 0, apperr.InvalidField("keyPackages", "too many key packages in one request")
	}
	all := oneTime
	if lastResort != nil {
		all = append(append([][]byte{}, oneTime...), lastResort)
	}
	for _, kp := range all {
		if len(kp) < 32 || len(kp) > s.policy.MaxPackageBytes {
			return 0, apperr.InvalidField("keyPackages", "a key package must be 32 bytes to "+itoa(s.policy.MaxPackageBytes))
		}
	}
	n, err := s.store.PublishKeyPackages(ctx, deviceID, oneTime, lastResort)
	if err != nil {
		return 0, storeErr(err, "device")
	}
	if n > s.policy.MaxKeyPackages {
		// Stored anyway (the client sees the count and stops); the limit bounds the request, not the table.
		s.log.Warn("device holds many key packages", "device", deviceID, "count", n)
	}
	if lastResort != nil {
		// A device's first publish (top-ups send one-time packages only): it can be added now, so the user's
		// other devices and everyone sharing a group with the user hear of it.
		users, err := s.store.Peers(ctx, userID)
		if err != nil {
			s.log.Warn("key notice: peers", "err", err)
		}
		s.announce(ctx, model.KeyNotice{UserIDs: dedup(append(users, userID)), DeviceID: deviceID, Reason: "device_added"})
	}
	return n, nil
}

// KeyPackageCount returns how many one-time key packages one of the user's devices has left (so it can top up).
func (s *Service) KeyPackageCount(ctx context.Context, userID, deviceID int64) (int, error) {
	d, err := s.ownDevice(ctx, userID, deviceID)
	if err != nil {
		return 0, err
	}
	return d.KeyPackages, nil
}

// ClaimKeyPackages claims one key package for each of a user's devices (the caller's own device excluded when
// the target is the caller: adding one's other devices).
func (s *Service) ClaimKeyPackages(ctx context.Context, callerID, callerDevice, targetUser int64) ([]model.ClaimedKeyPackage, error) {
	if _, err := s.ownDevice(ctx, callerID, callerDevice); err != nil {
		return nil, err
	}
	if err := s.allowClaim(ctx, callerID); err != nil {
		return nil, err
	}
	kps, err := s.store.ClaimKeyPackages(ctx, targetUser, callerDevice)
	return kps, storeErr(err, "user")
}

var groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,86}$`)

// CreateGroup creates a group with the caller's device as its only member (MLS: the creator's own group at
// epoch 0). The id is the MLS group id, base64url, chosen by the client.
func (s *Service) CreateGroup(ctx context.Context, userID, deviceID int64, groupID string, channelID int64) (model.KeyGroup, error) {
	if !groupIDPattern.MatchString(groupID) {
		return model.KeyGroup{}, apperr.InvalidField("groupId", "groupId must be 16-86 base64url characters")
	}
	if _, err := base64.RawURLEncoding.DecodeString(groupID); err != nil {
		return model.KeyGroup{}, apperr.InvalidField("groupId", "groupId must be base64url")
	}
	if channelID < 0 {
		return model.KeyGroup{}, apperr.InvalidField("channelId", "invalid channel id")
	}
	d, err := s.ownDevice(ctx, userID, deviceID)
	if err != nil {
		return model.KeyGroup{}, err
	}
	g := model.KeyGroup{ID: groupID, ChannelID: channelID, EpochStartedAt: s.now(), CreatedBy: userID}
	if err := s.store.CreateGroup(ctx, g, d); err != nil {
		return model.KeyGroup{}, storeErr(err, "group")
	}
	return g, nil
}

// memberGroup returns a group the user has a device in, and its members.
func (s *Service) memberGroup(ctx context.Context, userID int64, groupID string) (model.KeyGroup, []model.KeyGroupMember, error) {
	g, err := s.store.Group(ctx, groupID)
	if err != nil {
		return g, nil, storeErr(err, "group")
	}
	members, err := s.store.Members(ctx, groupID)
	if err != nil {
		return g, nil, storeErr(err, "group")
	}
	for _, m := range members {
		if m.UserID == userID && !m.Removed {
			return g, members, nil
		}
	}
	// Same answer as an unknown group: non-members learn nothing about it.
	return g, nil, apperr.New(apperr.NotFound, "group not found")
}

// Status is a group as a member sees it, with the rotation policy's verdict.
type Status struct {
	Group        model.KeyGroup
	Members      []model.KeyGroupMember
	RotationDue  bool      // the next Commit should be sent now (any member may send an empty one)
	Overdue      bool      // application messages are refused until the epoch advances
	DueReason    string    // "age", "messages", "membership" or ""
	RefuseAfter  time.Time // when messages will be refused if nothing changes (zero when not due by age)
	PolicyMaxAge time.Duration
	PolicyMaxMsg int64
}

func (s *Service) status(g model.KeyGroup, members []model.KeyGroupMember) Status {
	now := s.now()
	st := Status{Group: g, Members: members, PolicyMaxAge: s.policy.MaxAge, PolicyMaxMsg: s.policy.MaxMessages}
	st.RefuseAfter = g.EpochStartedAt.Add(s.policy.MaxAge + s.policy.Grace)
	switch {
	case g.MembershipDueSince != nil:
		st.RotationDue, st.DueReason = true, "membership"
		st.RefuseAfter = g.MembershipDueSince.Add(s.policy.Grace)
		st.Overdue = !now.Before(st.RefuseAfter)
	case !now.Before(g.EpochStartedAt.Add(s.policy.MaxAge)):
		st.RotationDue, st.DueReason = true, "age"
	case g.Messages >= s.policy.MaxMessages:
		st.RotationDue, st.DueReason = true, "messages"
	}
	if !now.Before(g.EpochStartedAt.Add(s.policy.MaxAge+s.policy.Grace)) || g.Messages >= s.policy.MaxMessages+s.policy.GraceMessages {
		st.Overdue = true
	}
	return st
}

// Group returns a group's state and rotation verdict to a member.
func (s *Service) Group(ctx context.Context, userID int64, groupID string) (Status, error) {
	g, members, err := s.memberGroup(ctx, userID, groupID)
	if err != nil {
		return Status{}, err
	}
	return s.status(g, members), nil
}

// Groups lists the user's groups (optionally those of one chat channel) with their verdicts.
func (s *Service) Groups(ctx context.Context, userID, channelID int64) ([]Status, error) {
	gs, err := s.store.GroupsOfUser(ctx, userID, channelID)
	if err != nil {
		return nil, storeErr(err, "group")
	}
	out := make([]Status, 0, len(gs))
	for _, g := range gs {
		out = append(out, s.status(g, nil))
	}
	return out, nil
}

// CommitInput is a Commit as a client submits it.
type CommitInput struct {
	DeviceID int64
	GroupID  string
	Epoch    int64
	Commit   []byte
	Adds     []int64
	Removes  []int64
	Welcome  []byte
}

// Commit orders a Commit from one of the caller's member devices; a Commit not based on the current epoch is
// refused ("stale_epoch") so every member applies the same sequence.
func (s *Service) Commit(ctx context.Context, userID int64, in CommitInput) (Status, error) {
	if _, err := s.ownDevice(ctx, userID, in.DeviceID); err != nil {
		return Status{}, err
	}
	g, members, err := s.memberGroup(ctx, userID, in.GroupID)
	if err != nil {
		return Status{}, err
	}
	isMember := false
	for _, m := range members {
		isMember = isMember || m.DeviceID == in.DeviceID
	}
	if !isMember {
		return Status{}, apperr.New(apperr.Forbidden, "this device is not a member of the group")
	}
	if len(in.Commit) == 0 || len(in.Commit) > s.policy.MaxCommitBytes {
		return Status{}, apperr.InvalidField("commit", "commit must be 1 to "+itoa(s.policy.MaxCommitBytes)+" bytes")
	}
	if len(in.Adds) > 0 && (len(in.Welcome) == 0 || len(in.Welcome) > s.policy.MaxCommitBytes) {
		return Status{}, apperr.InvalidField("welcome", "a Commit that adds devices needs their Welcome")
	}
	if len(in.Adds) == 0 && len(in.Welcome) > 0 {
		return Status{}, apperr.InvalidField("welcome", "a Welcome without added devices")
	}
	if len(in.Adds)+len(in.Removes) > 100 || hasDup(in.Adds, in.Removes) {
		return Status{}, apperr.InvalidField("adds", "adds and removes must be distinct devices, 100 at most")
	}
	for _, r := range in.Removes {
		if r == in.DeviceID {
			return Status{}, apperr.InvalidField("removes", "a device cannot remove itself in its own Commit")
		}
	}
	if in.Epoch < g.Epoch {
		return Status{}, &Refusal{Reason: "stale_epoch", Message: "the group has moved past this epoch; fetch its Commits first"}
	}
	if _, err := s.store.Commit(ctx, model.CommitRequest{GroupID: in.GroupID, Epoch: in.Epoch, Sender: in.DeviceID, Data: in.Commit,
		Adds: in.Adds, Removes: in.Removes, Welcome: in.Welcome, Now: s.now()}); err != nil {
		return Status{}, storeErr(err, "group")
	}
	st, err := s.Group(ctx, userID, in.GroupID)
	if err != nil {
		return st, err
	}
	// Members before (a removed device learns it is out) and after (added devices find their Welcome).
	s.announce(ctx, model.KeyNotice{UserIDs: usersOf(members, st.Members), GroupID: in.GroupID, Reason: "commit"})
	return st, nil
}

func dedup(ids []int64) []int64 {
	seen := map[int64]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func hasDup(a, b []int64) bool {
	seen := map[int64]bool{}
	for _, x := range append(append([]int64{}, a...), b...) {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// Commits returns a group's Commits from epoch `since` on, to a member catching up. With the asking device
// (one of the user's), `since` also says that device has passed every earlier epoch, and the Commits every
// member has passed are pruned.
func (s *Service) Commits(ctx context.Context, userID int64, groupID string, since, deviceID int64) ([]model.KeyCommit, error) {
	if _, _, err := s.memberGroup(ctx, userID, groupID); err != nil {
		return nil, err
	}
	if since < 0 {
		return nil, apperr.InvalidField("since", "since must be an epoch")
	}
	if deviceID != 0 {
		if _, err := s.ownDevice(ctx, userID, deviceID); err != nil {
			return nil, err
		}
		n, err := s.store.Seen(ctx, groupID, deviceID, since)
		if err != nil {
			return nil, storeErr(err, "group")
		}
		if n > 0 {
			s.log.Debug("commits pruned", "group", groupID, "count", n)
		}
	}
	c, err := s.store.Commits(ctx, groupID, since, 100)
	return c, storeErr(err, "group")
}

// Welcomes returns the Welcomes waiting for one of the user's devices.
func (s *Service) Welcomes(ctx context.Context, userID, deviceID int64) ([]model.KeyWelcome, error) {
	if _, err := s.ownDevice(ctx, userID, deviceID); err != nil {
		return nil, err
	}
	w, err := s.store.Welcomes(ctx, deviceID)
	return w, storeErr(err, "device")
}

// AckWelcome drops a processed Welcome.
func (s *Service) AckWelcome(ctx context.Context, userID, deviceID, welcomeID int64) error {
	if _, err := s.ownDevice(ctx, userID, deviceID); err != nil {
		return err
	}
	return storeErr(s.store.AckWelcome(ctx, deviceID, welcomeID), "welcome")
}

// AdmitMessage is asked before an application message is sent in a group's epoch: it counts the message, or
// refuses it when the epoch is stale or the rotation is overdue beyond the grace.
func (s *Service) AdmitMessage(ctx context.Context, userID int64, groupID string, epoch int64) (Status, error) {
	if _, _, err := s.memberGroup(ctx, userID, groupID); err != nil {
		return Status{}, err
	}
	now := s.now()
	count, err := s.store.CountMessage(ctx, groupID, epoch, keystore.MessageLimits{
		MaxMessages:       s.policy.MaxMessages + s.policy.GraceMessages,
		EpochStartedAfter: now.Add(-(s.policy.MaxAge + s.policy.Grace)),
		DueSinceAfter:     now.Add(-s.policy.Grace),
	})
	if err != nil {
		return Status{}, storeErr(err, "group")
	}
	st, err := s.Group(ctx, userID, groupID)
	if err != nil {
		return Status{}, err
	}
	if count > 0 {
		if count == s.policy.MaxMessages {
			// This message made the epoch due (exactly one sender sees this count): the members rotate now.
			s.announce(ctx, model.KeyNotice{UserIDs: usersOf(st.Members), GroupID: groupID, Reason: "rotation_due"})
		}
		return st, nil
	}
	if st.Group.Epoch != epoch {
		return st, &Refusal{Reason: "stale_epoch", Message: "the group is at another epoch; fetch its Commits first"}
	}
	return st, &Refusal{Reason: "rotation_overdue", Message: "the group's keys are overdue for rotation (" + st.DueReason + "); commit first"}
}

// sweepBatch bounds one statement of a sweep; a sweep repeats it until fewer come back.
const sweepBatch = 200

// SweepDueByAge announces rotation_due to the members of every group whose epoch has turned due by age and was
// not announced yet (a message count or a removal announce themselves when they happen; age has no event). Each
// group epoch is claimed by one conditional UPDATE, so of several replicas sweeping at once exactly one sends
// its notice. It returns how many groups it announced.
func (s *Service) SweepDueByAge(ctx context.Context) (int, error) {
	if s.notify == nil {
		return 0, nil
	}
	n := 0
	for {
		due, err := s.store.ClaimDueByAge(ctx, s.now().Add(-s.policy.MaxAge), sweepBatch)
		if err != nil {
			return n, err
		}
		for _, g := range due {
			members, err := s.store.Members(ctx, g.ID)
			if err != nil {
				// Claimed but not sent: the fallback poll of its members still finds the rotation due.
				s.log.Warn("rotation sweep: members", "group", g.ID, "err", err)
				continue
			}
			s.announce(ctx, model.KeyNotice{UserIDs: usersOf(members), GroupID: g.ID, Reason: "rotation_due"})
			n++
		}
		if len(due) < sweepBatch || ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}

// RunSweeper sweeps every `every` until ctx ends (cmd/keys starts it on every replica; they share the work
// through the database). Errors are logged: the next sweep retries, and clients poll anyway.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.SweepDueByAge(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("rotation sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("rotations due by age announced", "groups", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
