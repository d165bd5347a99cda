import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { Link, Redirect, useLocation, useSearchParams } from 'wouter';
import { errorMessage, isApiError } from '../api/http';
import { useServices, useSession } from '../app/services';

/** Only same-app paths are allowed as a post-login destination. */
export function safeNext(next: string | null): string {
  if (next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\')) return next;
  return '/channels/@me';
}

function AuthCard({ title, subtitle, children }: { title: string; subtitle: string; children: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="auth-brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <span>Parley</span>
        </div>
        <h1>{title}</h1>
        <p className="muted">{subtitle}</p>
        {children}
      </div>
    </main>
  );
}

function Field({
  label,
  error,
  ...input
}: { label: string; error?: string } & React.InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="field">
      <span className="field-label">
        {label}
        {error && <em className="field-error"> — {error}</em>}
      </span>
      <input {...input} aria-invalid={error ? true : undefined} />
    </label>
  );
}

const USERNAME_RE = /^[A-Za-z0-9_.-]{3,32}$/;

/**
 * The server's registration rules (services/auth), checked before sending so that every field's problem shows at
 * once instead of one per submit. The server still checks (and its answer is shown on its field).
 */
export function registrationErrors(form: { username: string; email: string; password: string }): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!USERNAME_RE.test(form.username.trim())) errors.username = "3-32 characters: letters, digits, '_', '.' or '-'";
  const email = form.email.trim();
  const at = email.lastIndexOf('@');
  if (email.length > 254 || at < 1 || !email.slice(at + 1).includes('.') || /\s/.test(email)) errors.email = 'not a valid email address';
  const n = [...form.password].length;
  if (n < 8 || n > 128) errors.password = '8-128 characters';
  return errors;
}

export function LoginPage() {
  const { auth } = useServices();
  const session = useSession();
  const [params] = useSearchParams();
  const [, navigate] = useLocation();
  const next = safeNext(params.get('next'));
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reason] = useState(() => auth.logoutReason);

  if (session) return <Redirect to={next} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.login({ login: login.trim(), password });
      navigate(next, { replace: true });
    } catch (err) {
      setError(
        isApiError(err, 'invalid_credentials')
          ? 'Wrong username/email or password.'
          : isApiError(err, 'rate_limited')
            ? 'Too many attempts. Please wait a moment and try again.'
            : errorMessage(err),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Welcome back!" subtitle="We're so excited to see you again!">
      {reason && (
        <p className="auth-message" role="status" data-testid="auth-message">
          {reason}
        </p>
      )}
      <form onSubmit={submit} className="auth-form" noValidate>
        <Field
          label="Username or email"
          name="login"
          autoComplete="username"
          required
          value={login}
          onChange={(e) => setLogin(e.target.value)}
          data-testid="login-input"
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="password-input"
        />
        {error && (
          <p className="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button className="button primary wide" type="submit" disabled={busy || !login || !password} data-testid="login-submit">
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p className="muted small">
        Need an account? <Link to={`/register${params.get('next') ? `?next=${encodeURIComponent(next)}` : ''}`}>Register</Link>
      </p>
    </AuthCard>
  );
}

export function RegisterPage() {
  const { auth } = useServices();
  const session = useSession();
  const [params] = useSearchParams();
  const [, navigate] = useLocation();
  const next = safeNext(params.get('next'));
  const [form, setForm] = useState({ username: '', email: '', password: '' });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [mailedTo, setMailedTo] = useState<string | null>(null);

  if (session) return <Redirect to={next} replace />;
  if (mailedTo) {
    return (
      <AuthCard title="Check your email" subtitle="One more step to create your account.">
        <p data-testid="verify-sent">
          If <strong>{mailedTo}</strong> can be used for a new account, a link to finish creating it is on its way. Open it in
          this browser within a day. If the address already has an account, we told its owner instead.
        </p>
        <p className="muted small">
          Nothing arrived? Check the spam folder, or <Link to="/register" onClick={() => setMailedTo(null)}>try again</Link>. Already
          have an account? <Link to="/login">Log in</Link>
        </p>
      </AuthCard>
    );
  }

  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) => setForm((f) => ({ ...f, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const invalid = registrationErrors(form);
    setFieldErrors(invalid);
    if (Object.keys(invalid).length > 0) return;
    setBusy(true);
    try {
      const res = await auth.register({ username: form.username.trim(), email: form.email.trim(), password: form.password });
      if ('verification' in res) setMailedTo(res.email);
      else navigate(next, { replace: true });
    } catch (err) {
      if (isApiError(err) && err.field) setFieldErrors({ [err.field]: err.message });
      else if (isApiError(err, 'conflict')) setError(err.message || 'That username or email is already taken.');
      else setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard title="Create an account" subtitle="Pick a name your friends will recognise.">
      <form onSubmit={submit} className="auth-form" noValidate>
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          required
          minLength={3}
          maxLength={32}
          value={form.username}
          onChange={set('username')}
          error={fieldErrors.username}
          data-testid="register-username"
        />
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          value={form.email}
          onChange={set('email')}
          error={fieldErrors.email}
          data-testid="register-email"
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          value={form.password}
          onChange={set('password')}
          error={fieldErrors.password}
          data-testid="register-password"
        />
        {error && (
          <p className="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        )}
        <button
          className="button primary wide"
          type="submit"
          disabled={busy || !form.username || !form.email || !form.password}
          data-testid="register-submit"
        >
          {busy ? 'Creating account…' : 'Continue'}
        </button>
      </form>
      <p className="muted small">
        Already have an account? <Link to={`/login${params.get('next') ? `?next=${encodeURIComponent(next)}` : ''}`}>Log in</Link>
      </p>
    </AuthCard>
  );
}

/** The mailed registration link lands here (/verify-email?token=…): the account is created and logged in. */
export function VerifyEmailPage() {
  const { auth } = useServices();
  const session = useSession();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [error, setError] = useState<string | null>(token ? null : 'This link is incomplete: open the whole link from the mail.');
  const started = useRef(false);

  useEffect(() => {
    if (!token || started.current) return; // once, even when React runs effects twice in development
    started.current = true;
    auth.verifyEmail(token).catch((err) => setError(errorMessage(err)));
  }, [auth, token]);

  if (session) return <Redirect to="/channels/@me" replace />;
  return (
    <AuthCard title={error ? 'This link did not work' : 'Creating your account…'} subtitle="Confirming your email address.">
      {error ? (
        <>
          <p className="form-error" role="alert" data-testid="verify-error">
            {error}
          </p>
          <p className="muted small">
            <Link to="/register">Register again</Link> or <Link to="/login">log in</Link>
          </p>
        </>
      ) : (
        <p className="muted" data-testid="verify-busy">
          One moment…
        </p>
      )}
    </AuthCard>
  );
}
