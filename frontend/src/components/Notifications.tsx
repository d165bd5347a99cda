// Mentions and notifications in the app: the tab title with the unread mention count, desktop notifications and a
// sound for incoming messages (decided in chat/notify.ts), the polite permission prompt, the settings section of the
// user menu, the mute bell of a channel header, and the mention badge.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { useLocation } from 'wouter';
import { qk } from '../api/queryKeys';
import type { DesktopNotify, Id, Server, ServersList, User } from '../api/types';
import { errorMessage } from '../api/http';
import { displayName } from '../app/queries';
import { useApi, useServices } from '../app/services';
import { useChannelMuted, useNotificationSettings } from '../app/settings';
import { useSaveSettings } from '../app/saveSettings';
import { APP_TITLE, plainText, titleWithMentions } from '../chat/mentionText';
import { shownText } from '../chat/plaintexts';
import type { Place } from '../chat/notify';
import { PROMPT_DISMISSED_KEY, shouldPrompt, toggleId } from '../chat/notifyControls';
import { findChannel, totalMentions } from '../app/cache';
import { useRealtime } from '../realtime/RealtimeProvider';
import type { IncomingMessage } from '../realtime/realtime';
import { useNotify } from './notices';

// ---------------------------------------------------------------------------------------------------------------
// Browser APIs

const notificationApi = (): typeof Notification | undefined =>
  typeof window !== 'undefined' && typeof window.Notification === 'function' ? window.Notification : undefined;

function currentPermission(): NotificationPermission | undefined {
  return notificationApi()?.permission;
}

/** The browser's notification permission, re-read when the tab regains focus (it can change in site settings). */
export function useNotificationPermission(): [NotificationPermission | undefined, () => Promise<void>] {
  const [perm, setPerm] = useState(currentPermission);
  useEffect(() => {
    const check = () => setPerm(currentPermission());
    window.addEventListener('focus', check);
    return () => window.removeEventListener('focus', check);
  }, []);
  const request = async () => {
    const N = notificationApi();
    if (!N) return;
    try {
      const r = await N.requestPermission();
      setPerm(r ?? currentPermission());
    } catch {
      setPerm(currentPermission());
    }
  };
  return [perm, request];
}

let audio: AudioContext | null = null;
let lastSound = 0;

/** Browsers start audio only after a user gesture: the context is made (or resumed) on the first click or key. */
function unlockAudio() {
  const AC = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!AC) return;
  try {
    audio ??= new AC();
    if (audio.state === 'suspended') void audio.resume().catch(() => undefined);
  } catch {
    audio = null;
  }
}

/** A short two-tone chime (WebAudio, no asset), at most one per second. */
export function playChime(now = Date.now()) {
  if (!audio || audio.state !== 'running' || now - lastSound < 1000) return;
  lastSound = now;
  const t = audio.currentTime;
  for (const [freq, at] of [
    [880, 0],
    [1320, 0.09],
  ] as const) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t + at);
    gain.gain.exponentialRampToValueAtTime(0.12, t + at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(t + at);
    osc.stop(t + at + 0.25);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The controller: title, notifications, sound

/** Mounted once inside the app shell. */
export function NotificationsController() {
  const rt = useRealtime();
  const qc = useQueryClient();
  const api = useApi();
  const { auth } = useServices();
  const [, navigate] = useLocation();
  useNotificationSettings(); // loads the settings the realtime decisions read from the cache

  const mentions = useSyncExternalStore(
    (f) => qc.getQueryCache().subscribe(f),
    () => totalMentions(qc),
  );
  useEffect(() => {
    document.title = titleWithMentions(mentions);
  }, [mentions]);
  useEffect(
    () => () => {
      document.title = APP_TITLE;
    },
    [],
  );

  useEffect(() => {
    const events = ['pointerdown', 'keydown'] as const;
    for (const ev of events) window.addEventListener(ev, unlockAudio, { passive: true });
    return () => {
      for (const ev of events) window.removeEventListener(ev, unlockAudio);
    };
  }, []);

  useEffect(() => {
    const userName = async (id: Id, fallback = 'Someone'): Promise<string> => {
      const me = auth.getSession()?.user;
      if (me?.id === id) return displayName(me);
      const cached = qc.getQueryData<User>(qk.user(id));
      if (cached) return displayName(cached);
      try {
        const u = await qc.fetchQuery({ queryKey: qk.user(id), queryFn: () => api.user(id), staleTime: 10 * 60_000 });
        return displayName(u);
      } catch {
        return fallback;
      }
    };
    const userNames = new Map<Id, string>();
    const names = {
      user: (id: Id) => userNames.get(id),
      channel: (id: Id) => {
        const c = findChannel(qc, id);
        return c?.type === 'text' ? c.name : undefined;
      },
    };
    const show = async ({ message: m, decision }: IncomingMessage) => {
      const N = notificationApi();
      if (!N || N.permission !== 'granted') return;
      // An encrypted DM message: the text this browser decrypted, or "Encrypted message" (never the ciphertext).
      const text = m.encrypted ? shownText(m) : m.content;
      const [sender] = await Promise.all([
        userName(m.senderId),
        ...[...new Set(text.match(/<@\d{1,20}>/g) ?? [])].slice(0, 20).map(async (token) => {
          const id = token.slice(2, -1);
          userNames.set(id, await userName(id, 'unknown-user'));
        }),
      ]);
      const channel = findChannel(qc, m.channelId);
      let title = sender;
      let path = `/channels/@me/${m.channelId}`;
      if (channel?.type === 'text') {
        const server =
          qc.getQueryData<Server>(qk.server(channel.serverId)) ??
          qc.getQueryData<ServersList>(qk.servers)?.servers.find((s) => s.id === channel.serverId);
        title = `${sender} (#${channel.name}${server ? `, ${server.name}` : ''})`;
        path = `/channels/${channel.serverId}/${channel.id}`;
      }
      try {
        const n = new N(title, {
          body: plainText(text, names),
          tag: `parley:${m.channelId}`,
          silent: decision.sound,
        });
        n.onclick = () => {
          window.focus();
          navigate(path);
          n.close();
        };
      } catch {
        /* some browsers allow notifications only from a service worker: nothing to show then */
      }
    };
    return rt.messages.onIncoming((e) => {
      if (e.decision.sound) playChime();
      if (e.decision.notify) void show(e);
    });
  }, [rt, qc, api, auth, navigate]);

  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// The permission prompt

const ENGAGED_AFTER_MS = 30_000;

function readDismissed(): boolean {
  try {
    return localStorage.getItem(PROMPT_DISMISSED_KEY) === 'dismissed';
  } catch {
    return false;
  }
}

/**
 * Asks for the notification permission from a visible bar with a button (browsers only grant it on a click), and
 * only once the user has been around for a moment (their first message, or half a minute). "Not now" is remembered.
 */
export function NotificationPrompt({ engagedAfterMs = ENGAGED_AFTER_MS }: { engagedAfterMs?: number }) {
  const settings = useNotificationSettings();
  const [perm, request] = useNotificationPermission();
  const [dismissed, setDismissed] = useState(readDismissed);
  const [engaged, setEngaged] = useState(false);

  useEffect(() => {
    if (engaged) return;
    const on = () => setEngaged(true);
    const t = setTimeout(on, engagedAfterMs);
    document.addEventListener('submit', on);
    return () => {
      clearTimeout(t);
      document.removeEventListener('submit', on);
    };
  }, [engaged, engagedAfterMs]);

  if (!shouldPrompt({ supported: !!notificationApi(), permission: perm, desktop: settings.desktop, dismissed, engaged })) {
    return null;
  }
  const dismiss = () => {
    try {
      localStorage.setItem(PROMPT_DISMISSED_KEY, 'dismissed');
    } catch {
      /* private mode: dismissed for this page only */
    }
    setDismissed(true);
  };
  return (
    <section className="notify-prompt" aria-label="Desktop notifications" data-testid="notify-prompt">
      <p className="small">Get a desktop notification when someone mentions you or sends you a direct message?</p>
      <div className="notify-prompt-actions">
        <button type="button" className="button small primary" onClick={() => void request()} data-testid="notify-prompt-enable">
          Enable
        </button>
        <button type="button" className="button small ghost" onClick={dismiss} data-testid="notify-prompt-dismiss">
          Not now
        </button>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

const DESKTOP: { value: DesktopNotify; label: string }[] = [
  { value: 'all', label: 'All messages' },
  { value: 'mentions', label: 'Mentions & DMs' },
  { value: 'none', label: 'Nothing' },
];

/** The "Notifications" section of the user menu. */
export function NotificationSettingsSection() {
  const settings = useNotificationSettings();
  const notify = useNotify();
  const save = useSaveSettings((e) => notify(`Couldn't save notification settings: ${errorMessage(e)}`, 'error'));
  const [perm, request] = useNotificationPermission();
  return (
    <div className="popover-section" data-testid="notification-settings">
      <div className="popover-title" id="notify-settings-title">
        Notifications
      </div>
      <div className="theme-switch notify-levels" role="radiogroup" aria-label="Desktop notifications" data-testid="notify-desktop">
        {DESKTOP.map((d) => (
          <button
            key={d.value}
            type="button"
            role="radio"
            aria-checked={settings.desktop === d.value}
            className={`segment${settings.desktop === d.value ? ' selected' : ''}`}
            onClick={() => save((s) => (s.desktop === d.value ? s : { ...s, desktop: d.value }))}
            data-testid={`notify-desktop-${d.value}`}
          >
            {d.label}
          </button>
        ))}
      </div>
      <label className="check-row">
        <input
          type="checkbox"
          checked={settings.notifySound}
          onChange={(e) => {
            const on = e.target.checked;
            save((s) => ({ ...s, notifySound: on }));
          }}
          data-testid="notify-sound"
        />
        <span>Play a sound</span>
      </label>
      {perm === 'default' && (
        <button type="button" className="button small wide" onClick={() => void request()} data-testid="notify-permission-button">
          Allow desktop notifications
        </button>
      )}
      {perm === 'denied' && <p className="small muted">Desktop notifications are blocked in this browser's site settings.</p>}
      {settings.mutedChannels.length + settings.mutedServers.length > 0 && (
        <p className="small muted" data-testid="muted-summary">
          Muted: {settings.mutedChannels.length} channel{settings.mutedChannels.length === 1 ? '' : 's'}, {settings.mutedServers.length}{' '}
          server{settings.mutedServers.length === 1 ? '' : 's'}.
        </p>
      )}
    </div>
  );
}

/** The bell in a channel header: mutes the channel (no unread badge or notification, except for mentions). */
export function MuteChannelButton({ channelId, place, name }: { channelId: Id; place: Place; name: string }) {
  const notify = useNotify();
  const settings = useNotificationSettings();
  const save = useSaveSettings((e) => notify(`Couldn't change the mute: ${errorMessage(e)}`, 'error'));
  const muted = useChannelMuted(channelId, place);
  const byServer = muted && !settings.mutedChannels.includes(channelId);
  const label = byServer ? `${name} is muted with its server` : muted ? `Unmute ${name}` : `Mute ${name}`;
  return (
    <button
      type="button"
      className={`icon-button mute-button${muted ? ' active' : ''}`}
      aria-label={label}
      title={label}
      aria-pressed={muted}
      disabled={byServer}
      onClick={() => save((s) => toggleId(s, 'mutedChannels', channelId, !s.mutedChannels.includes(channelId)))}
      data-testid="mute-channel-button"
      data-muted={muted ? 'true' : 'false'}
    >
      <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"
        />
        {muted && <path d="M3 3l18 18" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />}
      </svg>
    </button>
  );
}
