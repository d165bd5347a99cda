package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/auth"
)

// AuthService is what the auth and user handlers need.
type AuthService interface {
	Register(ctx context.Context, in auth.RegisterInput) (auth.Result, error)
	VerifyEmail(ctx context.Context, token string) (auth.Result, error)
	Login(ctx context.Context, in auth.LoginInput) (auth.Result, error)
	Refresh(ctx context.Context, refreshToken string) (auth.Result, error)
	Logout(ctx context.Context, refreshToken string) error
	Authenticate(ctx context.Context, accessToken string) (auth.Claims, error)
	Me(ctx context.Context, userID int64) (model.User, error)
	UpdateProfile(ctx context.Context, userID int64, displayName, avatarURL *string) (model.User, error)
	Search(ctx context.Context, prefix string, limit int) ([]model.User, error)
	Users(ctx context.Context, ids []int64) ([]model.User, error)
}

// AuthConfig tunes the auth handlers.
type AuthConfig struct {
	// SecureCookies marks cookies Secure (the public origin is https://).
	SecureCookies bool
}

// AuthHandlers serves /api/auth and /api/users.
type AuthHandlers struct {
	svc AuthService
	cfg AuthConfig
	log *slog.Logger
}

func NewAuthHandlers(svc AuthService, cfg AuthConfig, log *slog.Logger) *AuthHandlers {
	return &AuthHandlers{svc: svc, cfg: cfg, log: log}
}

// DeviceCookie holds the device token (services/auth): HttpOnly so page scripts never see it, sent only to
// /api/auth, SameSite=Strict so no other site's request carries it.
const DeviceCookie = "parley_device"

func (h *AuthHandlers) setDeviceCookie(c *gin.Context, token string) {
	if token == "" {
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: DeviceCookie, Value: token, Path: "/api/auth", MaxAge: int(auth.DeviceTokenTTL / time.Second),
		HttpOnly: true, Secure: h.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

const claimsKey = "parley.claims"

// RequireAuth rejects requests without a valid bearer access token and stores its claims for handlers.
func (h *AuthHandlers) RequireAuth(c *gin.Context) {
	header := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		fail(c, h.log, apperr.New(apperr.Unauthorized, "missing bearer token"))
		return
	}
	claims, err := h.svc.Authenticate(c.Request.Context(), token)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.Set(claimsKey, claims)
	c.Next()
}

// caller returns the authenticated user's claims (RequireAuth must run first).
func caller(c *gin.Context) auth.Claims { return c.MustGet(claimsKey).(auth.Claims) }

func (h *AuthHandlers) Register(c *gin.Context) {
	var body struct{ Username, Email, Password string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	res, err := h.svc.Register(c.Request.Context(), auth.RegisterInput{Username: body.Username, Email: body.Email, Password: body.Password, IP: c.ClientIP()})
	if err != nil {
		fail(c, h.log, err)
		return
	}
	if res.Verification != nil {
		// The same answer whether or not the address has an account (services/auth/verify.go).
		c.JSON(http.StatusAccepted, gin.H{"verification": "sent", "email": res.Verification.Email})
		return
	}
	h.setDeviceCookie(c, res.DeviceToken)
	c.JSON(http.StatusCreated, toAuthJSON(res))
}

// VerifyEmail finishes a registration from the mailed link's token: the account is created and logged in.
func (h *AuthHandlers) VerifyEmail(c *gin.Context) {
	var body struct{ Token string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	res, err := h.svc.VerifyEmail(c.Request.Context(), body.Token)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.setDeviceCookie(c, res.DeviceToken)
	c.JSON(http.StatusCreated, toAuthJSON(res))
}

func (h *AuthHandlers) Login(c *gin.Context) {
	var body struct{ Login, Password string }
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	device, _ := c.Cookie(DeviceCookie)
	res, err := h.svc.Login(c.Request.Context(), auth.LoginInput{Login: body.Login, Password: body.Password, IP: c.ClientIP(), Device: device})
	if err != nil {
		fail(c, h.log, err)
		return
	}
	h.setDeviceCookie(c, res.DeviceToken)
	c.JSON(http.StatusOK, toAuthJSON(res))
}

func (h *AuthHandlers) Refresh(c *gin.Context) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	res, err := h.svc.Refresh(c.Request.Context(), body.RefreshToken)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, toAuthJSON(res))
}

func (h *AuthHandlers) Logout(c *gin.Context) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	if body.RefreshToken == "" {
		fail(c, h.log, apperr.InvalidField("refreshToken", "refreshToken is required"))
		return
	}
	if err := h.svc.Logout(c.Request.Context(), body.RefreshToken); err != nil {
		fail(c, h.log, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *AuthHandlers) GetMe(c *gin.Context) {
	u, err := h.svc.Me(c.Request.Context(), caller(c).UserID)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, wire.ToMe(u))
}

func (h *AuthHandlers) PatchMe(c *gin.Context) {
	var body struct {
		DisplayName *string `json:"displayName"`
		AvatarURL   *string `json:"avatarUrl"`
	}
	if err := bind(c, &body); err != nil {
		fail(c, h.log, err)
		return
	}
	u, err := h.svc.UpdateProfile(c.Request.Context(), caller(c).UserID, body.DisplayName, body.AvatarURL)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, wire.ToMe(u))
}

func (h *AuthHandlers) GetUser(c *gin.Context) {
	id, err := parseID(c.Param("id"), "id")
	if err != nil {
		fail(c, h.log, err)
		return
	}
	us, err := h.svc.Users(c.Request.Context(), []int64{id})
	if err != nil {
		fail(c, h.log, err)
		return
	}
	if len(us) == 0 {
		fail(c, h.log, apperr.New(apperr.NotFound, "user not found"))
		return
	}
	c.JSON(http.StatusOK, wire.ToUser(us[0]))
}

func (h *AuthHandlers) SearchUsers(c *gin.Context) {
	us, err := h.svc.Search(c.Request.Context(), c.Query("query"), 20)
	if err != nil {
		fail(c, h.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"users": wire.ToUsers(us)})
}

func toAuthJSON(r auth.Result) wire.Auth {
	return wire.Auth{User: wire.ToMe(r.User), AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, AccessTokenExpiresAt: r.AccessExpiry.UTC()}
}
