// Package keysapi is the key service's HTTP API (cmd/keys): JSON over net/http, bearer access tokens of the
// chat server, binary MLS material as standard base64. docs/keys-openapi.yaml describes every route.
package keysapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/keys"
)

// Authenticator turns a bearer token into a user id.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (int64, error)
}

// Handler serves the key service's routes.
type Handler struct {
	svc  *keys.Service
	auth Authenticator
	log  *slog.Logger
}

// New returns the key service's HTTP handler; allowedOrigins are the web app's origins (CORS: the browser
// calls this service on its own port; requests carry a bearer token, never cookies).
func New(svc *keys.Service, authn Authenticator, allowedOrigins []string, log *slog.Logger) http.Handler {
	h := &Handler{svc: svc, auth: authn, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) })
	for _, r := range h.routes() {
		mux.HandleFunc(r.pattern, h.authed(r.f))
	}
	return cors.New(cors.Options{
		AllowedOrigins: allowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
		MaxAge:         600,
	}).Handler(mux)
}

type route struct {
	pattern string
	f       authedFunc
}

// routes are the authenticated routes; Routes lists them for the OpenAPI check.
func (h *Handler) routes() []route {
	return []route{
		{"POST /v1/devices", h.registerDevice},
		{"GET /v1/devices", h.listDevices},
		{"DELETE /v1/devices/{id}", h.removeDevice},
		{"GET /v1/users/{userId}/devices", h.userDevices},
		{"POST /v1/devices/{id}/key-packages", h.publish},
		{"GET /v1/devices/{id}/key-packages/count", h.keyPackageCount},
		{"POST /v1/users/{userId}/key-packages/claim", h.claim},
		{"GET /v1/devices/{id}/welcomes", h.welcomes},
		{"DELETE /v1/devices/{id}/welcomes/{welcomeId}", h.ackWelcome},
		{"POST /v1/groups", h.createGroup},
		{"GET /v1/groups", h.listGroups},
		{"GET /v1/groups/{id}", h.group},
		{"POST /v1/groups/{id}/commits", h.commit},
		{"GET /v1/groups/{id}/commits", h.commits},
		{"POST /v1/groups/{id}/messages", h.admit},
	}
}

// Routes returns every route as "METHOD /path" (healthz included, and /metrics, which Instrument serves).
func Routes() []string {
	out := []string{"GET /healthz", "GET /metrics"}
	for _, r := range (&Handler{}).routes() {
		out = append(out, r.pattern)
	}
	return out
}

type authedFunc func(w http.ResponseWriter, r *http.Request, userID int64) error

func (h *Handler) authed(f authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			h.fail(w, r, apperr.New(apperr.Unauthorized, "missing bearer token"))
			return
		}
		uid, err := h.auth.Authenticate(r.Context(), tok)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := f(w, r, uid); err != nil {
			h.fail(w, r, err)
		}
	}
}

var statusOf = map[apperr.Kind]int{
	apperr.Invalid: http.StatusBadRequest, apperr.Unauthorized: http.StatusUnauthorized, apperr.TokenExpired: http.StatusUnauthorized,
	apperr.Forbidden: http.StatusForbidden, apperr.NotFound: http.StatusNotFound, apperr.Conflict: http.StatusConflict,
	apperr.TooLarge: http.StatusRequestEntityTooLarge, apperr.LimitReached: http.StatusForbidden, apperr.RateLimited: http.StatusTooManyRequests,
	apperr.Unavailable: http.StatusServiceUnavailable, apperr.Internal: http.StatusInternalServerError,
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// fail writes {"error": {code, message, field?}}; policy refusals are 409 with code stale_epoch or
// rotation_overdue (and the group's state) so the client knows what to do.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ref *keys.Refusal
	if errors.As(err, &ref) {
		writeJSON(w, http.StatusConflict, map[string]any{"error": errorBody{Code: ref.Reason, Message: ref.Message}})
		return
	}
	e := apperr.As(err)
	status, ok := statusOf[e.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if e.Kind == apperr.RateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if status >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": errorBody{Code: string(e.Kind), Message: e.Message, Field: e.Field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most 4 MiB (a batch of key packages); unknown fields are refused.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, "request body too large")
		}
		return apperr.New(apperr.Invalid, "invalid JSON body: "+err.Error())
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		return apperr.New(apperr.Invalid, "invalid JSON body: trailing data")
	}
	return nil
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.InvalidField(name, "invalid "+name)
	}
	return id, nil
}

type deviceJSON struct {
	ID           int64      `json:"id,string"`
	UserID       int64      `json:"userId,string"`
	Name         string     `json:"name"`
	SignatureKey []byte     `json:"signatureKey"`
	CreatedAt    time.Time  `json:"createdAt"`
	RemovedAt    *time.Time `json:"removedAt,omitempty"`
	KeyPackages  int        `json:"keyPackages"`
}

func deviceOut(d model.KeyDevice) deviceJSON {
	return deviceJSON{ID: d.ID, UserID: d.UserID, Name: d.Name, SignatureKey: d.SignatureKey, CreatedAt: d.CreatedAt, RemovedAt: d.RemovedAt, KeyPackages: d.KeyPackages}
}

func devicesOut(ds []model.KeyDevice) []deviceJSON {
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceOut(d))
	}
	return out
}

func (h *Handler) registerDevice(w http.ResponseWriter, r *http.Request, uid int64) error {
	var in struct {
		Name         string `json:"name"`
		SignatureKey []byte `json:"signatureKey"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err := h.svc.RegisterDevice(r.Context(), uid, in.Name, in.SignatureKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"device": deviceOut(d)})
	return nil
}

func (h *Handler) listDevices(w http.ResponseWriter, r *http.Request, uid int64) error {
	ds, err := h.svc.Devices(r.Context(), uid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": devicesOut(ds)})
	return nil
}

func (h *Handler) userDevices(w http.ResponseWriter, r *http.Request, _ int64) error {
	target, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	ds, err := h.svc.UserDevices(r.Context(), target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": devicesOut(ds)})
	return nil
}

func (h *Handler) removeDevice(w http.ResponseWriter, r *http.Request, uid int64) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	groups, err := h.svc.RemoveDevice(r.Context(), uid, id)
	if err != nil {
		return err
	}
	if groups == nil {
		groups = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"groupsToUpdate": groups})
	return nil
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, uid int64) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		KeyPackages [][]byte `json:"keyPackages"`
		LastResort  []byte   `json:"lastResort"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	n, err := h.svc.PublishKeyPackages(r.Context(), uid, id, in.KeyPackages, in.LastResort)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"keyPackages": n})
	return nil
}

// keyPackageCount answers how many one-time key packages a device has left, so it tops them up in time.
func (h *Handler) keyPackageCount(w http.ResponseWriter, r *http.Request, uid int64) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, err := h.svc.KeyPackageCount(r.Context(), uid, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"keyPackages": n})
	return nil
}

func (h *Handler) claim(w http.ResponseWriter, r *http.Request, uid int64) error {
	target, err := pathID(r, "userId")
	if err != nil {
		return err
	}
	var in struct {
		DeviceID int64 `json:"deviceId,string"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	kps, err := h.svc.ClaimKeyPackages(r.Context(), uid, in.DeviceID, target)
	if err != nil {
		return err
	}
	type kpJSON struct {
		DeviceID   int64  `json:"deviceId,string"`
		UserID     int64  `json:"userId,string"`
		Data       []byte `json:"data"`
		LastResort bool   `json:"lastResort"`
	}
	out := make([]kpJSON, 0, len(kps))
	for _, k := range kps {
		out = append(out, kpJSON{k.DeviceID, k.UserID, k.Data, k.LastResort})
	}
	writeJSON(w, http.StatusOK, map[string]any{"keyPackages": out})
	return nil
}

func (h *Handler) welcomes(w http.ResponseWriter, r *http.Request, uid int64) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ws, err := h.svc.Welcomes(r.Context(), uid, id)
	if err != nil {
		return err
	}
	type wJSON struct {
		ID      int64  `json:"id,string"`
		GroupID string `json:"groupId"`
		Epoch   int64  `json:"epoch"`
		Data    []byte `json:"data"`
	}
	out := make([]wJSON, 0, len(ws))
	for _, x := range ws {
		out = append(out, wJSON{x.ID, x.GroupID, x.Epoch, x.Data})
	}
	writeJSON(w, http.StatusOK, map[string]any{"welcomes": out})
	return nil
}

func (h *Handler) ackWelcome(w http.ResponseWriter, r *http.Request, uid int64) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	wid, err := pathID(r, "welcomeId")
	if err != nil {
		return err
	}
	if err := h.svc.AckWelcome(r.Context(), uid, id, wid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberJSON struct {
	DeviceID int64 `json:"deviceId,string"`
	UserID   int64 `json:"userId,string"`
	Removed  bool  `json:"removed,omitempty"`
}

type groupJSON struct {
	ID             string       `json:"id"`
	ChannelID      int64        `json:"channelId,string,omitempty"`
	Epoch          int64        `json:"epoch"`
	EpochStartedAt time.Time    `json:"epochStartedAt"`
	Messages       int64        `json:"messages"`
	Members        []memberJSON `json:"members,omitempty"`
	RotationDue    bool         `json:"rotationDue"`
	Overdue        bool         `json:"overdue"`
	DueReason      string       `json:"dueReason,omitempty"`
	RefuseAfter    time.Time    `json:"refuseAfter"`
	MaxAgeSeconds  int64        `json:"maxAgeSeconds"`
	MaxMessages    int64        `json:"maxMessages"`
}

func groupOut(st keys.Status) groupJSON {
	g := groupJSON{ID: st.Group.ID, ChannelID: st.Group.ChannelID, Epoch: st.Group.Epoch, EpochStartedAt: st.Group.EpochStartedAt,
		Messages: st.Group.Messages, RotationDue: st.RotationDue, Overdue: st.Overdue, DueReason: st.DueReason, RefuseAfter: st.RefuseAfter,
		MaxAgeSeconds: int64(st.PolicyMaxAge / time.Second), MaxMessages: st.PolicyMaxMsg}
	for _, m := range st.Members {
		g.Members = append(g.Members, memberJSON{m.DeviceID, m.UserID, m.Removed})
	}
	return g
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, uid int64) error {
	var in struct {
		GroupID   string `json:"groupId"`
		DeviceID  int64  `json:"deviceId,string"`
		ChannelID int64  `json:"channelId,string"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if _, err := h.svc.CreateGroup(r.Context(), uid, in.DeviceID, in.GroupID, in.ChannelID); err != nil {
		return err
	}
	st, err := h.svc.Group(r.Context(), uid, in.GroupID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"group": groupOut(st)})
	return nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, uid int64) error {
	var channel int64
	if v := r.URL.Query().Get("channelId"); v != "" {
		c, err := strconv.ParseInt(v, 10, 64)
		if err != nil || c <= 0 {
			return apperr.InvalidField("channelId", "invalid channelId")
		}
		channel = c
	}
	sts, err := h.svc.Groups(r.Context(), uid, channel)
	if err != nil {
		return err
	}
	out := make([]groupJSON, 0, len(sts))
	for _, st := range sts {
		out = append(out, groupOut(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
	return nil
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request, uid int64) error {
	st, err := h.svc.Group(r.Context(), uid, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": groupOut(st)})
	return nil
}

// int64s decodes ids sent as JSON strings (Snowflake-sized ids do not fit a JavaScript number).
type int64s []int64

func (s *int64s) UnmarshalJSON(b []byte) error {
	var strs []string
	if err := json.Unmarshal(b, &strs); err != nil {
		return err
	}
	for _, x := range strs {
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil || v <= 0 {
			return errors.New("ids must be decimal strings")
		}
		*s = append(*s, v)
	}
	return nil
}

func (h *Handler) commit(w http.ResponseWriter, r *http.Request, uid int64) error {
	var in struct {
		DeviceID int64  `json:"deviceId,string"`
		Epoch    *int64 `json:"epoch"`
		Commit   []byte `json:"commit"`
		Adds     int64s `json:"adds"`
		Removes  int64s `json:"removes"`
		Welcome  []byte `json:"welcome"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Epoch == nil || *in.Epoch < 0 {
		return apperr.InvalidField("epoch", "epoch (the epoch the Commit is based on) is required")
	}
	st, err := h.svc.Commit(r.Context(), uid, keys.CommitInput{DeviceID: in.DeviceID, GroupID: r.PathValue("id"), Epoch: *in.Epoch,
		Commit: in.Commit, Adds: in.Adds, Removes: in.Removes, Welcome: in.Welcome})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"group": groupOut(st)})
	return nil
}

func (h *Handler) commits(w http.ResponseWriter, r *http.Request, uid int64) error {
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return apperr.InvalidField("since", "since must be an epoch")
		}
		since = s
	}
	var device int64
	if v := r.URL.Query().Get("deviceId"); v != "" {
		d, err := strconv.ParseInt(v, 10, 64)
		if err != nil || d <= 0 {
			return apperr.InvalidField("deviceId", "invalid deviceId")
		}
		device = d
	}
	cs, err := h.svc.Commits(r.Context(), uid, r.PathValue("id"), since, device)
	if err != nil {
		return err
	}
	type cJSON struct {
		Epoch     int64     `json:"epoch"`
		Sender    int64     `json:"sender,string"`
		Data      []byte    `json:"data"`
		CreatedAt time.Time `json:"createdAt"`
	}
	out := make([]cJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, cJSON{c.Epoch, c.Sender, c.Data, c.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"commits": out})
	return nil
}

func (h *Handler) admit(w http.ResponseWriter, r *http.Request, uid int64) error {
	var in struct {
		Epoch *int64 `json:"epoch"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Epoch == nil {
		return apperr.InvalidField("epoch", "epoch is required")
	}
	st, err := h.svc.AdmitMessage(r.Context(), uid, r.PathValue("id"), *in.Epoch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": groupOut(st)})
	return nil
}
